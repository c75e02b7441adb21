import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface BurstMemoryReclaimOptions {
  /** Bytes that must have passed since the last collection (default 64 MiB). */
  minBytes?: number;
  /** Wait after the budget drained, so that a burst's last calls finish first (default 1 s). */
  delayMs?: number;
  /** Runs a full collection; V8's own by default. */
  collect?: () => void;
}

let v8FullCollection: (() => void) | null = null;

/** V8's full garbage collection, exposed once for this process (the documented `--expose-gc`, set at run time). */
function fullCollection(): void {
  if (!v8FullCollection) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) v8FullCollection = exposed;
    else {
      setFlagsFromString('--expose-gc');
      v8FullCollection = runInNewContext('gc') as () => void;
    }
  }
  v8FullCollection();
}

/**
 * After a burst of large requests the server's request buffers are dead, but V8 collects dead ArrayBuffers only when
 * JavaScript allocates again: an idle server kept ~420 MiB of them for minutes (measured, 16 × 60 MiB Classify calls).
 * So when the requests held by the byte budget drop to none after at least `minBytes` passed through, one full
 * collection is run `delayMs` later (and not again until the next such burst). It pauses the event loop once, for
 * tens of milliseconds (52–106 ms measured on a 40 MiB heap with this project's modules loaded, machine busy), and
 * only when no request is held.
 */
export class BurstMemoryReclaim {
  private sinceCollection = 0;
  private timer: NodeJS.Timeout | null = null;
  private collections = 0;
  private readonly minBytes: number;
  private readonly delayMs: number;
  private readonly collect: () => void;

  constructor(options: BurstMemoryReclaimOptions = {}) {
    this.minBytes = options.minBytes ?? 64 * 2 ** 20;
    this.delayMs = options.delayMs ?? 1000;
    this.collect = options.collect ?? fullCollection;
  }

  /** Full collections run so far. */
  get collectionsTotal(): number {
    return this.collections;
  }

  /** A request of `bytes` was released; `heldBytes` are still held by other requests. */
  released(bytes: number, heldBytes: number): void {
    this.sinceCollection += bytes;
    if (heldBytes > 0) {
      this.cancel();
      return;
    }
    if (this.sinceCollection < this.minBytes || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sinceCollection = 0;
      this.collections++;
      this.collect();
    }, this.delayMs);
    // A pending collection never keeps the process alive.
    this.timer.unref();
  }

  /** Drops a pending collection (a release while other requests are still held, or the server closing). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
