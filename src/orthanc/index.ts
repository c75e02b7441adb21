export { OrthancClient } from './orthanc-client';
export { CheckpointStore } from './checkpoint-store';
export { ChangeFollower } from './change-follower';
export { OrthancStudyStore } from './orthanc-study-store';
export { StudyClaims, ClaimsUnsupportedError, CLAIM_METADATA } from './study-claims';
export { parseOrthancTimestamp } from './quiet-study-watcher';
export { startOrthancSidecar } from './sidecar-service';
export { TRIAGE_METADATA } from './triage-metadata';
