import { loadBundle, T3Engine, demoBundleDir, type ModelBundle, type ExecutionProviderName } from '../engine';
import { decideTriage, deriveSrUids, type BuiltSr, type ImageResult, type SrReference, type AlgorithmRecord } from '../report';
import { defaultPolicyConfig, type PolicyConfig } from '../t3';
import { nonImageKind } from '../dicom/sop-classes';
import { QueueFullError, T3bBatcher } from './batcher';
import { classifyImages, type ClassifyInput } from './classify-images';
import { classifyWithFixedPasses, FIXED_PASS_POLICIES, type FixedPassInput } from './classify-fixed-passes';
import { FixedPassCache, fixedPassKey, type FixedPassEntry } from './fixed-pass-cache';
import { SpeculativePasses } from './speculative-passes';
import { sharedSrBuilder } from './sr-builder';
import { inputSetHash } from './input-set';
import { JobTable, type Job } from './job-state';
import type { PipelineConfig } from './pipeline-config';
import { PipelineMetrics } from './metrics';
import { ResultFeed } from './result-feed';
import { retryDelayMs, shouldPark } from './retry-policy';
import { chooseBundle } from './routing';
import type { BundleIdentityRecord, RunPriority, StudyImageFailure, StudyImagePrediction, StudyResult } from './study-result';
import { ClaimLostError, type StudyClaim } from './study-claim';
import { StudyNotFoundError, type StudyInstance, type StudyRef, type StudySnapshot, type StudyStore } from './study-store';

export interface AnalyzeOptions {
  priority: RunPriority;
  writeBack: boolean;
  /** Analyse again even when a result exists for the same input set (the administrator's re-run). */
  force?: boolean;
  /** Shared mode: the claim this run holds; every write is preceded by confirming it. */
  claim?: StudyClaim;
}

export interface LoadedModel {
  name: string;
  dir: string;
  bundle: ModelBundle;
  engine: T3Engine;
  batcher: T3bBatcher;
  /** Identity of this load's logits (bundle, model hashes, input spec, load generation): the fixed-pass cache key. */
  identity: string;
}

export interface SidecarStatus {
  version: string;
  startedAt: string;
  executionProviders: Record<string, ExecutionProviderName>;
  models: { name: string; bundle: string; version: string; dir: string; executionProvider: ExecutionProviderName }[];
  jobs: Record<'queued' | 'running' | 'done' | 'failed' | 'parked', number>;
  queues: { bundle: string; stat: number; routine: number; queuedImages: number; running: boolean }[];
  throughput: { studiesDone: number; studiesFailed: number; imagesClassified: number; imagesPerSecond: number; uptimeS: number };
  accepting: boolean;
}

export interface ConfigUpdate<C> {
  config: C;
  applied: boolean;
  /** Top-level sections that changed but were not applied: they take effect after a restart. */
  restartRequired: string[];
}

export type SidecarLog = (event: string, fields: Record<string, unknown>) => void;

export interface SidecarOptions<C extends PipelineConfig> {
  config: C;
  /** config/'s validator, passed in (pipeline/ does not import config/); throws an error naming the bad key. */
  validateConfig: (raw: unknown) => C;
  store: StudyStore;
  version: string;
  log?: SidecarLog;
}

/** Sections a running Sidecar applies at once. */
const LIVE_SECTIONS = ['bundles', 'routing', 'batching', 'inference', 'triage', 'retry'];

function mergeDeep(base: unknown, overlay: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(base) || !isObj(overlay)) return overlay === undefined ? base : overlay;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overlay)) out[k] = mergeDeep(base[k], v);
  return out;
}

/** A short label for a failure, for metrics (an error code or class name, never the message). */
function failureReason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[a-z0-9-]+$/i.test(code)) return code;
  if (err instanceof Error && err.name !== 'Error') return err.name;
  return 'error';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private limit: number) {}
  setLimit(n: number): void {
    this.limit = n;
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!();
    }
  }
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.setLimit(this.limit);
    }
  }
  get pending(): number {
    return this.waiting.length;
  }
}

/**
 * The main job: study in → routed, loaded, batched, classified, triaged, SR and metadata written back. The gRPC
 * layer and the Orthanc change-feed follower both call it. Durable state is in the store (Orthanc metadata); the job
 * table here is the in-memory view.
 */
export class Sidecar<C extends PipelineConfig = PipelineConfig> {
  private config: C;
  private readonly store: StudyStore;
  private readonly validate: (raw: unknown) => C;
  private readonly log: SidecarLog;
  private readonly jobs = new JobTable();
  private models = new Map<string, LoadedModel>();
  private readonly loading: Semaphore;
  private readonly active: Semaphore;
  private readonly waiters = new Map<string, { attempt: ((r: StudyResult) => void)[]; final: ((r: StudyResult) => void)[] }>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly results = new Map<string, StudyResult>();
  /** Results that only confirm an earlier one (same input set): not published again. */
  private readonly unchanged = new WeakSet<StudyResult>();
  private accepting = false;
  private readonly startedAt = new Date();
  private readonly counters = { studiesDone: 0, studiesFailed: 0, imagesClassified: 0 };
  readonly feed = new ResultFeed(1000);
  readonly metrics = new PipelineMetrics();
  readonly version: string;
  /** Speculation (config `speculation.enabled`): fixed passes per instance, and the runner filling them. */
  readonly fixedPasses: FixedPassCache | null;
  readonly speculation: SpeculativePasses | null;
  private generation = 0;

