/**
 * Pixels that every inference worker of a call reads without a copy of its own.
 *
 * A T3B call sends the same batch to three sessions, each in its own worker thread. Copied for each (a transfer
 * needs a buffer of its own), the main thread wrote the batch three times into freshly allocated memory, and fresh
 * memory costs a page fault per 4 KiB: 40–55 ms per copy of a 12.6 MB batch on this project's CI machines, against
 * 1 ms into shared memory touched before, all of it on the event loop. So the engine copies a batch once, into
 * shared memory it keeps for the next call, and the workers read it from there.
 */
export class SharedPixelMemory {
  private readonly free: SharedArrayBuffer[] = [];

  /**
   * keep: how many idle buffers stay for later calls; keptBytes: how much memory they may hold together (a batch of
   * larger images than that allows pays the fresh pages again, once per call rather than once per pass).
   */
  constructor(private readonly keep = 2, private readonly keptBytes = KEPT_PIXEL_BYTES) {}

  /**
   * Runs `use` on the pixels in shared memory: the caller's array when its memory is already shared, else a copy in
   * a buffer that returns to this pool when `use` settles. `use` must not return before every worker it sent the
   * pixels to is done with them.
   */
  async with<T>(pixels: Float32Array, use: (shared: Float32Array) => Promise<T>): Promise<T> {
    if (isShared(pixels)) return use(pixels);
    const buffer = this.take(pixels.byteLength);
    try {
      const shared = new Float32Array(buffer, 0, pixels.length);
      shared.set(pixels);
      return await use(shared);
    } finally {
      this.give(buffer);
    }
  }

  /**
   * Runs `use` on the images of `pixels` at the positions `order` (perImage values each), gathered in that order into
   * a pooled shared buffer: grouped T3B needs each group's images as one contiguous block for its merged pass, and
   * gathering straight into pooled memory is one copy into pages touched before, not a fresh array and a second copy.
   */
  async withGathered<T>(pixels: Float32Array, order: readonly number[], perImage: number, use: (shared: Float32Array) => Promise<T>): Promise<T> {
    const length = order.length * perImage;
    const buffer = this.take(length * Float32Array.BYTES_PER_ELEMENT);
    try {
      const shared = new Float32Array(buffer, 0, length);
      order.forEach((at, i) => shared.set(pixels.subarray(at * perImage, (at + 1) * perImage), i * perImage));
      return await use(shared);
    } finally {
      this.give(buffer);
    }
  }

  /** Bytes held by idle buffers (the tests read it). */
  get idleBytes(): number {
    return this.free.reduce((sum, b) => sum + b.byteLength, 0);
  }

  /** The smallest idle buffer that fits, or a new one. */
  private take(bytes: number): SharedArrayBuffer {
    let best = -1;
    this.free.forEach((b, i) => {
      if (b.byteLength >= bytes && (best < 0 || b.byteLength < this.free[best].byteLength)) best = i;
    });
    if (best >= 0) return this.free.splice(best, 1)[0];
    return new SharedArrayBuffer(bytes);
  }

  /** Keeps the largest idle buffers that fit `keep` and `keptBytes`: a small one is cheap to make again. */
  private give(buffer: SharedArrayBuffer): void {
    this.free.push(buffer);
    this.free.sort((a, b) => b.byteLength - a.byteLength);
    let total = 0;
    const kept = this.free.filter((b) => (total + b.byteLength <= this.keptBytes ? (total += b.byteLength, true) : false));
    this.free.splice(0, this.free.length, ...kept.slice(0, this.keep));
  }
}

/**
 * The most pixel memory kept between calls: by an engine in idle shared buffers, and by each inference worker for its
 * copy of a batch (inference-worker.ts). A batch of 32 images of 3×224×224 takes 19 MB; 512×512 ones take 101 MB
 * and are not kept.
 */
export const KEPT_PIXEL_BYTES = 64 * 1024 * 1024;

/** A tag check rather than instanceof: arrays made in another realm (vm contexts, jest) are still shared. */
export function isShared(pixels: Float32Array): boolean {
  return Object.prototype.toString.call(pixels.buffer) === '[object SharedArrayBuffer]';
}
