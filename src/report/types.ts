import type { T3Hyperparameters } from '../t3/hyperparameters';
import type { PolicyName } from '../t3/policy';
import type { LambdaEstimateRecord } from '../t3/sequential-lambda-estimation';
import type { TriageDecision, TriagePriority } from './triage';

/** A coded concept. `value` longer than 16 characters is written as LongCodeValue (SR.md). */
export interface LabelCode { value: string; scheme: string; meaning: string; }

/** One class of the model with its probability in [0,1]. */
export interface RankedFinding { label: string; code: LabelCode; probability: number; }

/** The result for one input image (one frame of it when `frameNumber` is set, 1-based). */
export interface ImageResult {
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  modality: string;
  frameNumber?: number;
  predictions: RankedFinding[];
  /** JS divergence of the two models' outputs; null when the policy ran one model (generalist, expert, wise). */
  js: number | null;
  lambda: number;
  /** T3B with λ_B from a coefficient sample: whether this image was in it (absent when λ_B came from every image). */
  coefficientSampled?: boolean;
  /**
   * Study of the source image, when the caller knows it. It is checked against the source header's
   * StudyInstanceUID: results from two studies never go into one SR (buildAiResultSr throws ReportError).
   */
  studyInstanceUid?: string;
}

export interface ModelIdentity { name: string; version: string; sha256: string; }

export interface AlgorithmRecord {
  name: string;
  version: string;
  method: PolicyName;
  /** λ_B of every batch the study's images went through (a large study spans several batches). */
  batchLambdas: number[];
  /**
   * Parallel to batchLambdas, when some λ_B came from a coefficient sample (batching.coefficientSample): how many
   * images of that batch gave it (null: all of them). Absent under the paper's T3B.
   */
  batchSampleSizes?: (number | null)[];
  /**
   * Parallel to batchLambdas, when some λ_B came from an estimator of the bundle's t3.estimators (sequential sampling,
   * series reuse): how (null: full T3B for that batch). Absent when none did.
   */
  batchEstimates?: (LambdaEstimateRecord | null)[];
  /**
   * Parallel to batchLambdas, when some λ_B came from int8 estimation passes (bundle t3.estimationPrecision): the
   * precision of each batch's fixed passes. Absent when every one was float32.
   */
  batchPrecisions?: ('float32' | 'int8')[];
  batchSize: number;
  hyperparameters: T3Hyperparameters;
  models: { generalist: ModelIdentity; expert: ModelIdentity };
  /** The bundle declares itself a demonstration model: the SR's algorithm description says so. */
  demonstration?: boolean;
  /**
   * The sidecar's identity of the analysed input set, written into the SR itself so that an SR stored just before a
   * crash (before the archive recorded it) is still recognised as the result of those inputs.
   */
  inputSetHash?: string;
}

export interface SrReference { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string; sopClassUid: string; }

export interface SrInput {
  /** DicomInstanceInfo.header of any source image: naturalized dcmjs dataset (patient and study modules are copied). */
  sourceHeader: Record<string, unknown>;
  images: ImageResult[];
  /** Results that belong to the study as a whole (no source image). */
  studyFindings?: RankedFinding[];
  algorithm: AlgorithmRecord;
  triage: TriageDecision;
  /** The previous AI-result SR of this study, referenced in the Predecessor Documents Sequence. */
  predecessor?: SrReference;
  /**
   * An explicit re-run's id (when it was asked for, ISO 8601). It enters the SR's UIDs, so a re-run writes a new SR
   * that supersedes the previous one even when it decides the same; it is recorded as the parameter `rerun`.
   */
  rerun?: string;
  /** Content date/time of the SR; pass it to get byte-identical output for identical input. Defaults to now. */
  contentDateTime?: Date;
}

export interface BuiltSr {
  bytes: Uint8Array;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  deviceUid: string;
  /** Copied source attributes the SR holds changed or left out to conform to their VR (names, never values). */
  adjustedSourceAttributes: string[];
  /** Identity attributes (PatientID) copied unchanged although they break their VR. */
  nonConformantSourceAttributes: string[];
}

/** A referenced source image (frame) as read back from the SR. */
export interface ParsedImageReference { sopClassUid: string; sopInstanceUid: string; frameNumber?: number; }

export interface ParsedFindingGroup {
  trackingIdentifier: string;
  trackingUid: string;
  code: LabelCode;
  /** Certainty of Finding divided by 100, i.e. the probability in [0,1]. */
  probability: number;
  /** null for a study-level finding. */
  image: ParsedImageReference | null;
}

export interface ParsedAiResult {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  patientId: string;
  deviceUid: string;
  contributingDeviceUid: string;
  algorithmName: string;
  algorithmVersion: string;
  /** Algorithm Parameters texts as key → value ("method=t3b" → { method: "t3b" }). */
  parameters: Record<string, string>;
  method: string;
  /** The algorithm description says it is a demonstration model (parameter `demonstration=true`). */
  demonstration: boolean;
  batchLambdas: number[];
  /**
   * Per image, keyed by `<sopInstanceUid>` or `<sopInstanceUid>#<frame>`: λ, and the JS divergence (null when the SR
   * records none: one-model policies).
   */
  imageCoefficients: Record<string, { lambda: number; js: number | null }>;
  /**
   * When some λ_B came from a coefficient sample: per batch (as batchLambdas) how many images gave it (null: all),
   * and the keys (as imageCoefficients) of the images that were in a sample. null under the paper's T3B.
   */
  coefficientSample: { batchSampleSizes: (number | null)[]; sampledImages: string[] } | null;
  /** Per batch (as batchLambdas), the `lambdaEstimate[i]` record when an estimator gave that λ_B, else null; empty when none did. */
  lambdaEstimates: (LambdaEstimateRecord | null)[];
  imageLibrary: ParsedImageReference[];
  groups: ParsedFindingGroup[];
  priority: TriagePriority;
  needsHumanReview: boolean;
  reviewReason: string | null;
  /** Why the study has its priority (the fired rule in words); null when the SR gives none. */
  priorityReason: string | null;
  evidence: { studyInstanceUid: string; seriesInstanceUid: string; sopClassUid: string; sopInstanceUid: string }[];
  predecessor: SrReference | null;
  specificCharacterSet: string | null;
}