  constructor(options: SidecarOptions<C>) {
    this.config = options.validateConfig(options.config);
    this.validate = options.validateConfig;
    this.store = options.store;
    this.version = options.version;
    this.log = options.log ?? (() => undefined);
    this.loading = new Semaphore(this.config.inference.decodeConcurrency);
    this.active = new Semaphore(this.activeLimit());
    const spec = this.config.speculation;
    this.fixedPasses = spec.enabled ? new FixedPassCache(spec.cacheMegabytes * 1024 * 1024) : null;
    this.speculation = this.fixedPasses
      ? new SpeculativePasses({
          store: this.store,
          cache: this.fixedPasses,
          log: this.log,
          models: () => new Map([...this.models].map(([name, m]) => [name, { name, engine: m.engine, identity: m.identity, idle: () => !m.batcher.busy && m.batcher.queuedImages === 0 }])),
          settings: () => ({
            routing: this.config.routing,
            framePolicy: this.config.inference.framePolicy,
            pixelSource: this.config.inference.pixelSource,
            batchSize: this.config.batching.batchSize,
            maxDelayMs: this.config.batching.maxDelayMs,
            queueBound: this.config.speculation.queueBound,
            decodeConcurrency: this.config.inference.decodeConcurrency,
          }),
        })
      : null;
    if (this.fixedPasses && this.speculation) {
      const cache = this.fixedPasses;
      const runner = this.speculation;
      this.metrics.addLines(() => [
        '# HELP t3_speculation_cache_lookups_total Fixed-pass cache lookups at readiness, by result.',
        '# TYPE t3_speculation_cache_lookups_total counter',
        `t3_speculation_cache_lookups_total{result="hit"} ${cache.stats.hits}`,
        `t3_speculation_cache_lookups_total{result="miss"} ${cache.stats.misses}`,
        '# HELP t3_speculation_cache_bytes Memory held by cached fixed passes.',
        '# TYPE t3_speculation_cache_bytes gauge',
        `t3_speculation_cache_bytes ${cache.bytes}`,
        '# HELP t3_speculation_instances_total Instances offered to speculation, by what became of them.',
        '# TYPE t3_speculation_instances_total counter',
        ...(['offered', 'stored', 'dropped', 'skipped', 'failed'] as const).map((k) => `t3_speculation_instances_total{outcome="${k}"} ${runner.stats[k]}`),
      ]);
    }
  }

  /** Loads every configured bundle and opens its engine. */
  async start(): Promise<void> {
    this.models = await this.openModels(this.config);
    this.accepting = true;
  }

