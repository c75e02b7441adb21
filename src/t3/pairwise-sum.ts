/**
 * Sum in numpy's pairwise order (blocks of 8 accumulators, halving above 128 values).
 * Plain float64 sums agree with the numpy reference to ~1e-16, but the offset-adjusted DaWin coefficient divides
 * the spread of the entropies by their mean: when every entropy of a model is ~1e-11 (one-hot-like outputs) the
 * last-ulp noise of the sums IS the spread, so the order of additions must match the reference's to reproduce it.
 */
export function pairwiseSum(values: ArrayLike<number>, start = 0, count = values.length - start): number {
  if (count < 8) {
    let res = 0;
    for (let i = 0; i < count; i++) res += values[start + i];
    return res;
  }
  if (count <= 128) {
    const r0 = values[start], r1 = values[start + 1], r2 = values[start + 2], r3 = values[start + 3];
    const r4 = values[start + 4], r5 = values[start + 5], r6 = values[start + 6], r7 = values[start + 7];
    const acc = [r0, r1, r2, r3, r4, r5, r6, r7];
    const end = count - (count % 8);
    let i = 8;
    for (; i < end; i += 8) {
      for (let j = 0; j < 8; j++) acc[j] += values[start + i + j];
    }
    let res = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < count; i++) res += values[start + i];
    return res;
  }
  let half = Math.floor(count / 2);
  half -= half % 8;
  return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, count - half);
}
