import { CategorizedError } from '../../errors';
import type { ClassifyInput, ClassifyOutcome } from './classify-images';
import { FairLane, type LaneSlice } from './fair-lane';
import type { RunPriority } from '../results/study-result';

export interface BatcherSettings {
  batchSize: number;
  maxDelayMs: number;
  scope: 'study' | 'stream';
  /** Most images waiting before `hasRoom` says no. */
  queueBound: number;
}

/** Runs one classification call (decode + T3B batches) on a list of inputs with one engine. */
export type ClassifyFn = (inputs: ClassifyInput[], batchSize: number) => Promise<ClassifyOutcome[]>;

/** The queue is full; the caller retries later (gRPC: RESOURCE_EXHAUSTED). */
export class QueueFullError extends CategorizedError {
  constructor(bundle: string, queued: number, bound: number) {
    super('resource-exhausted', `queue of bundle "${bundle}" is full (${queued} images waiting, bound ${bound})`);
  }
}

/** One submitted study: its inputs, the outcomes gathered so far (its images may run in several batches). */
interface Work {
  lane: RunPriority;
  inputs: ClassifyInput[];
  outcomes: ClassifyOutcome[];
  /** Outcomes received. */
  done: number;
  resolve(outcomes: ClassifyOutcome[]): void;
  reject(err: unknown): void;
}

/**
 * The T3B batcher of one bundle. Studies wait in two lanes; every batch is filled from the stat lane first. Within a
 * lane the waiting studies take turns batch by batch (fair-lane.ts), so a one-image study that arrives while a
 * 200-image study is being classified goes in the next batch rather than after all 200 images (no head-of-line
 * blocking). With `scope: study` a batch holds one study's images only, so its λ_B depends only on that study (a large
 * study spans several batches: the same batches of `batchSize` images in study order as one call would make, for
 * single-frame images). With `scope: stream` a batch takes images round-robin from every waiting study until
 * `batchSize` images or the oldest has waited `maxDelayMs`, so batches span studies. One classification call (one
 * batch) runs at a time (the engine serialises anyway); the callers load the next studies meanwhile.
 */
export class T3bBatcher {
  private readonly lanes: Record<RunPriority, FairLane<Work>> = { stat: new FairLane(), routine: new FairLane() };
  private running = false;
  private arrival: (() => void) | null = null;
  private idleWaiters: (() => void)[] = [];
  private roomWaiters: (() => void)[] = [];
  readonly stats = { calls: 0, images: 0, studies: 0 };

  constructor(
    readonly bundleName: string,
    private readonly classify: ClassifyFn,
    private settings: BatcherSettings,
  ) {}

  updateSettings(settings: BatcherSettings): void {
    this.settings = settings;
  }

  /** Images submitted and not yet placed in a batch. */
  get queuedImages(): number {
    return this.lanes.stat.items + this.lanes.routine.items;
  }

  /** Studies with images not yet placed in a batch, per lane. */
  get laneDepths(): Record<RunPriority, number> {
    return { stat: this.lanes.stat.entries, routine: this.lanes.routine.entries };
  }

  get busy(): boolean {
    return this.running;
  }

  hasRoom(extraImages = 0): boolean {
    return this.queuedImages + extraImages <= this.settings.queueBound;
  }

  /**
   * Queues one study's inputs; resolves with one outcome per input, in order. A study larger than the whole bound is
   * accepted when the queue is empty, so it cannot starve.
   */
  submit(lane: RunPriority, inputs: ClassifyInput[], options: { bypassBound?: boolean } = {}): Promise<ClassifyOutcome[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    const queued = this.queuedImages;
    if (!options.bypassBound && !this.hasRoom(inputs.length) && queued > 0) {
      return Promise.reject(new QueueFullError(this.bundleName, queued, this.settings.queueBound));
    }
    return new Promise<ClassifyOutcome[]>((resolve, reject) => {
      this.lanes[lane].push({ lane, inputs, outcomes: new Array<ClassifyOutcome>(inputs.length), done: 0, resolve, reject });
      const a = this.arrival;
      this.arrival = null;
      a?.();
      void this.pump();
    });
  }

  /** Resolves once `images` more fit under the bound (immediately when the queue is empty). */
  async waitForRoom(images: number): Promise<void> {
    while (this.queuedImages > 0 && !this.hasRoom(images)) await new Promise<void>((r) => this.roomWaiters.push(r));
  }

  /** Resolves when nothing is queued or running (SIGTERM drain). */
  whenIdle(): Promise<void> {
    if (!this.running && this.queuedImages === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Up to `room` images for the batch being filled: stat first; from one study only unless `mix`. */
  private take(room: number, mix: boolean): LaneSlice<Work>[] {
    const slices = this.lanes.stat.take(room, mix);
    const placed = slices.reduce((n, s) => n + s.count, 0);
    if (mix || slices.length === 0) slices.push(...this.lanes.routine.take(room - placed, mix));
    if (slices.length > 0) this.wakeRoomWaiters();
    return slices;
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  private waitForArrival(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.arrival = null;
        resolve();
      }, ms);
      this.arrival = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The next batch: one study's next images (`scope: study`), or images of every waiting study (`scope: stream`). */
  private async nextBatch(): Promise<LaneSlice<Work>[]> {
    const size = this.settings.batchSize;
    if (this.settings.scope !== 'stream') return this.take(size, false);
    const batch = this.take(size, true);
    if (batch.length === 0) return batch;
    const deadline = Date.now() + this.settings.maxDelayMs;
    let count = batch.reduce((n, s) => n + s.count, 0);
    while (count < size) {
      const more = this.take(size - count, true);
      if (more.length > 0) {
        for (const s of more) {
          // A study already in the batch continues where its slice ended: one contiguous slice per study.
          const same = batch.find((b) => b.entry === s.entry);
          if (same) same.count += s.count;
          else batch.push(s);
          count += s.count;
        }
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.waitForArrival(left);
    }
    return batch;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const batch = await this.nextBatch();
        if (batch.length === 0) break;
        await this.runBatch(batch);
      }
    } finally {
      this.running = false;
      if (this.queuedImages === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      } else {
        void this.pump();
      }
    }
  }

  private async runBatch(batch: LaneSlice<Work>[]): Promise<void> {
    const inputs = batch.flatMap((s) => s.entry.inputs.slice(s.start, s.start + s.count));
    this.stats.calls++;
    this.stats.images += inputs.length;
    let outcomes: ClassifyOutcome[];
    try {
      outcomes = await this.classify(inputs, this.settings.batchSize);
    } catch (err) {
      // The studies of this batch fail as a whole (their images still waiting are dropped); the others go on.
      let dropped = 0;
      for (const s of batch) {
        dropped += this.lanes[s.entry.lane].remove(s.entry);
        s.entry.reject(err);
      }
      if (dropped > 0) this.wakeRoomWaiters();
      return;
    }
    let offset = 0;
    for (const s of batch) {
      const work = s.entry;
      for (let i = 0; i < s.count; i++) work.outcomes[s.start + i] = outcomes[offset + i];
      offset += s.count;
      work.done += s.count;
      if (work.done === work.inputs.length) {
        this.stats.studies++;
        work.resolve(work.outcomes);
      }
    }
  }
}
