import type { Registry } from 'prom-client';
import { memoryAllocator, peakResidentSetMB, residentSetMB, type ExecutionProviderName, type T3Engine } from '../engine';
import type { ClassifyFn } from './classification/batcher';
import { proposeConfigUpdate, type ConfigActor, type ConfigParticipant, type ConfigUpdate } from './registry/config-update';
import { differingPaths } from '../util/json-value';
import { classifyImages, type ClassifyOutcome } from './classification/classify-images';
import { classifyWithFixedPasses } from './classification/classify-fixed-passes';
import { bundleIdentityOf, srInputFor } from './classification/compose-study-result';
import type { FixedPassCache } from './classification/fixed-pass-cache';
import { inputSetHash } from './classification/input-set';
import type { JobClock } from './jobs/job-clock';
import { JobRunner, type EnqueueOptions, type FailedJobRecord, type SidecarLog } from './jobs/job-runner';
import type { Job } from './jobs/job-state';
import { PipelineMetrics } from './jobs/metrics';
import { ModelRegistry, policyFor, type LoadedModel } from './registry/model-registry';
import type { PipelineConfig } from './registry/pipeline-config';
import { ResultFeed } from './jobs/result-feed';
import { Semaphore } from './jobs/semaphore';
import { SpeculationWiring } from './speculation/speculation-wiring';
import type { SpeculativePasses } from './speculation/speculative-passes';
import { classifyStudy, routeStudy, skipReason, unroutedFailures, instancePositions } from './study-analysis';
import type { JobStatus, StudyResult } from './results/study-result';
import { reusedResult, WriteBack } from './jobs/write-back';
import { ReportNotWrittenError } from './results/report-not-written';
import { ClaimLostError, type StudyClaim } from './jobs/study-claim';
import { StudyNotFoundError, type StudyRef, type StudyStore } from './jobs/study-store';

export type { SidecarLog } from './jobs/job-runner';
export type { LoadedModel } from './registry/model-registry';
export type AnalyzeOptions = EnqueueOptions;
export type { ConfigActor, ConfigParticipant, ConfigUpdate } from './registry/config-update';

export interface SidecarStatus {
  version: string;
  startedAt: string;
  executionProviders: Record<string, ExecutionProviderName>;
  models: {
    name: string; bundle: string; version: string; dir: string; executionProvider: ExecutionProviderName;
    /** Sessions of the fixed passes (plain or merged) and why (inference.fixedPassSessions). */
    fixedPassSessions: string; fixedPassReason: string;
  }[];
  /**
   * Resident set size of the process now and its peak, MiB (the engines' sessions are most of it), and the malloc in
   * use (jemalloc gives a burst's freed memory back; glibc keeps it resident).
   */
  memory: { residentSetMB: number; peakResidentSetMB: number; allocator: 'jemalloc' | 'glibc' };
  jobs: Record<JobStatus, number>;
  queues: { bundle: string; stat: number; routine: number; queuedImages: number; running: boolean }[];
  throughput: { studiesDone: number; studiesFailed: number; imagesClassified: number; imagesPerSecond: number; uptimeS: number };
  accepting: boolean;
}

export interface SidecarOptions<C extends PipelineConfig> {
  config: C;
  /** config/'s validator, passed in (pipeline/ does not import config/); throws an error naming the bad key. */
  validateConfig: (raw: unknown) => C;
  /** config/'s merge of a partial configuration onto a whole one (the same rules as files and environment). */
  mergeConfig: (base: C, partial: unknown) => unknown;
  store: StudyStore;
  version: string;
  log?: SidecarLog;
  /** The job runner's clock (tests of retries inject one). */
  clock?: JobClock;
  /** The process's metrics registry (serve creates it, with the process metrics); a fresh one when not given. */
  metricsRegistry?: Registry;
}

