import { uniformGenerator } from './random';

/**
 * Paired bootstrap of an accuracy difference (a policy against a reference, on the same images).
 *
 * Images are resampled in blocks of consecutive images rather than one by one: T3B shares one λ_B per batch of
 * consecutive images, so its errors within a batch are not independent, and resampling whole batches keeps that
 * dependence in the interval. Several splits over the same images (the corrupted copies of one base split) are
 * resampled with the same draw of blocks, so the interval of their mean difference is paired across them too.
 */
export interface BootstrapInterval {
  /** Observed difference of accuracies (fraction): policy − reference. */
  difference: number;
  /** Percentile interval of the difference at the requested level. */
  low: number;
  high: number;
}

export interface BootstrapOptions {
  blockSize: number;
  replicates: number;
  seed: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
}

/**
 * pairs[k] holds, for one split, whether the policy (a) and the reference (b) got each image right; every split
 * holds the same images in the same order. The statistic is the mean over splits of (accuracy a − accuracy b).
 */
export function pairedBootstrap(pairs: readonly { a: ArrayLike<number>; b: ArrayLike<number> }[], options: BootstrapOptions): BootstrapInterval {
  if (pairs.length === 0) throw new RangeError('no splits to bootstrap');
  const n = pairs[0].a.length;
  if (n === 0) throw new RangeError('no images to bootstrap');
  for (const p of pairs) {
    if (p.a.length !== n || p.b.length !== n) throw new RangeError('every split of a paired bootstrap must hold the same images');
  }
  if (!(Number.isInteger(options.blockSize) && options.blockSize >= 1)) throw new RangeError(`blockSize must be a positive integer, got ${options.blockSize}`);
  // Per block, the summed difference (a − b) over every split: one replicate is then a sum over drawn blocks.
  const blocks = Math.ceil(n / options.blockSize);
  const blockDiff = new Float64Array(blocks);
  const blockSize = new Float64Array(blocks);
  for (let k = 0; k < blocks; k++) {
    const start = k * options.blockSize;
    const end = Math.min(start + options.blockSize, n);
    let d = 0;
    for (const p of pairs) for (let i = start; i < end; i++) d += p.a[i] - p.b[i];
    blockDiff[k] = d;
    blockSize[k] = end - start;
  }
  const observed = blockDiff.reduce((s, v) => s + v, 0) / (n * pairs.length);
  const random = uniformGenerator(options.seed);
  const stats = new Float64Array(options.replicates);
  for (let r = 0; r < options.replicates; r++) {
    let sum = 0;
    let images = 0;
    for (let k = 0; k < blocks; k++) {
      const pick = Math.floor(random() * blocks);
      sum += blockDiff[pick];
      images += blockSize[pick];
    }
    stats[r] = sum / (images * pairs.length);
  }
  stats.sort();
  const level = options.level ?? 0.95;
  const quantile = (q: number) => stats[Math.min(stats.length - 1, Math.max(0, Math.round(q * (stats.length - 1))))];
  return { difference: observed, low: quantile((1 - level) / 2), high: quantile(1 - (1 - level) / 2) };
}
