export { OrthancClient, OrthancError, type OrthancConnection, type ChangesPage, type ChangeEntry, type StoreResult } from './orthanc-client';
export { CheckpointStore, CheckpointError, type Checkpoint } from './checkpoint-store';
export { ChangeFollower, type FollowerHooks, type FollowerOptions, type FollowerState } from './change-follower';
export { OrthancStudyStore } from './orthanc-study-store';
export { StudyClaims, HeldStudyClaim, ClaimsUnsupportedError, CLAIM_METADATA, parseClaimRecord, type ClaimRecord, type ClaimAttempt, type StudyClaimsOptions } from './study-claims';
export { QuietStudyWatcher, parseOrthancTimestamp, type QuietWatcherOptions, type ClaimedStudyHandler } from './quiet-study-watcher';
export { startOrthancSidecar, effectiveWorkerId, type OrthancSidecar, type OrthancSidecarConfig } from './sidecar-service';
export { TRIAGE_METADATA, readTriageMetadata, type TriageMetadataKey } from './triage-metadata';
export { orthancDecodedInstance, parsePam, PamError, type PamImage } from './orthanc-decoded-file';
