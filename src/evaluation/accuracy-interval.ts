/**
 * 95 % Wilson score interval of an accuracy (correct out of n): the interval the "within the accuracy interval of
 * full T3B" comparison reads. Wilson rather than the normal approximation because accuracies near 1 on small splits
 * (128 images) would otherwise get intervals past 100 %.
 */
export function wilsonInterval(correct: number, n: number, z = 1.959963984540054): { low: number; high: number } {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (correct < 0 || correct > n) throw new RangeError(`correct must be in [0, n], got ${correct}`);
  const p = correct / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}
