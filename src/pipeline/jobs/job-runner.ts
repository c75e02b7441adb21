import { CategorizedError, errorCategory } from '../../errors';
import type { PolicyName } from '../../t3';
import { QueueFullError } from '../classification/batcher';
import { systemClock, type JobClock } from './job-clock';
import { JobTable, type Job } from './job-state';
import type { PipelineMetrics } from './metrics';
import type { ResultFeed } from './result-feed';
import { ReportNotWrittenError } from '../results/report-not-written';
import { isPermanentFailure, retryDelayMs, shouldPark, type RetrySettings } from './retry-policy';
import { Semaphore } from './semaphore';
import { ClaimLostError, type StudyClaim } from './study-claim';
import { queuedStudyResult, type JobStatus, type RunPriority, type StudyResult } from '../results/study-result';
import { StudyNotFoundError } from './study-store';

export type SidecarLog = (event: string, fields: Record<string, unknown>) => void;

export interface EnqueueOptions {
  priority: RunPriority;
  writeBack: boolean;
  /** Analyse again even when a result exists for the same input set (the administrator's re-run). */
  force?: boolean;
  /** Shared mode: the claim this run holds; every write is preceded by confirming it. */
  claim?: StudyClaim;
}

export interface JobRunnerSettings {
  retry: RetrySettings;
  /** Jobs that may wait before new routine work is refused. */
  queueBound: number;
  /** Jobs past the queue at once. */
  activeLimit: number;
  /** The policy results record when a job fails before it classified anything. */
  policy: PolicyName;
}

export interface FailedJobRecord {
  id: string;
  orthancStudyId: string;
  status: Extract<JobStatus, 'failed' | 'parked'>;
  attempts: number;
  error: string | null;
  nextAttemptAt: string | null;
}

export interface JobRunnerDeps {
  /** One attempt at a job: resolves with its result, or throws (the runner retries, parks or drops it). */
  process(job: Job): Promise<StudyResult>;
  /** A result that only confirms an earlier one (same input set): counted, not published again. */
  isUnchanged(result: StudyResult): boolean;
  /** Records a failed or parked job durably (write-back jobs only); must not throw for a failed write. */
  recordFailure(job: Job): Promise<void>;
  /** True while the inference queues have no room (new routine work is refused, the follower pauses). */
  inferenceFull(): boolean;
  settings(): JobRunnerSettings;
  metrics: PipelineMetrics;
  feed: ResultFeed;
  log: SidecarLog;
  clock?: JobClock;
  /** Spreads retry delays (in [0, 1]); Math.random unless a test fixes it. */
  random?: () => number;
}

/** A short label for a failure, for metrics: its category or code, never the message. */
function failureReason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[a-z0-9-]+$/i.test(code)) return code;
  return errorCategory(err);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Results kept for GetStudyResult, and jobs kept once finished: bounded, oldest forgotten first. */
const RESULTS_KEPT = 5000;

/**
 * Queue, run, retry and park: one job per study at a time, at most `activeLimit` past the queue, failures retried
 * with doubling delays until `retry.maxAttempts`, then parked. Callers wait for the outcome of the next attempt
 * ('attempt') or for the job to finish for good ('final').
 */
export class JobRunner {
  private readonly jobs = new JobTable();
  private readonly active: Semaphore;
  private readonly waiters = new Map<string, { attempt: ((r: StudyResult) => void)[]; final: ((r: StudyResult) => void)[] }>();
  private readonly retryTimers = new Map<string, unknown>();
  private readonly results = new Map<string, StudyResult>();
  private readonly clock: JobClock;
  private readonly random: () => number;
  private accepting = false;
  readonly counters = { studiesDone: 0, studiesFailed: 0, imagesClassified: 0 };

  /** Images classified outside the job queue (gRPC Classify on the same engines): part of imagesClassified. */
  countClassifiedImages(images: number): void {
    this.counters.imagesClassified += images;
  }

  constructor(private readonly deps: JobRunnerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
    this.active = new Semaphore(deps.settings().activeLimit);
  }

