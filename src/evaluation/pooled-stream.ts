import type { PreparedSplit } from './evaluation-runner';
import { hashSeed, uniformGenerator } from './random';

/**
 * The pooled stream: every split's images in one seeded random order, so that consecutive images (one T3B batch)
 * come from different domains — the case where one λ_B per batch must serve images that would each want their own.
 * eval reports it as its own stream; fit puts it into the objective, so a map is chosen for mixed batches too.
 */

/** [split index, image index] of every image of splits of these sizes, in the pooled stream's order (a
 *  Fisher–Yates shuffle driven by the seed's name: the same sizes and name always give the same order). */
export function pooledOrder(sizes: readonly number[], seedName: string): [number, number][] {
  const pool: [number, number][] = sizes.flatMap((size, s) => Array.from({ length: size }, (_, i): [number, number] => [s, i]));
  const random = uniformGenerator(hashSeed(seedName));
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool;
}

/** The prepared images of `splits` in `order` (from pooledOrder), as one split named `name`; each image's source is
 *  the name of the split it came from (what grouped T3B by series groups by: one split, one device and protocol). */
export function pooledPreparedSplit(name: string, splits: readonly PreparedSplit[], order: readonly [number, number][]): PreparedSplit {
  const perImage = splits[0].tensors.length / Math.max(1, splits[0].labels.length);
  const tensors = new Float32Array(order.length * perImage);
  order.forEach(([s, i], k) => tensors.set(splits[s].tensors.subarray(i * perImage, (i + 1) * perImage), k * perImage));
  return { name, kind: 'clean', tensors, labels: order.map(([s, i]) => splits[s].labels[i]), sources: order.map(([s]) => splits[s].name) };
}
