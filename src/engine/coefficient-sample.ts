/**
 * Which images of a batch give T3B its λ_B when λ_B comes from a sample (`batching.coefficientSample` = k): k
 * positions spread across the batch's series, so each series is represented roughly in proportion to its share of
 * the batch and none is left out while k allows. The images of one series resemble one another, so a few of them
 * stand for the rest; the images of different series may not. Deterministic: the same batch gives the same sample.
 *
 * `seriesOf[i]` is the series (any grouping key) of the batch's i-th image; pass one key for all when the images
 * have none (evaluation), which gives k positions evenly spaced over the batch. Returns sorted positions; all of
 * them when k ≥ the batch size.
 */
export function spreadCoefficientSample(seriesOf: readonly string[], k: number): number[] {
  const count = seriesOf.length;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`the coefficient sample size must be a positive integer, got ${k}`);
  if (k >= count) return Array.from({ length: count }, (_, i) => i);

  // Series in order of first appearance, with their positions.
  const groups = new Map<string, number[]>();
  seriesOf.forEach((series, i) => {
    const positions = groups.get(series);
    if (positions) positions.push(i);
    else groups.set(series, [i]);
  });
  const series = [...groups.values()];
  const quotas = allocate(series.map((positions) => positions.length), k);
  const picked = series.flatMap((positions, s) => evenlySpaced(positions, quotas[s]));
  return picked.sort((a, b) => a - b);
}

/**
 * How many images each series gives: with k ≥ the number of series, at least one each and the rest in proportion
 * (largest remainders, never more than a series has); with fewer, one each from the k largest series (the earlier
 * one on ties).
 */
function allocate(sizes: readonly number[], k: number): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const quotas = sizes.map(() => 0);
  if (k < sizes.length) {
    const largest = sizes.map((size, s) => ({ size, s })).sort((a, b) => b.size - a.size || a.s - b.s).slice(0, k);
    for (const { s } of largest) quotas[s] = 1;
    return quotas;
  }
  const share = sizes.map((size) => (k * size) / total);
  sizes.forEach((size, s) => { quotas[s] = Math.min(size, Math.max(1, Math.floor(share[s]))); });
  let left = k - quotas.reduce((a, b) => a + b, 0);
  // Hand out what is left by largest remainder; take back (from the most over-served) what the minimum of one overdrew.
  while (left > 0) {
    let best = -1;
    for (let s = 0; s < sizes.length; s++) {
      if (quotas[s] >= sizes[s]) continue;
      if (best < 0 || share[s] - quotas[s] > share[best] - quotas[best]) best = s;
    }
    quotas[best]++;
    left--;
  }
  while (left < 0) {
    let worst = -1;
    for (let s = 0; s < sizes.length; s++) {
      if (quotas[s] <= 1) continue;
      if (worst < 0 || quotas[s] - share[s] > quotas[worst] - share[worst]) worst = s;
    }
    quotas[worst]--;
    left++;
  }
  return quotas;
}

/** m of the positions, evenly spaced: the middle of each of m equal stretches. */
function evenlySpaced(positions: readonly number[], m: number): number[] {
  const n = positions.length;
  return Array.from({ length: m }, (_, j) => positions[Math.floor(((j + 0.5) * n) / m)]);
}
