import type { PolicyName } from '../t3';
import type { RankedFinding, TriageDecision } from '../report';

/** Lifecycle of a study job (proto t3.v1.JobState). */
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'parked';

/** Scheduling lane: stat work is always served before routine work. */
export type RunPriority = 'stat' | 'routine';

export interface ModelIdentityRecord {
  name: string;
  version: string;
  sha256: string;
}

export interface BundleIdentityRecord {
  name: string;
  version: string;
  generalist: ModelIdentityRecord;
  expert: ModelIdentityRecord;
}

/** One classified image (one frame of one instance). */
export interface StudyImagePrediction {
  /** 0-based position in the study's instance list (sorted by Orthanc instance id). */
  index: number;
  orthancInstanceId: string;
  /** 1-based frame number; 0 for a single-frame instance. */
  frameNumber: number;
  sopInstanceUid: string;
  sopClassUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  modality: string;
  /** All classes of the bundle, most probable first. */
  predictions: RankedFinding[];
  js: number;
  lambda: number;
  lambdaFinal: number;
  appliedLambda: number | null;
  entropyGeneralist: number;
  entropyExpert: number;
  extrapolationTriggered: boolean;
  batchId: string;
}

/** An instance of the study that could not be used; non-image objects (SR, KOS…) are not listed. */
export interface StudyImageFailure {
  index: number;
  orthancInstanceId: string;
  /** DicomError code or the sidecar's own ('fetch-failed', 'inference-failed', 'decode-failed'). */
  code: string;
  message: string;
}

export interface SrRecord {
  orthancInstanceId: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  /** SOPInstanceUID of the SR this one supersedes (late images), or null. */
  predecessorSopInstanceUid: string | null;
  /** True when the SR already existed in Orthanc for this input set and was adopted instead of written again. */
  reused: boolean;
}

export interface StudyTimings {
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Fetching the instances from Orthanc. */
  loadMs: number;
  /** Decoding + inference of the study's images. */
  inferMs: number;
  /** Building and storing the SR and the metadata. */
  writeMs: number;
  /** When the SR was stored (before the study's metadata says done); absent when no SR was written. */
  srStoredAt?: string | null;
  /** startedAt → finishedAt. */
  totalMs: number;
}

/** The result of analysing one study: a plain object (JSON-safe) that the gRPC layer maps onto t3.v1.StudyResult. */
export interface StudyResult {
  jobId: string;
  orthancStudyId: string;
  studyInstanceUid: string;
  status: JobStatus;
  /** Why the job failed or was parked; null otherwise. */
  error: string | null;
  runPriority: RunPriority;
  /** Triage decision; null until done (or when no image could be classified). */
  triage: TriageDecision | null;
  images: StudyImagePrediction[];
  failedImages: StudyImageFailure[];
  /** λ_B of every merged batch the study's images went through, in batch order. */
  batchLambdas: number[];
  modalities: string[];
  bundle: BundleIdentityRecord | null;
  policy: PolicyName;
  /** Hash of the study's input set (image instances) and the model identity: one SR per value. */
  inputSetHash: string | null;
  sr: SrRecord | null;
  timings: StudyTimings;
  attempts: number;
}

/** A finished StudyResult as published on the Sidecar's event stream. */
export interface StudyResultEvent {
  /** Strictly increasing for the life of the process; clients resume with `since`. */
  eventId: number;
  result: StudyResult;
}