/**
 * The main job, wired once: study in → routed, loaded, batched, classified, triaged, SR and metadata written back.
 * The gRPC layer and the Orthanc change-feed follower both call it. The parts: jobs (job-runner.ts), models
 * (model-registry.ts), one study's analysis (study-analysis.ts), the result's composition (compose-study-result.ts)
 * and its write-back (write-back.ts). Durable state is in the store (Orthanc metadata).
 */
export class Sidecar<C extends PipelineConfig = PipelineConfig> {
  private config: C;
  private readonly options: SidecarOptions<C>;
  private readonly log: SidecarLog;
  private readonly models: ModelRegistry;
  private readonly runner: JobRunner;
  private readonly writeBack: WriteBack;
  private readonly loading: Semaphore;
  /** Results that only confirm an earlier one (same input set): not published again. */
  private readonly unchanged = new WeakSet<StudyResult>();
  private readonly startedAt = new Date();
  readonly feed = new ResultFeed(1000);
  readonly metrics: PipelineMetrics;
  readonly version: string;
  private readonly speculationWiring: SpeculationWiring | null;
  private readonly configParticipants: ConfigParticipant<C>[] = [];
  /** Configuration updates run one at a time: each validates and tries against the configuration it will replace. */
  private configUpdates: Promise<unknown> = Promise.resolve();

