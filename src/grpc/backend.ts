/**
 * What the gRPC services need from the rest of the sidecar. The services translate protobuf messages to these plain
 * objects and back; everything behind this interface (engines, the Orthanc sidecar) is wired in by whoever starts
 * the server, so tests of auth, TLS and limits run the real server over the real classify path.
 *
 * The shapes mirror proto/t3/v1/*.proto field by field (see the comments there for meanings); `null` stands for an
 * absent optional field.
 */

export type RoleName = 'triage' | 'admin';
export const ROLE_NAMES: readonly RoleName[] = ['triage', 'admin'];

export type PolicyChoice = 'generalist' | 'expert' | 'wise' | 'ensemble' | 'dawin' | 't3' | 't3b';
/** 'first' | 'middle' | 'all' or a 0-based frame index. */
export type FrameChoice = 'first' | 'middle' | 'all' | number;
export type PriorityName = 'emergency' | 'urgent' | 'routine';
export type RunLane = 'stat' | 'routine';
export type JobStateName = 'queued' | 'running' | 'done' | 'failed' | 'parked';

/** One image of a Classify call as DICOM Part 10 bytes (raw pixel arrays are wrapped into DICOM before this). */
export interface ClassifyImage {
  name: string;
  bytes: Uint8Array;
}

export interface ClassifyCall {
  images: ClassifyImage[];
  /** Bundle name; null for the default bundle. */
  bundle: string | null;
  /** null for the server's default policy. */
  policy: PolicyChoice | null;
  /** α of the wise policy; null for the default. */
  wiseAlpha: number | null;
  /** null for the server's default frame policy. */
  frames: FrameChoice | null;
  includeSr: boolean;
  /** Aborted when the client cancels or its deadline passes: work not yet started is dropped. */
  signal: AbortSignal;
}

export interface PredictionView {
  label: string;
  code: string;
  scheme: string;
  meaning: string;
  probability: number;
}

export interface ModelIdentityView {
  name: string;
  version: string;
  sha256: string;
}

export interface BundleIdentityView {
  name: string;
  version: string;
  generalist: ModelIdentityView;
  expert: ModelIdentityView;
}

export interface ImageResultView {
  index: number;
  name: string;
  /** 1-based frame number; 0 for a single-frame instance. */
  frameNumber: number;
  sopInstanceUid: string;
  sopClassUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  modality: string;
  /** Most probable first. */
  predictions: PredictionView[];
  js: number;
  lambda: number;
  lambdaFinal: number;
  appliedLambda: number | null;
  entropyGeneralist: number | null;
  entropyExpert: number | null;
  batchId: string;
  batchLambda: number | null;
  batchSize: number;
}

export interface ImageFailureView {
  index: number;
  name: string;
  /** DicomError code or the pipeline's own (e.g. 'not-an-image', 'inference-failed', 'cancelled'). */
  code: string;
  message: string;
}

export interface TriageRuleView {
  code: string;
  threshold: number;
  priority: PriorityName;
}

export interface TriageDecisionView {
  priority: PriorityName;
  firedRule: TriageRuleView | null;
  needsHumanReview: boolean;
  reviewReason: string | null;
}

export interface BatchSummaryView {
  batchId: string;
  batchLambda: number | null;
  size: number;
}

export interface ClassifyOutput {
  bundle: BundleIdentityView;
  policy: PolicyChoice;
  batches: BatchSummaryView[];
  /** Results of the usable images, in request order (one per frame). */
  images: ImageResultView[];
  /** Images that could not be used, in request order. */
  failures: ImageFailureView[];
  /** Decision over the classified images; null when none was classified. */
  triage: TriageDecisionView | null;
  /** The SR when includeSr was set and at least one image was classified. */
  sr: { bytes: Uint8Array; sopInstanceUid: string } | null;
  executionProvider: string;
  durationMs: number;
}

export interface AnalyzeStudyOptions {
  priority: RunLane;
  writeBack: boolean;
  /** Run again even when a result exists for the same input set. */
  force: boolean;
}

/** A study in Orthanc, by exactly one of its ids. */
export type StudyRefView = { orthancStudyId: string } | { studyInstanceUid: string };

