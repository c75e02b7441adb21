import { CheckpointStore } from './checkpoint-store';
import { diagnoseOrthancFailure, type OrthancDiagnosis } from './connection-diagnosis';
import { OrthancClient } from './orthanc-client';
import { ProblemReporter } from './problem-reporter';

export interface FollowerOptions {
  pollIntervalMs: number;
  changesLimit: number;
  maxBackoffMs: number;
  /** While Orthanc stays unusable, the problem is logged again this often (≤ 60 s); default 30 s. */
  problemRepeatMs?: number;
}

export interface FollowerHooks {
  /**
   * Called for each StableStudy change. The returned promise settles when the study's work is finished (done, or
   * its failure durably recorded); until then the checkpoint stays below `seq`.
   */
  onStableStudy(orthancStudyId: string, seq: number): Promise<void>;
  /**
   * Called for each NewInstance change when set (speculative passes; shared-mode readiness). Like onStableStudy, the
   * checkpoint stays below `seq` until the returned promise settles.
   */
  onNewInstance?(orthancInstanceId: string, seq: number): Promise<void>;
  /** True while the pipeline's queue is full: the follower stops reading changes (backpressure). */
  isBusy(): boolean;
  log?(event: string, fields: Record<string, unknown>): void;
}

export type FollowerState = 'stopped' | 'following' | 'paused' | 'orthanc-down';

/**
 * Follows Orthanc's /changes log from a durable checkpoint. The checkpoint is the low-watermark of unfinished work,
 * so a crash replays (and idempotent processing skips) rather than loses. Seq gaps (deleted resources) need nothing;
 * `Last` below the checkpoint means the database was reset and following restarts at 0; an unreachable Orthanc is
 * retried with capped exponential backoff, never thrown.
 */
export class ChangeFollower {
  private cursor = 0;
  private readonly inFlight = new Set<number>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private saveChain: Promise<void> = Promise.resolve();
  private lastSaved = -1;
  private backoffMs = 0;
  state: FollowerState = 'stopped';
  /** The last error talking to Orthanc, as the diagnosis says it (null once a poll succeeds again). */
  lastError: string | null = null;
  /** Reports a lasting Orthanc problem at a bounded rate; shared with the start-up probe. */
  readonly problems: ProblemReporter;
  /** Counters for status and metrics. */
  readonly stats = { polls: 0, stableStudies: 0, resets: 0, orthancErrors: 0 };

  constructor(
    private readonly client: OrthancClient,
    private readonly checkpoint: CheckpointStore,
    private readonly options: FollowerOptions,
    private readonly hooks: FollowerHooks,
  ) {
    this.problems = new ProblemReporter((event, fields) => this.hooks.log?.(event, fields), options.problemRepeatMs ?? 30000);
  }

  /** What is wrong with Orthanc now, or null. */
  get problem(): OrthancDiagnosis | null {
    return this.problems.problem;
  }

  /**
   * One /system request, reported like a failed poll: run at start while the models load, so a wrong URL or password
   * is said within a second or two, not after the engines are open.
   */
  async probe(): Promise<boolean> {
    try {
      await this.client.system();
      return true;
    } catch (err) {
      this.noteFailure(err, null);
      return false;
    }
  }

  private noteFailure(err: unknown, retryInMs: number | null): void {
    const diagnosis = diagnoseOrthancFailure(err, this.client.baseUrl, this.client.hasCredentials);
    this.lastError = diagnosis.message;
    this.state = 'orthanc-down';
    this.problems.report(diagnosis, retryInMs === null ? {} : { retryInMs });
  }

  get position(): { cursor: number; lowWatermark: number; inFlight: number } {
    return { cursor: this.cursor, lowWatermark: this.lowWatermark(), inFlight: this.inFlight.size };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.cursor = await this.checkpoint.load();
    this.lastSaved = this.cursor;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops polling and saves the checkpoint. Studies already handed over keep running; call `flush()` after they
   * finished (the Sidecar's stop) to save the final low-watermark. Work that never finished keeps the checkpoint
   * below it, so the next start replays it.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp();
    await this.loop;
    this.loop = null;
    await this.flush();
    this.state = 'stopped';
  }

  /** Saves the current low-watermark now. */
  async flush(): Promise<void> {
    await this.saveCheckpoint();
  }

  /** Polls now instead of waiting for the interval (a hint pushed by the plugin, or the queue draining). */
  wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private lowWatermark(): number {
    if (this.inFlight.size === 0) return this.cursor;
    return Math.min(...this.inFlight) - 1;
  }

  private saveCheckpoint(): Promise<void> {
    this.saveChain = this.saveChain
      .then(async () => {
        const seq = this.lowWatermark();
        if (seq === this.lastSaved) return;
        await this.checkpoint.save(seq);
        this.lastSaved = seq;
      })
      .catch((err: unknown) => this.hooks.log?.('checkpoint-save-failed', { error: (err as Error).message }));
    return this.saveChain;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.hooks.isBusy()) {
        this.state = 'paused';
        await this.sleep(this.options.pollIntervalMs);
        continue;
      }
      let page;
      try {
        page = await this.client.changes(this.cursor, this.options.changesLimit);
        this.stats.polls++;
        this.problems.clear({ cursor: this.cursor });
        this.backoffMs = 0;
        this.lastError = null;
        this.state = 'following';
      } catch (err) {
        this.stats.orthancErrors++;
        this.backoffMs = Math.min(this.options.maxBackoffMs, this.backoffMs === 0 ? this.options.pollIntervalMs : this.backoffMs * 2);
        this.noteFailure(err, this.backoffMs);
        await this.sleep(this.backoffMs);
        continue;
      }
      if (page.Changes.length === 0 && page.Last < this.cursor) {
        // The change log is behind our checkpoint: Orthanc's database was reset. Start over.
        this.stats.resets++;
        this.hooks.log?.('orthanc-database-reset', { checkpoint: this.cursor, last: page.Last });
        this.cursor = 0;
        await this.saveCheckpoint();
        continue;
      }
      let stoppedEarly = false;
      for (const change of page.Changes) {
        if (!this.running || this.hooks.isBusy()) {
          stoppedEarly = true;
          break;
        }
        const stable = change.ChangeType === 'StableStudy' && change.ResourceType === 'Study';
        const newInstance = change.ChangeType === 'NewInstance' && change.ResourceType === 'Instance' && this.hooks.onNewInstance !== undefined;
        if (stable || newInstance) {
          if (stable) this.stats.stableStudies++;
          const seq = change.Seq;
          this.inFlight.add(seq);
          (stable ? this.hooks.onStableStudy(change.ID, seq) : this.hooks.onNewInstance!(change.ID, seq))
            .catch((err: unknown) => this.hooks.log?.(stable ? 'study-handler-failed' : 'instance-handler-failed', { [stable ? 'orthancStudyId' : 'orthancInstanceId']: change.ID, error: (err as Error).message }))
            .finally(() => {
              this.inFlight.delete(seq);
              void this.saveCheckpoint();
            });
        }
        this.cursor = change.Seq;
      }
      if (!stoppedEarly && page.Changes.length === 0) this.cursor = Math.max(this.cursor, page.Last);
      await this.saveCheckpoint();
      if (stoppedEarly || page.Done) await this.sleep(this.options.pollIntervalMs);
    }
  }
}