  constructor(options: SidecarOptions<C>) {
    this.options = options;
    this.config = options.validateConfig(options.config);
    this.version = options.version;
    this.log = options.log ?? (() => undefined);
    this.metrics = new PipelineMetrics(options.metricsRegistry);
    this.loading = new Semaphore(this.config.inference.decodeConcurrency);
    this.writeBack = new WriteBack(options.store, this.log);
    this.models = new ModelRegistry({ log: this.log, classifierFor: (model) => this.batchClassifier(model) });
    this.runner = new JobRunner({
      process: (job) => this.process(job),
      isUnchanged: (result) => this.unchanged.has(result),
      recordFailure: (job) => this.writeBack.recordFailure(job),
      inferenceFull: () => this.models.anyFull(),
      settings: () => ({
        retry: this.config.retry,
        queueBound: this.config.batching.queueBound,
        // Enough studies past the queue to fill a cross-study batch, few enough to bound Orthanc requests.
        activeLimit: Math.max(2 * this.config.inference.decodeConcurrency, Math.min(this.config.batching.batchSize, 64)),
        policy: this.config.inference.policy,
      }),
      metrics: this.metrics,
      feed: this.feed,
      log: this.log,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    // Read at each scrape: the queues, jobs and models status() reports, without its memory figures.
    this.metrics.readSnapshotFrom(() => {
      const models = this.models.list();
      return {
        queues: models.map((m) => ({ bundle: m.name, ...m.batcher.laneDepths, queuedImages: m.batcher.queuedImages })),
        jobs: this.runner.counts(),
        models: models.map((m) => ({ name: m.name, version: m.bundle.manifest.version, executionProvider: m.engine.executionProvider })),
      };
    });
    this.speculationWiring = this.config.speculation.enabled
      ? new SpeculationWiring({ store: options.store, models: this.models, metrics: this.metrics, log: this.log, config: () => this.config })
      : null;
  }

  /** Speculation's fixed-pass cache, when speculation is enabled. */
  get fixedPasses(): FixedPassCache | null {
    return this.speculationWiring?.cache ?? null;
  }

  /** Speculation's runner, when speculation is enabled. */
  get speculation(): SpeculativePasses | null {
    return this.speculationWiring?.runner ?? null;
  }

  /** Loads every configured bundle and opens its engine. */
  async start(): Promise<void> {
    await this.models.load(this.config);
    this.runner.start();
  }

  /** Stops taking work, waits for running jobs (SIGTERM drain), closes the engines. */
  async stop(): Promise<void> {
    this.speculationWiring?.stop();
    await this.runner.stop();
    await this.models.close();
  }

  // ---------------------------------------------------------------- public API (gRPC, follower, CLI)

  /** Analyses a study in the store; resolves with the outcome of this run (done, failed or parked). */
  async analyzeStudy(ref: StudyRef, opts: AnalyzeOptions): Promise<StudyResult> {
    const id = await this.options.store.resolve(ref);
    return this.runner.enqueue(id, opts, 'attempt');
  }

  /** For the change-feed follower: resolves once the study is finished (done, parked or gone), never rejects. */
  async handleStableStudy(orthancStudyId: string): Promise<void> {
    await this.runner.enqueue(orthancStudyId, { priority: 'routine', writeBack: true }, 'final').catch((err: unknown) => {
      this.log('stable-study-failed', { orthancStudyId, error: err instanceof Error ? err.message : String(err) });
    });
  }

  /**
   * Shared mode: a ready study this worker claimed. Resolves true once it is finished here (done, parked, gone or
   * claim lost), false when it was not taken (shutting down); never rejects.
   */
  async handleClaimedStudy(orthancStudyId: string, claim: StudyClaim): Promise<boolean> {
    try {
      await this.runner.enqueue(orthancStudyId, { priority: 'routine', writeBack: true, claim }, 'final');
      return true;
    } catch (err) {
      this.log('claimed-study-failed', { orthancStudyId, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  /** Speculation: an instance arrived (NewInstance); its fixed passes start now, best effort. */
  speculate(orthancInstanceId: string): void {
    if (this.runner.isAccepting) this.speculationWiring?.offer(orthancInstanceId);
  }

  /** The open engines by bundle name (the gRPC Classify path shares them instead of opening a second set). */
  engines(): ReadonlyMap<string, T3Engine> {
    return this.models.engines();
  }

  /** Counts the images of a gRPC Classify call with the pipeline's own (GetStatus images_total, /metrics). */
  recordClassifyCall(bundle: string, outcomes: readonly ClassifyOutcome[]): void {
    this.runner.countClassifiedImages(outcomes.reduce((n, o) => n + (o.ok ? o.frames.length : 0), 0));
    this.metrics.observeClassified(bundle, 'classify', outcomes);
  }

  /** The last result of a study in this process, or null. */
  getStudyResult(orthancStudyId: string): StudyResult | null {
    return this.runner.result(orthancStudyId);
  }

  /** True while the queues are full: the follower pauses and gRPC answers RESOURCE_EXHAUSTED. */
  isBusy(): boolean {
    return this.runner.isBusy();
  }

  status(): SidecarStatus {
    const uptimeS = (Date.now() - this.startedAt.getTime()) / 1000;
    const models = this.models.list();
    const counters = this.runner.counters;
    return {
      version: this.version,
      startedAt: this.startedAt.toISOString(),
      executionProviders: Object.fromEntries(models.map((m) => [m.name, m.engine.executionProvider])),
      models: models.map((m) => ({
        name: m.name, bundle: m.bundle.manifest.name, version: m.bundle.manifest.version, dir: m.dir, executionProvider: m.engine.executionProvider,
        fixedPassSessions: m.engine.fixedPassSessions.sessions, fixedPassReason: m.engine.fixedPassSessions.reason,
      })),
      memory: { residentSetMB: residentSetMB(), peakResidentSetMB: peakResidentSetMB(), allocator: memoryAllocator() },
      jobs: this.runner.counts(),
      queues: models.map((m) => ({ bundle: m.name, ...m.batcher.laneDepths, queuedImages: m.batcher.queuedImages, running: m.batcher.busy })),
      throughput: { ...counters, imagesPerSecond: uptimeS > 0 ? counters.imagesClassified / uptimeS : 0, uptimeS },
      accepting: this.runner.isAccepting,
    };
  }

  getConfig(): C {
    return structuredClone(this.config);
  }

  /** Adds a part that applies some settings itself (the gRPC token table); see ConfigParticipant. */
  addConfigParticipant(participant: ConfigParticipant<C>): void {
    this.configParticipants.push(participant);
  }

  /**
   * Validates `partial` merged onto the current configuration, tries it, then commits it. Unless dryRun, the live
   * settings (routing, batching, inference, triage, retry, bundles, gRPC tokens) take effect at once; changes to the
   * others (Orthanc connection, follower, gRPC listen address, …) are validated but not applied, and listed in
   * `restartRequired`. Atomic: an invalid value (the validator's error names the key), a participant that refuses, or
   * a bundle that does not load throws, and nothing changes.
   */
  updateConfig(partial: unknown, opts: { dryRun: boolean; actor?: ConfigActor }): Promise<ConfigUpdate<C>> {
    const run = this.configUpdates.then(() => this.applyConfigUpdate(partial, opts));
    this.configUpdates = run.catch(() => undefined);
    return run;
  }

  private async applyConfigUpdate(partial: unknown, opts: { dryRun: boolean; actor?: ConfigActor }): Promise<ConfigUpdate<C>> {
    const { effective, restartRequired, changed } = proposeConfigUpdate(this.config, partial, {
      validate: this.options.validateConfig,
      merge: this.options.mergeConfig,
    });
    // Try: every participant first (cheap), then the bundles (loading may fail on a missing or broken bundle).
    const commits = this.configParticipants.map((p) => p.prepare(effective, this.config));
    if (opts.dryRun) return { config: structuredClone(effective), applied: false, restartRequired };
    if (changed('bundles')) {
      await this.models.reload(effective);
      // New model files: no logits of the old ones may be used (the keys differ anyway; this frees the memory).
      this.speculationWiring?.cache.clear();
    }
    // Commit: nothing below may fail.
    const before = this.config;
    this.config = effective;
    this.loading.setLimit(effective.inference.decodeConcurrency);
    this.runner.settingsChanged();
    this.models.updateBatching(effective.batching);
    for (const commit of commits) commit();
    // Keys only (values may be secrets); who asked, by token id and the user its caller names. The plugin keeps the
    // full audit record (values before and after, secrets masked).
    this.log('config-changed', {
      changedKeys: differingPaths(before, effective).filter((k) => k !== '(root)'),
      restartRequired,
      tokenId: opts.actor?.tokenId ?? null,
      ...(opts.actor?.orthancUser ? { orthancUser: opts.actor.orthancUser } : {}),
      ...(opts.actor?.remoteAddress ? { remoteAddress: opts.actor.remoteAddress } : {}),
    });
    return { config: structuredClone(effective), applied: true, restartRequired };
  }

  /** Opens the configured bundles again (new files on disk) and swaps them in once the old batchers are idle. */
  async reloadModels(): Promise<{ name: string; version: string; executionProvider: ExecutionProviderName }[]> {
    const reloaded = await this.models.reload(this.config);
    // New model files: no logits of the old ones may be used (the keys differ anyway; this frees the memory).
    this.speculationWiring?.cache.clear();
    return reloaded;
  }

  /** Jobs that failed (waiting for a retry) or were parked. */
  listFailedJobs(): FailedJobRecord[] {
    return this.runner.listFailedJobs();
  }

  /** Runs a failed or parked job again now, with a fresh attempt count. */
  retryJob(id: string): Promise<StudyResult> {
    return this.runner.retryJob(id);
  }

  // ---------------------------------------------------------------- one study, one attempt

  private async process(job: Job): Promise<StudyResult> {
    const t0 = Date.now();
    const snapshot = await this.options.store.snapshot(job.orthancStudyId);
    job.studyInstanceUid = snapshot.studyInstanceUid;
    const routed = routeStudy(snapshot, this.config.routing, (name) => this.models.has(name));
    const result = { ...this.runner.baseResult(job), status: 'running' as const };
    const finish = (r: StudyResult): StudyResult => {
      job.finishedAt = new Date();
      return { ...r, status: 'done', timings: { ...r.timings, finishedAt: job.finishedAt.toISOString(), totalMs: job.finishedAt.getTime() - t0 } };
    };
    if (routed.bundle === null) {
      // Nothing to analyse (only SR/KOS/PR objects, or no rule takes these images): record it, no SR, no retry.
      const reason = skipReason(snapshot, routed);
      const seenBefore = snapshot.state.status === 'skipped' && snapshot.state.error === reason;
      if (job.writeBack && !seenBefore) await this.writeBack.recordSkipped(job, reason);
      const skipped = finish({ ...result, error: reason, failedImages: unroutedFailures(routed, instancePositions(snapshot)) });
      if (seenBefore) this.unchanged.add(skipped);
      return skipped;
    }
    const model = this.models.get(routed.bundle)!;
    const manifest = model.bundle.manifest;
    const policy = policyFor(model.bundle, this.config.inference);
    result.bundle = bundleIdentityOf(manifest);
    result.policy = policy.name;
    result.inputSetHash = inputSetHash({
      sopInstanceUids: routed.images.map((i) => i.sopInstanceUid),
      bundle: { name: manifest.name, version: manifest.version, generalistSha256: result.bundle.generalist.sha256, expertSha256: result.bundle.expert.sha256 },
      policy: policy.name,
    });

    // Already analysed with these inputs (our own SR made the study stable again, or a replay after a crash)?
    if (!job.force && job.writeBack) {
      const reusable = await this.writeBack.findReusable(job, snapshot, result.inputSetHash);
      if (reusable) {
        const reused = reusedResult(job, result, this.runner.result(job.orthancStudyId), reusable, t0, new Date());
        this.unchanged.add(reused);
        return reused;
      }
    }
    if (job.writeBack) await this.writeBack.recordRunning(job);

    const { composed, loadMs, inferMs } = await classifyStudy(snapshot, routed, job.runPriority, {
      store: this.options.store,
      loading: this.loading,
      model,
      pixelSource: this.config.inference.pixelSource,
      framePolicy: this.config.inference.framePolicy,
      triage: this.config.triage,
      onBadImage: this.config.inference.onBadImage,
      maxDecodedImageBytes: this.config.inference.maxDecodedImageBytes,
      cachedFixedPasses: (inst) => this.speculationWiring?.cached(model, inst),
    });
    Object.assign(result, {
      images: composed.images,
      failedImages: composed.failures,
      batchLambdas: composed.batchLambdas,
      modalities: composed.modalities,
      triage: composed.triage,
    });
    result.timings = { ...result.timings, loadMs, inferMs };

    const tWrite = Date.now();
    if (job.writeBack) {
      const srInput = srInputFor(composed, manifest, policy, this.config.batching.batchSize);
      let written: Awaited<ReturnType<WriteBack['writeResult']>>;
      try {
        written = await this.writeBack.writeResult(job, snapshot, srInput, result.inputSetHash, composed.failures);
      } catch (err) {
        if (err instanceof ClaimLostError || err instanceof StudyNotFoundError) throw err;
        // The classification stands (its priority is on the study already): the failure carries it to every list.
        throw new ReportNotWrittenError(err, finish(result));
      }
      result.sr = written.sr;
      result.timings.srStoredAt = written.srStoredAt;
    }
    result.timings.writeMs = Date.now() - tWrite;
    return finish(result);
  }

  /** How a model's batcher classifies a batch: through speculation's fixed passes when it runs, else directly. */
  private batchClassifier(model: LoadedModel): ClassifyFn {
    return (inputs, batchSize) => {
      this.metrics.observeBatch(model.name, inputs.length);
      const options = {
        policy: policyFor(model.bundle, this.config.inference),
        batchSize,
        framePolicy: this.config.inference.framePolicy,
        maxDecodedImageBytes: this.config.inference.maxDecodedImageBytes,
        decodeConcurrency: this.config.inference.decodeConcurrency,
        coefficientSample: this.config.batching.coefficientSample,
      };
      const speculation = this.speculationWiring;
      const classified = speculation
        ? classifyWithFixedPasses(model.engine, inputs, {
          ...options,
          remember: (input, info, frames) => speculation.remember(model, input.name, info, frames),
        })
        : classifyImages(model.engine, inputs, options);
      return classified.then((outcomes) => {
        this.metrics.observeClassified(model.name, 'study', outcomes);
        return outcomes;
      });
    };
  }
}
