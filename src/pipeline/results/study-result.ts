import type { LambdaEstimateRecord, PolicyName } from '../../t3';
import type { RankedFinding, TriageDecision } from '../../report';

/** Lifecycle of a study job (proto t3.v1.JobState). The one list; config, Orthanc metadata and gRPC import it. */
export const JOB_STATUSES = Object.freeze(['queued', 'running', 'done', 'failed', 'parked'] as const);
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Scheduling lane: stat work is always served before routine work. */
export const RUN_PRIORITIES = Object.freeze(['stat', 'routine'] as const);
export type RunPriority = (typeof RUN_PRIORITIES)[number];

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

/**
 * One classified image (one frame of one object): everything the SR, the triage decision, the study result and the
 * gRPC API say about it. Built in one place (compose-study-result.ts) from the classifier's outcomes; the other layers
 * read it and restate nothing.
 */
export interface StudyImagePrediction {
  /** 0-based position of its object among the inputs: the study's instance list (sorted by Orthanc id), or the call's images. */
  index: number;
  /** What the input is called: the Orthanc instance id for a study in Orthanc, the caller's name in Classify. */
  name: string;
  /** 1-based frame number; 0 for a single-frame instance. */
  frameNumber: number;
  sopInstanceUid: string;
  sopClassUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  modality: string;
  /** All classes of the bundle, most probable first. */
  predictions: RankedFinding[];
  /** JS divergence of the two models' outputs; null under one-model policies (generalist, expert, wise). */
  js: number | null;
  /** T3's λ(x) from the JS divergence; the pass's fixed λ under one-model policies. */
  lambda: number;
  /** λ'(x) after the extrapolation guard. */
  lambdaFinal: number;
  /** λ of the merged pass that produced the predictions; null for the output ensemble. */
  appliedLambda: number | null;
  /** Entropies (nats) of the temperature-scaled outputs; null where the policy did not run that model. */
  entropyGeneralist: number | null;
  entropyExpert: number | null;
  extrapolationTriggered: boolean;
  batchId: string;
  /** λ_B of the batch (t3b); null for policies without one batch-wide merged pass. */
  batchLambda: number | null;
  /** Frames in the batch (under cross-study batching it also counts other studies' images). */
  batchSize: number;
  /**
   * T3B with λ_B from a sample (batching.coefficientSample): true when this image's fixed passes ran and entered λ_B,
   * false when only the merged pass ran on it (then js and the entropies are null and λ = λ' = λ_B); null when λ_B
   * came from every image of the batch or the policy has none.
   */
  coefficientSampled: boolean | null;
}

/** One inference batch the images went through, in the order the images first met it. */
export interface BatchSummary {
  batchId: string;
  batchLambda: number | null;
  size: number;
  /** Images of the batch whose fixed passes gave λ_B when it came from a sample; null when every image's did. */
  coefficientSampleSize: number | null;
  /**
   * How λ_B was estimated when an estimator of the bundle's t3.estimators ran (sequential sampling or series reuse:
   * images sampled, outcome, confidence, the batch reused from); absent for full T3B.
   */
  lambdaEstimate?: LambdaEstimateRecord;
  /**
   * Precision of the fixed passes that estimated λ: "int8" when they ran on quantized copies of the two models
   * (bundle t3.estimationPrecision; the merged pass is full precision), "float32" otherwise; absent without fixed passes.
   */
  estimationPrecision?: 'float32' | 'int8';
}

/** An input that could not be used; non-image objects (SR, KOS…) are not listed in study results. */
export interface StudyImageFailure {
  index: number;
  /** As StudyImagePrediction.name. */
  name: string;
  /** DicomError code or the pipeline's own ('no-route', 'fetch-failed', 'inference-failed', 'decode-failed', 'cancelled'). */
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

/**
 * A result with nothing in it yet: a job that is queued (or failed before it classified anything). The one place a
 * StudyResult is started from; the job runner and the gRPC "accepted, result follows" answer both use it.
 */
export function queuedStudyResult(fields: {
  orthancStudyId: string;
  studyInstanceUid: string;
  policy: PolicyName;
  runPriority: RunPriority;
  jobId?: string;
  status?: JobStatus;
  error?: string | null;
  attempts?: number;
  queuedAt?: Date;
  startedAt?: Date | null;
  finishedAt?: Date | null;
}): StudyResult {
  const queuedAt = fields.queuedAt ?? new Date();
  const startedAt = fields.startedAt ?? null;
  const finishedAt = fields.finishedAt ?? null;
  return {
    jobId: fields.jobId ?? '',
    orthancStudyId: fields.orthancStudyId,
    studyInstanceUid: fields.studyInstanceUid,
    status: fields.status ?? 'queued',
    error: fields.error ?? null,
    runPriority: fields.runPriority,
    triage: null,
    images: [],
    failedImages: [],
    batchLambdas: [],
    modalities: [],
    bundle: null,
    policy: fields.policy,
    inputSetHash: null,
    sr: null,
    timings: {
      queuedAt: queuedAt.toISOString(),
      startedAt: startedAt?.toISOString() ?? null,
      finishedAt: finishedAt?.toISOString() ?? null,
      loadMs: 0,
      inferMs: 0,
      writeMs: 0,
      totalMs: startedAt && finishedAt ? finishedAt.getTime() - startedAt.getTime() : 0,
    },
    attempts: fields.attempts ?? 0,
  };
}
