import * as grpc from '@grpc/grpc-js';
import { CallError } from './status-mapping';

/**
 * Bounds the classify work the server holds: at most `maxInFlight` calls run, at most `maxWaiting` wait in FIFO
 * order; a call beyond that is refused with RESOURCE_EXHAUSTED at once (the client backs off), so memory stays
 * bounded however many clients connect. A waiting call whose client cancels leaves the queue immediately.
 */
export class AdmissionQueue {
  private running = 0;
  private readonly waiting: { grant: () => void; fail: (err: Error) => void; signal: AbortSignal; onAbort: () => void }[] = [];
  private rejected = 0;

  constructor(readonly maxInFlight: number, readonly maxWaiting: number) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be an integer ≥ 0, got ${maxWaiting}`);
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  get rejectedTotal(): number {
    return this.rejected;
  }

  /** Resolves with a release function once the call may run; rejects with RESOURCE_EXHAUSTED or CANCELLED. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(new CallError(grpc.status.CANCELLED, 'the call was cancelled before it started'));
    if (this.running < this.maxInFlight) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxWaiting) {
      this.rejected++;
      return Promise.reject(new CallError(
        grpc.status.RESOURCE_EXHAUSTED,
        `classify queue is full (${this.running} running, ${this.waiting.length} waiting); retry with backoff`,
      ));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        signal,
        grant: () => {
          signal.removeEventListener('abort', entry.onAbort);
          this.running++;
          resolve(this.releaser());
        },
        fail: reject,
        onAbort: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new CallError(grpc.status.CANCELLED, 'the call was cancelled while queued'));
        },
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.waiting.shift();
      if (next) next.grant();
    };
  }
}
