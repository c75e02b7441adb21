import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker-script';
import type { FrameOutcome, FrameTask } from './frame-task';

export class FrameTimeoutError extends Error {}

interface Job {
  id: number;
  task: FrameTask;
  transfer: ArrayBuffer[];
  timeoutMs: number;
  resolve: (outcome: FrameOutcome) => void;
  reject: (error: Error) => void;
}

interface PoolWorker { worker: Worker; ready: boolean; job?: Job; timer?: NodeJS.Timeout; }

/**
 * A small pool of frame worker threads. Each frame runs under a time limit: a codec that spins (CharLS on a
 * truncated JPEG-LS frame can for 20 s) gets its worker terminated and replaced, and only that frame fails.
 * Idle workers are unref'd so they never keep the process alive.
 */
export class FramePool {
  private readonly workers = new Set<PoolWorker>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`frame pool size must be a positive integer, got ${size}`);
  }

  run(task: FrameTask, timeoutMs: number, transfer: ArrayBuffer[] = []): Promise<FrameOutcome> {
    if (this.closed) return Promise.reject(new Error('frame pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, transfer, timeoutMs, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('frame pool closed'));
    const all = [...this.workers];
    this.workers.clear();
    await Promise.all(all.map(async (w) => {
      if (w.timer) clearTimeout(w.timer);
      w.job?.reject(new Error('frame pool closed'));
      await w.worker.terminate();
    }));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const idle = [...this.workers].find((w) => w.ready && !w.job);
      if (idle) {
        this.assign(idle, this.queue.shift() as Job);
        continue;
      }
      const starting = [...this.workers].filter((w) => !w.ready).length;
      if (this.workers.size >= this.size || starting >= this.queue.length) return;
      this.spawn();
    }
  }

  private assign(w: PoolWorker, job: Job): void {
    w.job = job;
    w.worker.ref();
    w.timer = setTimeout(() => {
      this.retire(w);
      job.reject(new FrameTimeoutError(`frame decoding exceeded ${job.timeoutMs} ms; its worker was terminated`));
      this.dispatch();
    }, job.timeoutMs);
    w.worker.postMessage({ id: job.id, task: job.task }, job.transfer);
  }

  private retire(w: PoolWorker): void {
    if (w.timer) clearTimeout(w.timer);
    this.workers.delete(w);
    w.worker.removeAllListeners();
    w.worker.on('error', () => undefined); // a late error from a terminating worker is of no interest
    void w.worker.terminate();
  }

  private spawn(): void {
    const worker = startWorker(__filename, 'frame-worker');
    const w: PoolWorker = { worker, ready: false };
    this.workers.add(w);
    worker.unref();
    worker.on('message', (message: { ready?: boolean; id?: number; outcome?: FrameOutcome }) => {
      if (message.ready) {
        w.ready = true;
      } else if (w.job && message.id === w.job.id && message.outcome) {
        const job = w.job;
        if (w.timer) clearTimeout(w.timer);
        w.job = undefined;
        w.timer = undefined;
        worker.unref();
        job.resolve(message.outcome);
      }
      this.dispatch();
    });
    const fail = (error: Error): void => {
      const job = w.job ?? (w.ready ? undefined : this.queue.shift());
      this.retire(w);
      job?.reject(new Error(`frame worker failed: ${error.message}`));
      this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.workers.has(w)) fail(new Error(`worker exited with code ${code}`));
    });
  }
}

let shared: FramePool | undefined;
const sharedSize = Math.max(1, Math.min(4, (os.availableParallelism?.() ?? os.cpus().length) - 1));

/** The process-wide pool used by loadModelInputs/decodeFrames; created on first use. */
export function sharedFramePool(): FramePool {
  if (!shared) shared = new FramePool(sharedSize);
  return shared;
}

/** Terminates the shared pool's workers (tests, CLI shutdown); the next decode starts a fresh pool. */
export async function closeSharedFramePool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}
