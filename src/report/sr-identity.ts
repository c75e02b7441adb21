import { imageKey } from './algorithm-parameters';
import type { AlgorithmRecord, ImageResult } from './types';
import type { TriageDecision } from './triage';
import { deriveUid } from './uids';

/** The UIDs of one AI-result SR: its series and instance, and the device (the algorithm) that made it. */
export interface SrUids { seriesInstanceUid: string; sopInstanceUid: string; deviceUid: string; }

/** The identity that decides the SR's UIDs: study, the set of input images (frames), model identity and parameters. */
function algorithmIdentity(algorithm: AlgorithmRecord): unknown {
  return {
    name: algorithm.name, version: algorithm.version, method: algorithm.method, batchSize: algorithm.batchSize,
    hyperparameters: algorithm.hyperparameters, models: algorithm.models,
  };
}

/**
 * Deterministic UIDs (2.25 form): series and instance from (study, sorted input SOP instances + frames, algorithm
 * identity, triage decision); the device UID from the algorithm identity only, so it changes exactly when a model or
 * a parameter does. Batch λ values and probabilities are results, not identity: they do not enter. The decision does,
 * so a re-run under changed triage rules that decides differently is a new SR version rather than a silent
 * "AlreadyStored" that would leave the old priority in the PACS; the same decision again is still a no-op.
 */
export function deriveSrUids(studyInstanceUid: string, images: Pick<ImageResult, 'sopInstanceUid' | 'frameNumber'>[],
  algorithm: AlgorithmRecord, triage: TriageDecision, rerun?: string): SrUids {
  const inputs = [...new Set(images.map(imageKey))].sort();
  const decision = { priority: triage.priority, needsHumanReview: triage.needsHumanReview, firedRule: triage.firedRule };
  // An explicit re-run is an analysis of its own: its id makes a new SR (the replays of one re-run share it).
  const identity = { study: studyInstanceUid, inputs, algorithm: algorithmIdentity(algorithm), decision, ...(rerun ? { rerun } : {}) };
  return {
    seriesInstanceUid: deriveUid('sr-series', identity),
    sopInstanceUid: deriveUid('sr-instance', identity),
    deviceUid: deriveUid('device', algorithmIdentity(algorithm)),
  };
}