  start(): void {
    this.accepting = true;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Stops taking work and cancels pending retries; resolves once no job is running (SIGTERM drain). */
  async stop(pollMs = 50): Promise<void> {
    this.accepting = false;
    for (const t of this.retryTimers.values()) this.clock.cancel(t);
    this.retryTimers.clear();
    while (this.jobs.list((j) => j.status === 'running').length > 0) await new Promise((r) => setTimeout(r, pollMs));
  }

  /** The configuration changed: the concurrency limit follows at once. */
  settingsChanged(): void {
    this.active.setLimit(this.deps.settings().activeLimit);
  }

  isBusy(): boolean {
    return this.deps.inferenceFull() || this.queuedCount() >= this.deps.settings().queueBound;
  }

  counts(): Record<JobStatus, number> {
    return this.jobs.countBy();
  }

  /** The last result of a study in this process, or null. */
  result(orthancStudyId: string): StudyResult | null {
    return this.results.get(orthancStudyId) ?? this.jobs.get(orthancStudyId)?.lastResult ?? null;
  }

  /**
   * Starts (or joins) the study's job. A job already queued or running is joined: it runs once more afterwards (the
   * study may have changed) in the more urgent lane. Rejects with 'unavailable' while not accepting work, and with
   * QueueFullError when routine work arrives while the queues are full.
   */
  enqueue(orthancStudyId: string, opts: EnqueueOptions, wait: 'attempt' | 'final'): Promise<StudyResult> {
    if (!this.accepting) {
      return Promise.reject(new CategorizedError('unavailable', 'the sidecar is not accepting work (starting or shutting down)'));
    }
    let job = this.jobs.get(orthancStudyId);
    if (job && (job.status === 'queued' || job.status === 'running')) {
      if (job.status === 'running') job.rerunRequested = true;
      if (opts.priority === 'stat') job.runPriority = 'stat';
      job.writeBack ||= opts.writeBack;
      if (opts.force && !job.force) {
        job.force = true;
        job.rerunId = this.clock.now().toISOString();
      }
      if (opts.claim) job.claim = opts.claim;
      return this.waitFor(orthancStudyId, wait);
    }
    if (job) {
      this.cancelRetry(job.id);
      this.jobs.delete(job.id);
    } else if (this.isBusy() && opts.priority !== 'stat' && wait === 'attempt') {
      return Promise.reject(new QueueFullError('*', this.queuedCount(), this.deps.settings().queueBound));
    }
    job = this.jobs.create({ orthancStudyId, runPriority: opts.priority, writeBack: opts.writeBack, force: opts.force === true }, this.clock.now());
    job.claim = opts.claim ?? null;
    const promise = this.waitFor(orthancStudyId, wait);
    void this.runJob(job);
    if (this.jobs.size > RESULTS_KEPT + 100) this.jobs.prune(RESULTS_KEPT);
    return promise;
  }

  /** Jobs that failed (waiting for a retry) or were parked. */
  listFailedJobs(): FailedJobRecord[] {
    return this.jobs
      .list((j) => j.status === 'failed' || j.status === 'parked')
      .map((j) => ({
        id: j.id,
        orthancStudyId: j.orthancStudyId,
        status: j.status as FailedJobRecord['status'],
        attempts: j.attempts,
        error: j.error,
        nextAttemptAt: j.nextAttemptAt?.toISOString() ?? null,
      }));
  }

  /** Runs a failed or parked job again now, with a fresh attempt count; resolves with that attempt's result. */
  retryJob(id: string): Promise<StudyResult> {
    const job = this.jobs.get(id);
    if (!job || (job.status !== 'failed' && job.status !== 'parked')) {
      return Promise.reject(new CategorizedError('not-found', `no failed or parked job "${id}"`));
    }
    this.cancelRetry(id);
    job.attempts = 0;
    job.status = 'queued';
    job.nextAttemptAt = null;
    const promise = this.waitFor(id, 'attempt');
    void this.runJob(job);
    return promise;
  }

  /** A result with nothing classified yet, for this job. */
  baseResult(job: Job): StudyResult {
    return queuedStudyResult({
      jobId: job.id,
      orthancStudyId: job.orthancStudyId,
      studyInstanceUid: job.studyInstanceUid,
      policy: this.deps.settings().policy,
      runPriority: job.runPriority,
      status: job.status,
      error: job.error,
      attempts: job.attempts,
      queuedAt: job.queuedAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
    });
  }

  private queuedCount(): number {
    return this.jobs.list((j) => j.status === 'queued').length;
  }

  private cancelRetry(id: string): void {
    const timer = this.retryTimers.get(id);
    if (timer !== undefined) this.clock.cancel(timer);
    this.retryTimers.delete(id);
  }

  private waitFor(id: string, kind: 'attempt' | 'final'): Promise<StudyResult> {
    return new Promise((resolve) => {
      let w = this.waiters.get(id);
      if (!w) this.waiters.set(id, (w = { attempt: [], final: [] }));
      w[kind].push(resolve);
    });
  }

  private settle(job: Job, result: StudyResult, final: boolean): void {
    job.lastResult = result;
    this.results.set(job.orthancStudyId, result);
    if (this.results.size > RESULTS_KEPT) this.results.delete(this.results.keys().next().value as string);
    const w = this.waiters.get(job.id);
    if (!w) return;
    for (const r of w.attempt.splice(0)) r(result);
    if (final) {
      for (const r of w.final.splice(0)) r(result);
      this.waiters.delete(job.id);
    }
  }

  private async runJob(job: Job): Promise<void> {
    // Waiting here, the job is 'queued' and holds nothing but its id; isBusy() counts these.
    await this.active.use(async () => {
      // Shutting down: leave it queued. Its StableStudy stays above the saved checkpoint, so a restart replays it.
      if (!this.accepting) return;
      await this.runAttempt(job);
    });
  }

  private async runAttempt(job: Job): Promise<void> {
    job.status = 'running';
    job.startedAt = this.clock.now();
    job.attempts++;
    job.rerunRequested = false;
    let result: StudyResult;
    try {
      result = await this.deps.process(job);
    } catch (err) {
      await this.fail(job, err);
      return;
    }
    // `force` holds through the retries of this job, and ends with its success.
    job.force = false;
    job.rerunId = null;
    job.reportError = null;
    job.status = 'done';
    job.error = null;
    job.finishedAt = this.clock.now();
    this.countSuccess(job, result);
    const again = job.rerunRequested;
    this.settle(job, result, !again);
    if (again) {
      job.status = 'queued';
      void this.runJob(job);
    }
  }

  private countSuccess(job: Job, result: StudyResult): void {
    const { metrics } = this.deps;
    const unchanged = this.deps.isUnchanged(result);
    if (unchanged) metrics.countOutcome('unchanged');
    else if (!result.sr) metrics.countOutcome(result.images.length === 0 ? 'skipped' : 'done');
    else {
      metrics.countOutcome('done', result.failedImages.length ? 'partial' : '');
      metrics.observeLatency((Date.parse(result.timings.finishedAt ?? '') - job.queuedAt.getTime()) / 1000);
    }
    if (!unchanged) {
      // A study seen again with the inputs it was analysed with (our own SR makes it stable again) is not news.
      this.counters.studiesDone++;
      this.counters.imagesClassified += result.images.length;
      this.deps.feed.publish(result);
    }
    this.deps.log(unchanged ? 'study-unchanged' : 'study-done', {
      orthancStudyId: job.orthancStudyId,
      priority: result.triage?.priority ?? null,
      images: result.images.length,
      failedImages: result.failedImages.length,
      sr: result.sr?.orthancInstanceId ?? null,
      reused: result.sr?.reused ?? false,
      ms: result.timings.totalMs,
    });
  }

  private async fail(job: Job, err: unknown): Promise<void> {
    job.finishedAt = this.clock.now();
    job.error = errorText(err);
    if (err instanceof StudyNotFoundError || err instanceof ClaimLostError) {
      // Deleted from Orthanc, or another worker owns the study now: nothing to retry, nothing to write here.
      const gone = err instanceof StudyNotFoundError;
      this.deps.metrics.countOutcome(gone ? 'gone' : 'claim-lost');
      job.status = 'failed';
      this.deps.log(gone ? 'study-gone' : 'claim-lost', { orthancStudyId: job.orthancStudyId });
      const result = this.baseResult(job);
      this.jobs.delete(job.id);
      this.settle(job, result, true);
      return;
    }
    const settings = this.deps.settings();
    // An input that fails the same way every time is parked at once, with its reason; the rest is retried.
    const permanent = isPermanentFailure(err);
    const park = permanent || shouldPark(settings.retry, job.attempts);
    job.status = park ? 'parked' : 'failed';
    // Classified, but no SR: the priority and findings are kept in the result (and on the study) with the failure.
    const classified = err instanceof ReportNotWrittenError ? err.result : null;
    job.reportError = classified ? job.error : null;
    this.counters.studiesFailed++;
    this.deps.metrics.countOutcome(job.status, failureReason(err));
    this.deps.log(park ? 'study-parked' : 'study-failed', {
      orthancStudyId: job.orthancStudyId, attempts: job.attempts, permanent, classified: classified !== null, error: job.error,
    });
    if (job.writeBack) await this.deps.recordFailure(job);
    const base = this.baseResult(job);
    const result = classified
      ? { ...classified, jobId: base.jobId, status: base.status, error: base.error, attempts: base.attempts, timings: { ...classified.timings, finishedAt: base.timings.finishedAt } }
      : base;
    this.deps.feed.publish(result);
    if (park) {
      job.nextAttemptAt = null;
      this.settle(job, result, true);
      return;
    }
    const delay = retryDelayMs(settings.retry, job.attempts, this.random);
    job.nextAttemptAt = new Date(this.clock.now().getTime() + delay);
    this.settle(job, result, false);
    const timer = this.clock.schedule(() => {
      this.retryTimers.delete(job.id);
      if (!this.accepting || job.status !== 'failed') return;
      job.status = 'queued';
      job.nextAttemptAt = null;
      void this.runJob(job);
    }, delay);
    this.retryTimers.set(job.id, timer);
  }
}
