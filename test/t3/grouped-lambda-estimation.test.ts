import { DEFAULT_SEQUENTIAL_SETTINGS, estimateBatchLambda, estimateGroupLambdas, resolveHyperparameters, T3InputError } from '../../src/t3';

// A steep map like the fitted ones (λ 1.1 below JS 0.07, 0.1 above), λ of the mean JS.
const hp = resolveHyperparameters({ lambdaMin: 1.1, lambdaMax: 0.1, gamma: 128, jsThreshold: 0.07, batchAggregation: 'lambda-of-mean-js' });
const grouping = { groupBy: 'series' as const, minGroupSize: 8, maxGroups: 2 };

/**
 * Fixed-pass logits of two classes whose JS divergence is low for series A's images (both models agree) and high for
 * series B's (they disagree), with a small per-image variation; records every call's positions.
 */
function runnerFor(sources: readonly string[], calls: number[][]) {
  return async (positions: readonly number[]) => {
    calls.push([...positions]);
    const pt = positions.map((at) => [2 + 0.01 * at, 0]);
    const ft = positions.map((at) => (sources[at] === 'A' ? [2 + 0.01 * at, 0] : [-3 - 0.01 * at, 0]));
    return { pt, ft };
  };
}

test('each fixed-pass call holds images of one group only, and each group decides its own side of the step', async () => {
  const sources = Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? 'A' : 'B'));
  const calls: number[][] = [];
  const result = await estimateGroupLambdas(32, sources, hp, grouping, { sequential: { ...DEFAULT_SEQUENTIAL_SETTINGS } }, 11, runnerFor(sources, calls));
  expect(result.groupOf).toEqual(sources.map((s) => (s === 'A' ? 0 : 1)));
  for (const positions of calls) expect(new Set(positions.map((at) => sources[at])).size).toBe(1);
  // Homogeneous groups decide at their first look of 8.
  expect(result.groups.map((g) => [g.record?.outcome, g.record?.sampled])).toEqual([['decided', 8], ['decided', 8]]);
  expect(result.groups.map((g) => g.series)).toEqual(['A', 'B']);
  expect(result.fixedPassCalls).toBe(2);
  expect(result.groups[0].lambda).toBeGreaterThan(1);
  expect(result.groups[1].lambda).toBeLessThan(0.2);
  for (const g of result.groups) {
    expect(g.sampledPositions.every((at) => g.members.includes(at) && g.coefficients.has(at))).toBe(true);
    expect(g.coefficients.size).toBe(8);
  }
  expect(result.seriesCounts).toEqual([1, 1]);
});

test('a batch of one series is sequential T3B exactly (same seed, same sample, same λ)', async () => {
  const sources = Array<string>(32).fill('B');
  const grouped = await estimateGroupLambdas(32, sources, hp, grouping, { sequential: { ...DEFAULT_SEQUENTIAL_SETTINGS } }, 5, runnerFor(sources, []));
  const plain = await estimateBatchLambda(32, hp, { method: 'sequential', settings: { ...DEFAULT_SEQUENTIAL_SETTINGS }, seed: 5 }, runnerFor(sources, []));
  expect(grouped.groups).toHaveLength(1);
  expect(grouped.groups[0].lambda).toBe(plain.lambdaB);
  expect(grouped.groups[0].sampledPositions).toEqual(plain.sampledPositions);
  expect(grouped.groups[0].record).toEqual(plain.record);
});

test('a batch without every image\'s series, or empty, is an invalid argument', async () => {
  await expect(estimateGroupLambdas(4, ['A', 'A'], hp, grouping, {}, 1, runnerFor([], []))).rejects.toThrow(T3InputError);
  await expect(estimateGroupLambdas(0, [], hp, grouping, {}, 1, runnerFor([], []))).rejects.toThrow(/empty batch/);
});

test('series reuse per group: a failed check re-estimates the group sequentially from its check images; no estimator: every image', async () => {
  const sources = Array.from({ length: 32 }, (_, i) => (i < 16 ? 'A' : 'B'));
  // A's stored λ is on the wrong side of the step: its check fails and sequential sampling goes on from the 2 check images.
  const stored = new Map([['A', { lambdaB: 0.1, fromBatch: 'old' }], ['B', { lambdaB: 0.1, fromBatch: 'old/g1' }]]);
  const result = await estimateGroupLambdas(32, sources, hp, grouping, { sequential: { ...DEFAULT_SEQUENTIAL_SETTINGS }, reuse: { checkImages: 2, lambdaTolerance: 0.1, stored } }, 3, runnerFor(sources, []));
  expect(result.groups[0].record).toMatchObject({ method: 'series-reuse', outcome: 'check-failed-decided', reusedFrom: 'old' });
  expect(result.groups[0].lambda).toBeGreaterThan(1);
  expect(result.groups[1].record).toMatchObject({ method: 'series-reuse', outcome: 'reused', sampled: 2, reusedFrom: 'old/g1' });
  expect(result.groups[1].lambda).toBe(0.1);
  const plain = await estimateGroupLambdas(32, sources, hp, grouping, {}, 3, runnerFor(sources, []));
  expect(plain.groups.map((g) => [g.record, g.sampledPositions.length])).toEqual([[null, 16], [null, 16]]);
});
