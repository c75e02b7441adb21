import type {
  ClassifyRequest,
  ClassifyResult,
  JobStatus,
  LoadedModelView,
  RunPriority,
  StudyResult,
  StudyResultEvent,
} from '../pipeline';
import type { DriftView } from '../orthanc/drift-monitor';
import type { FeedbackPageView } from '../orthanc/feedback-export';

export type { DriftView, FeedbackPageView };

/**
 * What the gRPC services need from the rest of the sidecar. Results are the pipeline's own types
 * (src/pipeline/results/study-result.ts); proto-messages.ts maps them onto proto/t3/v1 in one place. Everything behind this
 * interface (engines, the Orthanc sidecar) is wired in by whoever starts the server, so tests of auth, TLS and
 * limits run the real server over the real classify path. `null` stands for an absent optional field.
 */

export type RoleName = 'triage' | 'admin';
export const ROLE_NAMES: readonly RoleName[] = ['triage', 'admin'];

/** A study in Orthanc, by exactly one of its ids. */
export type StudyRefView = { orthancStudyId: string } | { studyInstanceUid: string };

export interface AnalyzeStudyOptions {
  priority: RunPriority;
  writeBack: boolean;
  /** Run again even when a result exists for the same input set. */
  force: boolean;
}

/** What a WatchTriage subscription starts with: the held events after the resume point, then live ones. */
export interface TriageSubscription {
  /** Held events with an id greater than the resume point, oldest first (empty without a resume point). */
  replay: StudyResultEvent[];
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
  models: LoadedModelView[];
  uptimeSeconds: number;
  jobs: Record<JobStatus, number> | null;
  follower: { orthancUrl: string; checkpoint: number; connected: boolean; lastError: string | null; paused: boolean } | null;
  /** Resident set size of this process now and its peak, MiB. */
  residentSetMB: number;
  peakResidentSetMB: number;
  /** Taking work: false while starting or draining (the worklist warns that the AI is not working). */
  accepting: boolean;
}

/** Who asked for a configuration change (call-handlers.ts CallerView). */
export interface ConfigActorView {
  tokenId: string | null;
  orthancUser?: string;
  remoteAddress?: string;
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
  state: Extract<JobStatus, 'failed' | 'parked'>;
  reason: string;
  attempts: number;
  /** Epoch milliseconds; null when unknown. */
  lastAttemptAt: number | null;
  nextAttemptAt: number | null;
}

/**
 * Everything the TriageService and AdminService call. Errors carry their category (src/errors): a study Orthanc does
 * not have is 'not-found', a classify-only server answers 'failed-precondition' to study calls, and so on; the
 * services map categories to status codes (src/grpc/status-mapping.ts).
 */
export interface TriageBackend {
  classify(request: ClassifyRequest): Promise<ClassifyResult>;
  /** Names of the bundles Classify accepts, the default first. */
  bundleNames(): string[];

  analyzeStudy(ref: StudyRefView, options: AnalyzeStudyOptions): Promise<StudyResult>;
  /** Accepts the study for analysis and returns at once (state queued); the result comes via events. */
  enqueueStudy(ref: StudyRefView, options: AnalyzeStudyOptions): Promise<StudyResult>;
  /** null when the study was never analysed. */
  getStudyResult(ref: StudyRefView): Promise<StudyResult | null>;
  subscribeTriage(resumeAfterEventId: number | null, listener: (event: StudyResultEvent) => void): TriageSubscription;

  /** The effective configuration, secrets redacted. */
  getConfig(): Promise<unknown>;
  /** Where each value comes from and the live changes kept ({values, live}); null when not known. */
  configSources?(): Promise<unknown>;
  updateConfig(patch: Record<string, unknown>, options: { dryRun: boolean; actor?: ConfigActorView }): Promise<ConfigUpdateView>;
  status(): Promise<StatusView>;
  /** Reloads the named bundles (all when empty) and returns the models now loaded. */
  reloadModels(bundles: string[]): Promise<LoadedModelView[]>;
  listFailedJobs(limit: number): Promise<FailedJobView[]>;
  retryJob(jobId: string): Promise<{ jobId: string; state: JobStatus }>;
  /** One page of the radiologists' feedback (ExportFeedback); absent: FAILED_PRECONDITION. */
  exportFeedback?(pageToken: string, pageSize: number): Promise<FeedbackPageView>;
  /** The drift monitor's series and verdicts (GetDrift); absent: FAILED_PRECONDITION. */
  drift?(): Promise<DriftView>;
}
