import { CategorizedError } from '../errors';
import type { ClassifyInput, ClassifyOutcome } from './classify-images';
import type { RunPriority } from './study-result';

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

interface Work {
  lane: RunPriority;
  inputs: ClassifyInput[];
  resolve(outcomes: ClassifyOutcome[]): void;
  reject(err: unknown): void;
}

/**
 * The T3B batcher of one bundle. Studies wait in two lanes (stat before routine). With `scope: study` each study is
 * classified on its own, so its λ_B depends only on its own images (a large study spans several batches). With
 * `scope: stream` studies are packed together until `batchSize` images are waiting or the oldest has waited
 * `maxDelayMs`, so batches span studies. One classification call runs at a time (the engine serialises anyway);
 * the callers load the next studies meanwhile, so loading overlaps inference.
 */
export class T3bBatcher {
  private readonly lanes: Record<RunPriority, Work[]> = { stat: [], routine: [] };
  private queued = 0;
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

  get queuedImages(): number {
    return this.queued;
  }

  get laneDepths(): Record<RunPriority, number> {
    return { stat: this.lanes.stat.length, routine: this.lanes.routine.length };
  }

  get busy(): boolean {
    return this.running;
  }

  hasRoom(extraImages = 0): boolean {
    return this.queued + extraImages <= this.settings.queueBound;
  }

  /**
   * Queues one study's inputs; resolves with one outcome per input, in order. A study larger than the whole bound is
   * accepted when the queue is empty, so it cannot starve.
   */
  submit(lane: RunPriority, inputs: ClassifyInput[], options: { bypassBound?: boolean } = {}): Promise<ClassifyOutcome[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    if (!options.bypassBound && !this.hasRoom(inputs.length) && this.queued > 0) {
      return Promise.reject(new QueueFullError(this.bundleName, this.queued, this.settings.queueBound));
    }
    return new Promise<ClassifyOutcome[]>((resolve, reject) => {
      this.lanes[lane].push({ lane, inputs, resolve, reject });
      this.queued += inputs.length;
      const a = this.arrival;
      this.arrival = null;
      a?.();
      void this.pump();
    });
  }

  /** Resolves once `images` more fit under the bound (immediately when the queue is empty). */
  async waitForRoom(images: number): Promise<void> {
    while (this.queued > 0 && !this.hasRoom(images)) await new Promise<void>((r) => this.roomWaiters.push(r));
  }

  /** Resolves when nothing is queued or running (SIGTERM drain). */
  whenIdle(): Promise<void> {
    if (!this.running && this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private take(): Work | undefined {
    const work = this.lanes.stat.shift() ?? this.lanes.routine.shift();
    if (work) {
      this.queued -= work.inputs.length;
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const w of waiters) w();
    }
    return work;
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

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const first = this.take();
        if (!first) break;
        const group = [first];
        let count = first.inputs.length;
        if (this.settings.scope === 'stream') {
          const deadline = Date.now() + this.settings.maxDelayMs;
          while (count < this.settings.batchSize) {
            const next = this.take();
            if (next) {
              group.push(next);
              count += next.inputs.length;
              continue;
            }
            const left = deadline - Date.now();
            if (left <= 0) break;
            await this.waitForArrival(left);
          }
        }
        await this.runGroup(group);
      }
    } finally {
      this.running = false;
      if (this.queued === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      } else {
        void this.pump();
      }
    }
  }

  private async runGroup(group: Work[]): Promise<void> {
    const inputs = group.flatMap((w) => w.inputs);
    this.stats.calls++;
    this.stats.images += inputs.length;
    this.stats.studies += group.length;
    let outcomes: ClassifyOutcome[];
    try {
      outcomes = await this.classify(inputs, this.settings.batchSize);
    } catch (err) {
      for (const w of group) w.reject(err);
      return;
    }
    let offset = 0;
    for (const w of group) {
      w.resolve(outcomes.slice(offset, offset + w.inputs.length));
      offset += w.inputs.length;
    }
  }
}
