import { CategorizedError } from '../errors';
import { peakResidentSetMB, residentSetMB } from '../engine/process-memory';
import type {
  ClassifyCall,
  ClassifyRequest,
  ClassifyResult,
  JobStatus,
  LoadedModelView,
  StudyResult,
  StudyResultEvent,
} from '../pipeline';
import type {
  AnalyzeStudyOptions,
  ConfigActorView,
  ConfigUpdateView,
  DriftView,
  FailedJobView,
  FeedbackPageView,
  StatusView,
  StudyRefView,
  TriageBackend,
  TriageSubscription,
} from './backend';

/**
 * The study and admin half of the backend: what the Orthanc sidecar offers, already in the gRPC layer's views.
 * src/grpc/sidecar-operations.ts adapts the pipeline's Sidecar to it.
 */
export interface StudyOperations {
  analyzeStudy(ref: StudyRefView, options: AnalyzeStudyOptions & { wait: boolean }): Promise<StudyResult>;
  getStudyResult(ref: StudyRefView): Promise<StudyResult | null>;
  subscribeTriage(resumeAfterEventId: number | null, listener: (event: StudyResultEvent) => void): TriageSubscription;
  getConfig(): Promise<unknown>;
  configSources?(): Promise<unknown>;
  updateConfig(patch: Record<string, unknown>, options: { dryRun: boolean; actor?: ConfigActorView }): Promise<ConfigUpdateView>;
  /** Status without the models (the backend adds the classifier's). */
  status(): Promise<Omit<StatusView, 'models' | 'version' | 'uptimeSeconds' | 'residentSetMB' | 'peakResidentSetMB'>>;
  /** Reloads the engines; the backend then reports the classifier's view of them. */
  reloadModels(bundles: string[]): Promise<void>;
  listFailedJobs(limit: number): Promise<FailedJobView[]>;
  retryJob(jobId: string): Promise<{ jobId: string; state: JobStatus }>;
  exportFeedback?(pageToken: string, pageSize: number): Promise<FeedbackPageView>;
  drift?(): Promise<DriftView>;
}

export interface PipelineBackendOptions {
  classifier: ClassifyCall;
  /** The Orthanc sidecar; null runs classify-only (study and config calls answer FAILED_PRECONDITION). */
  studies: StudyOperations | null;
  /** orthanc-t3 version reported by GetStatus. */
  version: string;
  /** Clock for uptime (epoch ms at start). */
  startedAt?: number;
}

function withoutSidecar(what: string): CategorizedError {
  return new CategorizedError('failed-precondition', `${what} needs the Orthanc sidecar, and this server runs classify-only`);
}

/** TriageBackend over the engine classifier and, when present, the Orthanc sidecar. */
export class PipelineBackend implements TriageBackend {
  private readonly startedAt: number;

  constructor(private readonly options: PipelineBackendOptions) {
    this.startedAt = options.startedAt ?? Date.now();
  }

  private get studies(): StudyOperations | null {
    return this.options.studies;
  }

  classify(request: ClassifyRequest): Promise<ClassifyResult> {
    return this.options.classifier.classify(request);
  }

  bundleNames(): string[] {
    return this.options.classifier.bundleNames();
  }

  async analyzeStudy(ref: StudyRefView, options: AnalyzeStudyOptions): Promise<StudyResult> {
    if (!this.studies) throw withoutSidecar('AnalyzeStudy');
    return this.studies.analyzeStudy(ref, { ...options, wait: true });
  }

  async enqueueStudy(ref: StudyRefView, options: AnalyzeStudyOptions): Promise<StudyResult> {
    if (!this.studies) throw withoutSidecar('AnalyzeStudy');
    return this.studies.analyzeStudy(ref, { ...options, wait: false });
  }

  async getStudyResult(ref: StudyRefView): Promise<StudyResult | null> {
    if (!this.studies) throw withoutSidecar('GetStudyResult');
    return this.studies.getStudyResult(ref);
  }

  subscribeTriage(resumeAfterEventId: number | null, listener: (event: StudyResultEvent) => void): TriageSubscription {
    if (!this.studies) throw withoutSidecar('WatchTriage');
    return this.studies.subscribeTriage(resumeAfterEventId, listener);
  }

  async getConfig(): Promise<unknown> {
    if (!this.studies) throw withoutSidecar('GetConfig');
    return this.studies.getConfig();
  }

  async configSources(): Promise<unknown> {
    return this.studies?.configSources ? this.studies.configSources() : null;
  }

  async updateConfig(patch: Record<string, unknown>, options: { dryRun: boolean; actor?: ConfigActorView }): Promise<ConfigUpdateView> {
    if (!this.studies) throw withoutSidecar('UpdateConfig');
    return this.studies.updateConfig(patch, options);
  }

  async status(): Promise<StatusView> {
    const models = this.options.classifier.models();
    const base = {
      version: this.options.version,
      models,
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      residentSetMB: residentSetMB(),
      peakResidentSetMB: peakResidentSetMB(),
    };
    if (this.studies) return { ...(await this.studies.status()), ...base };
    return {
      ...base,
      executionProvider: models[0]?.executionProvider ?? '',
      queues: [],
      throughput: { windowSeconds: 0, imagesPerSecond: 0, studiesPerMinute: 0, imagesTotal: 0, studiesTotal: 0, failedTotal: 0 },
      jobs: null,
      follower: null,
      accepting: true,
    };
  }

  async reloadModels(bundles: string[]): Promise<LoadedModelView[]> {
    if (!this.studies) throw withoutSidecar('ReloadModels');
    await this.studies.reloadModels(bundles);
    return this.options.classifier.models();
  }

  async listFailedJobs(limit: number): Promise<FailedJobView[]> {
    if (!this.studies) throw withoutSidecar('ListFailedJobs');
    return this.studies.listFailedJobs(limit);
  }

  async retryJob(jobId: string): Promise<{ jobId: string; state: JobStatus }> {
    if (!this.studies) throw withoutSidecar('RetryJob');
    return this.studies.retryJob(jobId);
  }

  async exportFeedback(pageToken: string, pageSize: number): Promise<FeedbackPageView> {
    if (!this.studies?.exportFeedback) throw withoutSidecar('ExportFeedback');
    return this.studies.exportFeedback(pageToken, pageSize);
  }

  async drift(): Promise<DriftView> {
    if (!this.studies?.drift) throw withoutSidecar('GetDrift');
    return this.studies.drift();
  }
}