  /** Stops taking work, waits for running jobs (SIGTERM drain), closes the engines. */
  async stop(): Promise<void> {
    this.accepting = false;
    this.speculation?.stop();
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    while (this.jobs.list((j) => j.status === 'running').length > 0) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const m of this.models.values()) await m.batcher.whenIdle();
    for (const m of this.models.values()) await m.engine.close();
    this.models.clear();
  }

  private async openModels(config: C): Promise<Map<string, LoadedModel>> {
    const out = new Map<string, LoadedModel>();
    const generation = ++this.generation;
    try {
      for (const entry of config.bundles) {
        const dir = entry.dir === 'demo' ? demoBundleDir() : entry.dir;
        const bundle = await loadBundle(dir);
        const engine = await T3Engine.open(bundle, {
          executionProviders: config.inference.executionProviders,
          log: (message) => this.log('engine', { bundle: entry.name, message }),
        });
        const m = bundle.manifest;
        const identity = `${m.name}@${m.version}#${m.models.generalist.sha256}:${m.models.expert.sha256}#${JSON.stringify(m.input)}#g${generation}`;
        const model: LoadedModel = { name: entry.name, dir, bundle, engine, batcher: undefined as unknown as T3bBatcher, identity };
        model.batcher = new T3bBatcher(
          entry.name,
          (inputs, batchSize) => {
            this.metrics.observeBatch(entry.name, inputs.length);
            const policy = this.policyFor(model.bundle);
            if (this.fixedPasses) {
              return classifyWithFixedPasses(model.engine, inputs as FixedPassInput[], {
                policy,
                batchSize,
                framePolicy: this.config.inference.framePolicy,
                decodeConcurrency: this.config.inference.decodeConcurrency,
                remember: (input, info, frames) => this.rememberFixedPasses(model, input.name, info, frames),
              });
            }
            return classifyImages(model.engine, inputs, {
              policy: this.policyFor(model.bundle),
              batchSize,
              framePolicy: this.config.inference.framePolicy,
              decodeConcurrency: this.config.inference.decodeConcurrency,
            });
          },
          config.batching,
        );
        out.set(entry.name, model);
      }
    } catch (err) {
      for (const m of out.values()) await m.engine.close();
      throw err;
    }
    return out;
  }

  private policyFor(bundle: ModelBundle): PolicyConfig {
    const policy = defaultPolicyConfig(this.config.inference.policy);
    policy.wiseAlpha = this.config.inference.wiseAlpha;
    // The bundle's temperatures and T3 hyperparameters belong to its models.
    policy.hyperparameters = { ...policy.hyperparameters, ...bundle.manifest.t3 };
    return policy;
  }

  // ---------------------------------------------------------------- public API (gRPC, follower, CLI)

  /** Analyses a study in the store; resolves with the outcome of this run (done, failed or parked). */
  async analyzeStudy(ref: StudyRef, opts: AnalyzeOptions): Promise<StudyResult> {
    const id = await this.store.resolve(ref);
    return this.enqueue(id, opts, 'attempt');
  }

  /** For the change-feed follower: resolves once the study is finished (done, parked or gone), never rejects. */
  async handleStableStudy(orthancStudyId: string): Promise<void> {
    try {
      await this.enqueue(orthancStudyId, { priority: 'routine', writeBack: true }, 'final');
    } catch (err) {
      this.log('stable-study-failed', { orthancStudyId, error: errorText(err) });
    }
  }

  /** Speculation: an instance arrived (NewInstance); its fixed passes start now, best effort. */
  speculate(orthancInstanceId: string): void {
    // Single-pass policies (generalist, expert, wise) have nothing to gain.
    if (this.accepting && FIXED_PASS_POLICIES.includes(this.config.inference.policy)) this.speculation?.offer(orthancInstanceId);
  }

  /**
   * Shared mode: a ready study this worker claimed. Resolves true once it is finished here (done, parked, gone or
   * claim lost), false when it was not taken (shutting down); never rejects.
   */
  async handleClaimedStudy(orthancStudyId: string, claim: StudyClaim): Promise<boolean> {
    try {
      await this.enqueue(orthancStudyId, { priority: 'routine', writeBack: true, claim }, 'final');
      return true;
    } catch (err) {
      this.log('claimed-study-failed', { orthancStudyId, error: errorText(err) });
      return false;
    }
  }

  private fixedPassKeyFor(model: LoadedModel, sopInstanceUid: string): string {
    return fixedPassKey({ modelIdentity: model.identity, framePolicy: this.config.inference.framePolicy, pixelSource: this.config.inference.pixelSource, sopInstanceUid });
  }

  /** Cached fixed passes of an instance for this model, unless a speculation on it is still running (it may be newer). */
  private cachedFixedPasses(model: LoadedModel, inst: StudyInstance): FixedPassEntry | undefined {
    if (!this.fixedPasses || !FIXED_PASS_POLICIES.includes(this.config.inference.policy) || this.speculation?.isPending(inst.orthancInstanceId)) return undefined;
    return this.fixedPasses.get(this.fixedPassKeyFor(model, inst.sopInstanceUid), inst.orthancInstanceId);
  }

  private rememberFixedPasses(model: LoadedModel, orthancInstanceId: string, info: FixedPassEntry['info'], frames: FixedPassEntry['frames']): void {
    if (!this.fixedPasses || this.speculation?.isPending(orthancInstanceId) || this.models.get(model.name) !== model) return;
    this.fixedPasses.set({ key: this.fixedPassKeyFor(model, info.sopInstanceUid), orthancInstanceId, info, frames });
  }

  /** The open engines by bundle name (the gRPC Classify path shares them instead of opening a second set). */
  engines(): ReadonlyMap<string, T3Engine> {
    return new Map([...this.models].map(([name, m]) => [name, m.engine]));
  }

  /** The last result of a study in this process, or null. */
  getStudyResult(orthancStudyId: string): StudyResult | null {
    return this.results.get(orthancStudyId) ?? this.jobs.get(orthancStudyId)?.lastResult ?? null;
  }

  /** True while the queues are full: the follower pauses and gRPC answers RESOURCE_EXHAUSTED. */
  isBusy(): boolean {
    for (const m of this.models.values()) if (!m.batcher.hasRoom()) return true;
    return this.jobs.list((j) => j.status === 'queued').length >= this.config.batching.queueBound;
  }

  status(): SidecarStatus {
    const uptimeS = (Date.now() - this.startedAt.getTime()) / 1000;
    const providers: Record<string, ExecutionProviderName> = {};
    for (const m of this.models.values()) providers[m.name] = m.engine.executionProvider;
    return {
      version: this.version,
      startedAt: this.startedAt.toISOString(),
      executionProviders: providers,
      models: [...this.models.values()].map((m) => ({
        name: m.name,
        bundle: m.bundle.manifest.name,
        version: m.bundle.manifest.version,
        dir: m.dir,
        executionProvider: m.engine.executionProvider,
      })),
      jobs: this.jobs.countBy(),
      queues: [...this.models.values()].map((m) => ({ bundle: m.name, ...m.batcher.laneDepths, queuedImages: m.batcher.queuedImages, running: m.batcher.busy })),
      throughput: { ...this.counters, imagesPerSecond: uptimeS > 0 ? this.counters.imagesClassified / uptimeS : 0, uptimeS },
      accepting: this.accepting,
    };
  }

  getConfig(): C {
    return structuredClone(this.config);
  }

  /**
   * Validates `partial` merged onto the current configuration. Unless dryRun, the live sections (routing, batching,
   * inference, triage, retry, bundles) take effect at once; changes to the others (Orthanc connection, follower,
   * gRPC, …) are validated but not applied, and listed in `restartRequired`. Throws the validator's error (naming
   * the key) when the result is invalid; nothing changes then.
   */
  async updateConfig(partial: unknown, opts: { dryRun: boolean }): Promise<ConfigUpdate<C>> {
    const proposed = this.validate(mergeDeep(this.config, partial));
    const current = this.config as Record<string, unknown>;
    const changed = (k: string) => JSON.stringify((proposed as Record<string, unknown>)[k]) !== JSON.stringify(current[k]);
    const restartRequired = Object.keys(proposed).filter((k) => !LIVE_SECTIONS.includes(k) && changed(k));
    const next = { ...current } as Record<string, unknown>;
    for (const k of LIVE_SECTIONS) next[k] = (proposed as Record<string, unknown>)[k];
    const effective = next as C;
    if (opts.dryRun) return { config: structuredClone(effective), applied: false, restartRequired };
    const bundlesChanged = changed('bundles');
    this.config = effective;
    this.loading.setLimit(effective.inference.decodeConcurrency);
    this.active.setLimit(this.activeLimit());
    for (const m of this.models.values()) m.batcher.updateSettings(effective.batching);
    if (bundlesChanged) await this.reloadModels();
    return { config: structuredClone(effective), applied: true, restartRequired };
  }

  /** Opens the configured bundles again (new files on disk) and swaps them in once the old batchers are idle. */
  async reloadModels(): Promise<{ name: string; version: string; executionProvider: ExecutionProviderName }[]> {
    const fresh = await this.openModels(this.config);
    const old = this.models;
    this.models = fresh;
    // New model files: no logits of the old ones may be used (the keys differ anyway; this frees the memory).
    this.fixedPasses?.clear();
    for (const m of old.values()) {
      await m.batcher.whenIdle();
      await m.engine.close();
    }
    return [...fresh.values()].map((m) => ({ name: m.bundle.manifest.name, version: m.bundle.manifest.version, executionProvider: m.engine.executionProvider }));
  }

  /** Jobs that failed (waiting for a retry) or were parked. */
  listFailedJobs(): { id: string; orthancStudyId: string; status: string; attempts: number; error: string | null; nextAttemptAt: string | null }[] {
    return this.jobs
      .list((j) => j.status === 'failed' || j.status === 'parked')
      .map((j) => ({ id: j.id, orthancStudyId: j.orthancStudyId, status: j.status, attempts: j.attempts, error: j.error, nextAttemptAt: j.nextAttemptAt?.toISOString() ?? null }));
  }

  /** Runs a failed or parked job again now, with a fresh attempt count. */
  async retryJob(id: string): Promise<StudyResult> {
    const job = this.jobs.get(id);
    if (!job || (job.status !== 'failed' && job.status !== 'parked')) throw new Error(`no failed or parked job "${id}"`);
    const timer = this.retryTimers.get(id);
    if (timer) clearTimeout(timer);
    this.retryTimers.delete(id);
    job.attempts = 0;
    job.status = 'queued';
    job.nextAttemptAt = null;
    const promise = this.waitFor(id, 'attempt');
    void this.runJob(job);
    return promise;
  }

  // ---------------------------------------------------------------- jobs

  private waitFor(id: string, kind: 'attempt' | 'final'): Promise<StudyResult> {
    return new Promise((resolve) => {
      let w = this.waiters.get(id);
      if (!w) this.waiters.set(id, (w = { attempt: [], final: [] }));
      w[kind].push(resolve);
    });
  }

  private enqueue(orthancStudyId: string, opts: AnalyzeOptions, wait: 'attempt' | 'final'): Promise<StudyResult> {
    if (!this.accepting) return Promise.reject(new Error('the sidecar is not accepting work (starting or shutting down)'));
    let job = this.jobs.get(orthancStudyId);
    if (job && (job.status === 'queued' || job.status === 'running')) {
      // Already on it: run once more afterwards (the study may have changed), with the more urgent lane.
      if (job.status === 'running') job.rerunRequested = true;
      if (opts.priority === 'stat') job.runPriority = 'stat';
      job.writeBack ||= opts.writeBack;
      job.force ||= opts.force === true;
      if (opts.claim) job.claim = opts.claim;
      return this.waitFor(orthancStudyId, wait);
    }
    if (job) {
      const timer = this.retryTimers.get(job.id);
      if (timer) clearTimeout(timer);
      this.retryTimers.delete(job.id);
      this.jobs.delete(job.id);
    } else if (this.isBusy() && opts.priority !== 'stat' && wait === 'attempt') {
      return Promise.reject(new QueueFullError('*', this.jobs.list((j) => j.status === 'queued').length, this.config.batching.queueBound));
    }
    job = this.jobs.create({ orthancStudyId, runPriority: opts.priority, writeBack: opts.writeBack, force: opts.force === true });
    job.claim = opts.claim ?? null;
    const promise = this.waitFor(orthancStudyId, wait);
    void this.runJob(job);
    if (this.jobs.size > 5100) this.jobs.prune(5000);
    return promise;
  }

  private settle(job: Job, result: StudyResult, final: boolean): void {
    job.lastResult = result;
    this.results.set(job.orthancStudyId, result);
    if (this.results.size > 5000) this.results.delete(this.results.keys().next().value as string);
    const w = this.waiters.get(job.id);
    if (!w) return;
    for (const r of w.attempt.splice(0)) r(result);
    if (final) {
      for (const r of w.final.splice(0)) r(result);
      this.waiters.delete(job.id);
    }
  }

  /** Jobs past the queue at once: enough studies to fill a cross-study batch, few enough to bound Orthanc requests. */
  private activeLimit(): number {
    return Math.max(2 * this.config.inference.decodeConcurrency, Math.min(this.config.batching.batchSize, 64));
  }

  private async runJob(job: Job): Promise<void> {
    this.active.setLimit(this.activeLimit());
    // Waiting here, the job is 'queued' and holds nothing but its id; isBusy() counts these.
    await this.active.use(async () => {
      // Shutting down: leave it queued. Its StableStudy stays above the saved checkpoint, so a restart replays it.
      if (!this.accepting) return;
      await this.runAdmittedJob(job);
    });
  }

  private async runAdmittedJob(job: Job): Promise<void> {
    {
      job.status = 'running';
      job.startedAt = new Date();
      job.attempts++;
      job.rerunRequested = false;
      let result: StudyResult;
      try {
        // `force` holds through the retries of this job, and ends with its success.
        result = await this.process(job, job.force);
      } catch (err) {
        await this.fail(job, err);
        return;
      }
      job.force = false;
      job.status = 'done';
      job.error = null;
      job.finishedAt = new Date();
      const unchanged = this.unchanged.has(result);
      if (unchanged) this.metrics.countOutcome('unchanged');
      else if (!result.sr) this.metrics.countOutcome(result.images.length === 0 ? 'skipped' : 'done');
      else {
        this.metrics.countOutcome('done', result.failedImages.length ? 'partial' : '');
        this.metrics.observeLatency((Date.parse(result.timings.finishedAt ?? '') - job.queuedAt.getTime()) / 1000);
        for (const l of result.batchLambdas) this.metrics.observeLambda(result.bundle?.name ?? '', l);
      }
      if (!unchanged) {
        // A study seen again with the inputs it was analysed with (our own SR makes it stable again) is not news.
        this.counters.studiesDone++;
        this.counters.imagesClassified += result.images.length;
        this.feed.publish(result);
      }
      this.log(unchanged ? 'study-unchanged' : 'study-done', {
        orthancStudyId: job.orthancStudyId,
        priority: result.triage?.priority ?? null,
        images: result.images.length,
        failedImages: result.failedImages.length,
        sr: result.sr?.orthancInstanceId ?? null,
        reused: result.sr?.reused ?? false,
        ms: result.timings.totalMs,
      });
      const again = job.rerunRequested;
      this.settle(job, result, !again);
      if (again) {
        job.status = 'queued';
        void this.runJob(job);
      }
    }
  }

  private baseResult(job: Job): StudyResult {
    return {
      jobId: job.id,
      orthancStudyId: job.orthancStudyId,
      studyInstanceUid: job.studyInstanceUid,
      status: job.status,
      error: job.error,
      runPriority: job.runPriority,
      triage: null,
      images: [],
      failedImages: [],
      batchLambdas: [],
      modalities: [],
      bundle: null,
      policy: this.config.inference.policy,
      inputSetHash: null,
      sr: null,
      timings: {
        queuedAt: job.queuedAt.toISOString(),
        startedAt: job.startedAt?.toISOString() ?? null,
        finishedAt: job.finishedAt?.toISOString() ?? null,
        loadMs: 0,
        inferMs: 0,
        writeMs: 0,
        totalMs: job.startedAt && job.finishedAt ? job.finishedAt.getTime() - job.startedAt.getTime() : 0,
      },
      attempts: job.attempts,
    };
  }

  private async fail(job: Job, err: unknown): Promise<void> {
    job.finishedAt = new Date();
    job.error = errorText(err);
    if (err instanceof StudyNotFoundError) {
      // Deleted from Orthanc: nothing to retry, nothing to write.
      this.metrics.countOutcome('gone');
      job.status = 'failed';
      this.log('study-gone', { orthancStudyId: job.orthancStudyId });
      const result = this.baseResult(job);
      this.jobs.delete(job.id);
      this.settle(job, result, true);
      return;
    }
    if (err instanceof ClaimLostError) {
      // Another worker owns the study now: no state write, no retry here.
      this.metrics.countOutcome('claim-lost');
      job.status = 'failed';
      this.log('claim-lost', { orthancStudyId: job.orthancStudyId });
      const result = this.baseResult(job);
      this.jobs.delete(job.id);
      this.settle(job, result, true);
      return;
    }
    const park = shouldPark(this.config.retry, job.attempts);
    job.status = park ? 'parked' : 'failed';
    this.counters.studiesFailed++;
    this.metrics.countOutcome(job.status, failureReason(err));
    this.log(park ? 'study-parked' : 'study-failed', { orthancStudyId: job.orthancStudyId, attempts: job.attempts, error: job.error });
    if (job.writeBack) {
      try {
        await this.confirmClaim(job);
        await this.store.writeState(job.orthancStudyId, { status: job.status, error: job.error, attempts: job.attempts });
      } catch (writeErr) {
        this.log('state-write-failed', { orthancStudyId: job.orthancStudyId, error: errorText(writeErr) });
      }
    }
    const result = this.baseResult(job);
    this.feed.publish(result);
    if (park) {
      job.nextAttemptAt = null;
      this.settle(job, result, true);
      return;
    }
    const delay = retryDelayMs(this.config.retry, job.attempts);
    job.nextAttemptAt = new Date(Date.now() + delay);
    this.settle(job, result, false);
    const timer = setTimeout(() => {
      this.retryTimers.delete(job.id);
      if (!this.accepting || job.status !== 'failed') return;
      job.status = 'queued';
      job.nextAttemptAt = null;
      void this.runJob(job);
    }, delay);
    this.retryTimers.set(job.id, timer);
  }

  // ---------------------------------------------------------------- one study

  private route(snapshot: StudySnapshot): { bundle: string | null; images: StudyInstance[]; unrouted: StudyInstance[] } {
    const images = snapshot.instances.filter((i) => nonImageKind(i.sopClassUid) === undefined);
    const byBundle = new Map<string, StudyInstance[]>();
    const unrouted: StudyInstance[] = [];
    for (const inst of images) {
      const name = chooseBundle(this.config.routing, {
        modality: inst.modality,
        sopClassUid: inst.sopClassUid,
        bodyPartExamined: inst.bodyPartExamined,
        studyDescription: snapshot.studyDescription,
        seriesDescription: inst.seriesDescription,
        callingAet: inst.callingAet,
      });
      if (name === null || !this.models.has(name)) unrouted.push(inst);
      else byBundle.set(name, [...(byBundle.get(name) ?? []), inst]);
    }
    // One SR per study: the bundle most of the study's images route to analyses them; the rest are reported.
    let best: string | null = null;
    for (const [name, list] of byBundle) if (best === null || list.length > byBundle.get(best)!.length) best = name;
    for (const [name, list] of byBundle) if (name !== best) unrouted.push(...list);
    return { bundle: best, images: best ? byBundle.get(best)! : [], unrouted };
  }

  private async process(job: Job, force: boolean): Promise<StudyResult> {
    const t0 = Date.now();
    const snapshot = await this.store.snapshot(job.orthancStudyId);
    job.studyInstanceUid = snapshot.studyInstanceUid;
    const routed = this.route(snapshot);
    const result = this.baseResult(job);
    result.status = 'running';
    const indexOf = new Map(snapshot.instances.map((inst, i) => [inst.orthancInstanceId, i]));
    const failedImages: StudyImageFailure[] = routed.unrouted.map((inst) => ({
      index: indexOf.get(inst.orthancInstanceId)!,
      orthancInstanceId: inst.orthancInstanceId,
      code: 'no-route',
      message: `no configured bundle takes ${inst.modality || 'this'} images of series "${inst.seriesDescription}"`,
    }));
    if (routed.bundle === null) {
      // Nothing to analyse (only SR/KOS/PR objects, or no rule takes these images): record it, no SR, no retry.
      const reason = routed.unrouted.length === 0
        ? `the study has no image objects (${snapshot.instances.length} non-image instance(s))`
        : `no configured bundle takes the study's ${routed.unrouted.length} image(s)`;
      const seenBefore = snapshot.state.status === 'skipped' && snapshot.state.error === reason;
      if (job.writeBack && !seenBefore) {
        await this.confirmClaim(job);
        await this.store.writeState(job.orthancStudyId, { status: 'skipped', error: reason, attempts: job.attempts });
      }
      job.finishedAt = new Date();
      const skipped: StudyResult = { ...result, status: 'done', error: reason, failedImages, timings: { ...result.timings, finishedAt: job.finishedAt.toISOString(), totalMs: job.finishedAt.getTime() - t0 } };
      if (seenBefore) this.unchanged.add(skipped);
      return skipped;
    }
    const model = this.models.get(routed.bundle)!;
    const manifest = model.bundle.manifest;
    const bundleId: BundleIdentityRecord = {
      name: manifest.name,
      version: manifest.version,
      generalist: { name: manifest.models.generalist.name, version: manifest.models.generalist.version, sha256: manifest.models.generalist.sha256 },
      expert: { name: manifest.models.expert.name, version: manifest.models.expert.version, sha256: manifest.models.expert.sha256 },
    };
    const policy = this.policyFor(model.bundle);
    const hash = inputSetHash({
      sopInstanceUids: routed.images.map((i) => i.sopInstanceUid),
      bundle: { name: manifest.name, version: manifest.version, generalistSha256: bundleId.generalist.sha256, expertSha256: bundleId.expert.sha256 },
      policy: policy.name,
    });
    result.bundle = bundleId;
    result.policy = policy.name;
    result.inputSetHash = hash;

    // Already analysed with these inputs (our own SR made the study stable again, or a replay after a crash)?
    if (!force && job.writeBack) {
      const known = this.results.get(job.orthancStudyId);
      if (snapshot.state.status === 'done' && snapshot.state.inputSetHash === hash) {
        return this.reusedResult(job, result, known, snapshot.state.srInstanceId, t0);
      }
      const ours = await this.store.listResultSrs(snapshot);
      const adopted = ours.find((sr) => sr.inputSetHash === hash);
      if (adopted) {
        await this.confirmClaim(job);
        await this.store.writeState(job.orthancStudyId, {
          status: 'done', inputSetHash: hash, srInstanceId: adopted.orthancInstanceId, error: null, attempts: job.attempts,
        });
        return this.reusedResult(job, result, known, adopted.orthancInstanceId, t0, adopted.sopInstanceUid);
      }
    }
    if (job.writeBack) await this.confirmClaim(job);
    if (job.writeBack) await this.store.writeState(job.orthancStudyId, { status: 'running', runPriority: job.runPriority, attempts: job.attempts });

    // Load (a few studies at a time, and only when the batcher has room: memory stays bounded), then queue for
    // inference without holding the loading slot, so the next study loads while this one is inferred.
    const tLoad = Date.now();
    const { order, pending } = await this.loading.use(async () => {
      await model.batcher.waitForRoom(routed.images.length);
      const loaded: { input: ClassifyInput; inst: StudyInstance }[] = [];
      await Promise.all(
        routed.images.map(async (inst) => {
          const cached = this.cachedFixedPasses(model, inst);
          if (cached) {
            // Speculation already ran both fixed passes: no fetch, no decode.
            const input: FixedPassInput = { name: inst.orthancInstanceId, bytes: new Uint8Array(0), cached };
            loaded.push({ input, inst });
            return;
          }
          try {
            const bytes = await this.store.fetchInstance(inst.orthancInstanceId, this.config.inference.pixelSource, this.config.inference.framePolicy);
            loaded.push({ input: { name: inst.orthancInstanceId, bytes }, inst });
          } catch (err) {
            if (err instanceof StudyNotFoundError) return; // the instance was deleted meanwhile
            if ((err as { transient?: boolean }).transient === true) throw err; // Orthanc down: retry the study later
            failedImages.push({ index: indexOf.get(inst.orthancInstanceId)!, orthancInstanceId: inst.orthancInstanceId, code: 'fetch-failed', message: errorText(err) });
          }
        }),
      );
      // Deterministic order: by position in the study.
      loaded.sort((a, b) => indexOf.get(a.inst.orthancInstanceId)! - indexOf.get(b.inst.orthancInstanceId)!);
      result.timings.loadMs = Date.now() - tLoad;
      return { order: loaded, pending: model.batcher.submit(job.runPriority, loaded.map((o) => o.input), { bypassBound: true }) };
    });
    const tInfer = Date.now();
    const outcomes = await pending;
    result.timings.inferMs = Date.now() - tInfer;
    const images: StudyImagePrediction[] = [];
    const srImages: ImageResult[] = [];
    const batchLambdas: number[] = [];
    const seenBatches = new Set<string>();
    let sourceHeader: Record<string, unknown> | null = null;
    outcomes.forEach((outcome, i) => {
      const inst = order[i].inst;
      const index = indexOf.get(inst.orthancInstanceId)!;
      if (!outcome.ok) {
        if (!outcome.skipped) failedImages.push({ index, orthancInstanceId: inst.orthancInstanceId, code: outcome.errorCode, message: outcome.error });
        return;
      }
      sourceHeader ??= outcome.info.header;
      const multiFrame = outcome.info.numberOfFrames > 1;
      for (const f of outcome.frames) {
        if (!seenBatches.has(f.batchId)) {
          seenBatches.add(f.batchId);
          if (f.batchLambda !== null) batchLambdas.push(f.batchLambda);
        }
        images.push({
          index,
          orthancInstanceId: inst.orthancInstanceId,
          frameNumber: multiFrame ? f.frameNumber : 0,
          sopInstanceUid: outcome.info.sopInstanceUid,
          sopClassUid: outcome.info.sopClassUid,
          seriesInstanceUid: outcome.info.seriesInstanceUid,
          studyInstanceUid: outcome.info.studyInstanceUid,
          modality: outcome.info.modality,
          predictions: f.predictions,
          js: f.js,
          lambda: f.lambda,
          lambdaFinal: f.lambdaFinal,
          appliedLambda: f.appliedLambda,
          entropyGeneralist: Number.NaN,
          entropyExpert: Number.NaN,
          extrapolationTriggered: f.lambdaFinal !== f.lambda,
          batchId: f.batchId,
        });
        srImages.push({
          sopClassUid: outcome.info.sopClassUid,
          sopInstanceUid: outcome.info.sopInstanceUid,
          seriesInstanceUid: outcome.info.seriesInstanceUid,
          modality: outcome.info.modality,
          ...(multiFrame ? { frameNumber: f.frameNumber } : {}),
          predictions: f.predictions,
          js: f.js,
          lambda: f.lambdaFinal,
          studyInstanceUid: outcome.info.studyInstanceUid,
        });
      }
    });
    failedImages.sort((a, b) => a.index - b.index);
    result.images = images;
    result.failedImages = failedImages;
    result.batchLambdas = batchLambdas;
    result.modalities = [...new Set(images.map((i) => i.modality))].sort();
    if (images.length === 0) {
      throw new Error(`no image of the study could be classified${failedImages.length ? ': ' + failedImages.map((f) => `${f.orthancInstanceId} ${f.code}`).join('; ') : ''}`);
    }
    const badImages = failedImages.filter((f) => f.code !== 'no-route');
    if (this.config.inference.onBadImage === 'fail-study' && badImages.length > 0) {
      throw new Error(`study has ${badImages.length} unusable image(s): ${badImages.map((f) => `${f.orthancInstanceId} ${f.code}: ${f.message}`).join('; ')}`);
    }
    result.triage = decideTriage(srImages, this.config.triage);

    // Write back: SR (deterministic UIDs, so a repeat is "AlreadyStored"), tag it, then the study state last.
    const tWrite = Date.now();
    if (job.writeBack) {
      const algorithm: AlgorithmRecord = {
        name: manifest.name,
        version: manifest.version,
        method: policy.name,
        batchLambdas,
        batchSize: this.config.batching.batchSize,
        // The engine computes coefficients with the bundle's fitted temperatures: record those.
        hyperparameters: { ...policy.hyperparameters, tPt: manifest.temperatures.generalist, tFt: manifest.temperatures.expert },
        models: { generalist: bundleId.generalist, expert: bundleId.expert },
      };
      // The predecessor is the SR the study shows now (or our latest), unless it is the very SR about to be written
      // (a repeat after a crash): new inputs, or a re-run that decides differently, give a new version.
      const next = deriveSrUids(String(sourceHeader!.StudyInstanceUID), srImages, algorithm, result.triage);
      let predecessor: SrReference | undefined;
      const ours = await this.store.listResultSrs(snapshot);
      const previous = ours.filter((sr) => sr.sopInstanceUid !== next.sopInstanceUid);
      const prev = previous.find((sr) => sr.orthancInstanceId === snapshot.state.srInstanceId) ?? previous[previous.length - 1];
      if (prev) predecessor = { studyInstanceUid: prev.studyInstanceUid, seriesInstanceUid: prev.seriesInstanceUid, sopInstanceUid: prev.sopInstanceUid, sopClassUid: prev.sopClassUid };
      await this.confirmClaim(job);
      const meanLambda = batchLambdas.length ? batchLambdas.reduce((a, b) => a + b, 0) / batchLambdas.length : null;
      // Entries that do not say "done" are written while the SR is built and stored (a crash in between leaves the
      // status "running", so the study is run again); the input set and SR id once the SR is in; "done" last.
      const early = this.store
        .writeState(job.orthancStudyId, {
          priority: result.triage.priority,
          lambda: meanLambda === null ? null : meanLambda.toFixed(4),
          error: failedImages.length ? `${failedImages.length} image(s) not used: ${failedImages.map((f) => f.code).join(', ')}` : null,
          attempts: job.attempts,
        })
        .then(() => null, (err: unknown) => ({ err }));
      let built: BuiltSr;
      let stored: Awaited<ReturnType<StudyStore['storeSr']>>;
      try {
        // dcmjs's writer is slow on large studies: the SR is built in a worker thread, the event loop stays free.
        built = await sharedSrBuilder().build({ sourceHeader: sourceHeader!, images: srImages, algorithm, triage: result.triage, ...(predecessor ? { predecessor } : {}) });
        stored = await this.store.storeSr(built.bytes);
        result.timings.srStoredAt = new Date().toISOString();
        await Promise.all([
          this.store.tagSr(stored.orthancInstanceId, hash),
          this.store.writeState(job.orthancStudyId, { inputSetHash: hash, srInstanceId: stored.orthancInstanceId }),
        ]);
      } finally {
        // Never leave a write in flight behind a failure: the failure path writes the same entries.
        const earlyFailure = await early;
        if (earlyFailure) throw earlyFailure.err;
      }
      await this.store.writeState(job.orthancStudyId, { status: 'done' });
      result.sr = {
        orthancInstanceId: stored.orthancInstanceId,
        sopInstanceUid: built.sopInstanceUid,
        seriesInstanceUid: built.seriesInstanceUid,
        predecessorSopInstanceUid: predecessor?.sopInstanceUid ?? null,
        reused: stored.alreadyStored,
      };
    }
    result.timings.writeMs = Date.now() - tWrite;
    job.finishedAt = new Date();
    result.status = 'done';
    result.timings.finishedAt = job.finishedAt.toISOString();
    result.timings.totalMs = job.finishedAt.getTime() - t0;
    return result;
  }

  /** Shared mode: renews the job's claim before a durable write; throws ClaimLostError when another worker took it. */
  private async confirmClaim(job: Job): Promise<void> {
    if (job.claim && !(await job.claim.confirm())) throw new ClaimLostError(job.orthancStudyId, job.claim.workerId);
  }

  private reusedResult(job: Job, result: StudyResult, known: StudyResult | undefined, srInstanceId: string | null, t0: number, srSopInstanceUid?: string): StudyResult {
    job.finishedAt = new Date();
    const base = known && known.inputSetHash === result.inputSetHash ? { ...known } : result;
    base.jobId = job.id;
    base.status = 'done';
    base.attempts = job.attempts;
    base.runPriority = job.runPriority;
    base.timings = { ...result.timings, finishedAt: job.finishedAt.toISOString(), totalMs: job.finishedAt.getTime() - t0 };
    base.sr = base.sr
      ? { ...base.sr, reused: true }
      : srInstanceId
        ? { orthancInstanceId: srInstanceId, sopInstanceUid: srSopInstanceUid ?? '', seriesInstanceUid: '', predecessorSopInstanceUid: null, reused: true }
        : null;
    this.unchanged.add(base);
    return base;
  }
}