export interface StudyResultView {
  orthancStudyId: string;
  studyInstanceUid: string;
  state: JobStateName;
  error: string | null;
  triage: TriageDecisionView | null;
  images: ImageResultView[];
  failedImages: ImageFailureView[];
  batchLambdas: number[];
  modalities: string[];
  bundle: BundleIdentityView | null;
  policy: PolicyChoice | null;
  srOrthancInstanceId: string | null;
  srSopInstanceUid: string | null;
  /** Epoch milliseconds; null while not reached. */
  queuedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  attempts: number;
}

export interface TriageEventView {
  eventId: number;
  result: StudyResultView;
}

/** What a WatchTriage subscription starts with: the held events after the resume point, then live ones. */
export interface TriageSubscription {
  /** Held events with an id greater than the resume point, oldest first (empty without a resume point). */
  replay: TriageEventView[];
  /** True when events after the resume point already left the bounded history. */
  historyGap: boolean;
  unsubscribe(): void;
}

export interface QueueStatusView {
  bundle: string;
  lane: string;
  depth: number;
  capacity: number;
  inFlight: number;
}

export interface ModelStatusView {
  bundle: BundleIdentityView;
  executionProvider: string;
  /** Epoch milliseconds. */
  loadedAt: number;
  modalities: string[];
}

export interface StatusView {
  version: string;
  executionProvider: string;
  queues: QueueStatusView[];
  throughput: {
    windowSeconds: number;
    imagesPerSecond: number;
    studiesPerMinute: number;
    imagesTotal: number;
    studiesTotal: number;
    failedTotal: number;
  };
  models: ModelStatusView[];
  uptimeSeconds: number;
  jobs: { queued: number; running: number; failed: number; parked: number; done: number } | null;
  follower: { orthancUrl: string; checkpoint: number; connected: boolean; lastError: string | null; paused: boolean } | null;
}

export interface ConfigUpdateView {
  applied: boolean;
  /** The resulting configuration (secrets redacted). */
  config: unknown;
  changedKeys: string[];
  /** Top-level sections the patch changes that the running sidecar does not apply (a restart with new files does). */
  restartRequired: string[];
}

export interface FailedJobView {
  jobId: string;
  orthancStudyId: string;
  studyInstanceUid: string;
  state: 'failed' | 'parked';
  reason: string;
  attempts: number;
  /** Epoch milliseconds; null when unknown. */
  lastAttemptAt: number | null;
  nextAttemptAt: number | null;
}

/**
 * Everything the TriageService and AdminService call. Methods that need the Orthanc sidecar throw
 * `BackendError('failed-precondition', …)` when the server runs classify-only; errors of other modules
 * (DicomError, T3InputError, BundleError, ConfigError, ReportError) may be thrown as they are: the services map
 * them to status codes (src/grpc/status-mapping.ts).
 */
export interface TriageBackend {
  classify(call: ClassifyCall): Promise<ClassifyOutput>;
  /** Names of the bundles Classify accepts, the default first. */
  bundleNames(): string[];

  analyzeStudy(ref: StudyRefView, options: AnalyzeStudyOptions): Promise<StudyResultView>;
  /** Accepts the study for analysis and returns at once (state queued); the result comes via events. */
  enqueueStudy(ref: StudyRefView, options: AnalyzeStudyOptions): Promise<StudyResultView>;
  /** null when the study was never analysed. */
  getStudyResult(ref: StudyRefView): Promise<StudyResultView | null>;
  subscribeTriage(resumeAfterEventId: number | null, listener: (event: TriageEventView) => void): TriageSubscription;

  /** The effective configuration, secrets redacted. */
  getConfig(): Promise<unknown>;
  updateConfig(patch: Record<string, unknown>, options: { dryRun: boolean }): Promise<ConfigUpdateView>;
  status(): Promise<StatusView>;
  /** Reloads the named bundles (all when empty) and returns the models now loaded. */
  reloadModels(bundles: string[]): Promise<ModelStatusView[]>;
  listFailedJobs(limit: number): Promise<FailedJobView[]>;
  retryJob(jobId: string): Promise<{ jobId: string; state: JobStateName }>;
}

export type BackendErrorKind = 'invalid-argument' | 'not-found' | 'failed-precondition' | 'unavailable' | 'resource-exhausted';

/** An error a backend raises on purpose, with the status it should reach the client as. */
export class BackendError extends Error {
  readonly kind: BackendErrorKind;
  constructor(kind: BackendErrorKind, message: string) {
    super(message);
    this.name = 'BackendError';
    this.kind = kind;
  }
}
