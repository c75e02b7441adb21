import type { BatchInference, InferOptions } from '../../src/engine';
import {
  comparisonStreams, evaluationPolicies, homogeneousSeriesOrder, mixedSeriesOrder, scorePolicyOnSplit, seriesPreparedSplit, T3B_ESTIMATORS,
  type PreparedSplit,
} from '../../src/evaluation';
import { DEFAULT_T3_HYPERPARAMETERS, type PolicyConfig } from '../../src/t3';

const hp = { ...DEFAULT_T3_HYPERPARAMETERS };

function split(name: string, n: number): PreparedSplit {
  return { name, kind: 'clean', tensors: Float32Array.from({ length: n }, (_, i) => i), labels: Array.from({ length: n }, (_, i) => i % 3) };
}

describe('evaluation policies of the λ_B estimators', () => {
  test('each estimator gets t3b-<estimator>-<B> at every T3B batch size, with exactly its estimators on', () => {
    const policies = evaluationPolicies({ wiseAlphas: [], t3bBatchSizes: [8, 32], defaultBatchSize: 32, hyperparameters: hp, t3bEstimators: [...T3B_ESTIMATORS] });
    const estimated = policies.filter((p) => p.lambdaEstimators);
    expect(estimated.map((p) => p.id)).toEqual([
      't3b-sequential-8', 't3b-sequential-32', 't3b-series-8', 't3b-series-32', 't3b-series-sequential-8', 't3b-series-sequential-32',
      't3b-grouped-sequential-8', 't3b-grouped-sequential-32', 't3b-grouped-series-sequential-8', 't3b-grouped-series-sequential-32',
    ]);
    const on = (id: string) => {
      const s = estimated.find((p) => p.id === id)!.lambdaEstimators!;
      return [s.sequential.enabled, s.seriesReuse.enabled];
    };
    expect(on('t3b-sequential-8')).toEqual([true, false]);
    expect(on('t3b-series-32')).toEqual([false, true]);
    expect(on('t3b-series-sequential-32')).toEqual([true, true]);
    // The grouped estimators run grouped T3B with their estimators per series group; the others run T3B.
    expect(on('t3b-grouped-sequential-8')).toEqual([true, false]);
    expect(on('t3b-grouped-series-sequential-32')).toEqual([true, true]);
    expect(estimated.every((p) => p.config.name === (p.lambdaEstimator?.startsWith('grouped') ? 't3b-grouped' : 't3b') && p.lambdaEstimator !== undefined)).toBe(true);
  });

  test('without the option the policy set is unchanged (no estimator rows)', () => {
    const policies = evaluationPolicies({ wiseAlphas: [], t3bBatchSizes: [8, 32], defaultBatchSize: 32, hyperparameters: hp });
    expect(policies.some((p) => p.lambdaEstimators || /sequential|series/.test(p.id))).toBe(false);
  });
});

describe('streams of whole series', () => {
  const a = split('in-domain', 10);
  const b = split('shifted', 6);
  const options = { seriesLength: 4, chunk: 2 };

  test('homogeneous: whole series one after another, the splits alternating', () => {
    const order = homogeneousSeriesOrder([a, b], options);
    expect(order.map(([, , id]) => id)).toEqual([
      ...Array(4).fill('in-domain#0'), ...Array(4).fill('shifted#0'), ...Array(4).fill('in-domain#1'), ...Array(2).fill('shifted#1'), ...Array(2).fill('in-domain#2'),
    ]);
    expect(new Set(order.map(([s, i]) => `${s}/${i}`)).size).toBe(16);
  });

  test('mixed: two series of different splits open at once, interleaved a chunk at a time; every image once', () => {
    const order = mixedSeriesOrder([a, b], options);
    expect(order.slice(0, 8).map(([s, i]) => `${s}/${i}`)).toEqual(['0/0', '0/1', '1/0', '1/1', '0/2', '0/3', '1/2', '1/3']);
    expect(order).toHaveLength(16);
    expect(new Set(order.map(([s, i]) => `${s}/${i}`)).size).toBe(16);
    const prepared = seriesPreparedSplit('series-mixed', [a, b], order);
    expect(prepared.series).toEqual(order.map(([, , id]) => id));
    expect(prepared.labels).toEqual(order.map(([s, i]) => [a, b][s].labels[i]));
  });

  test('the comparison streams: each split, pooled (series by split) and both series streams', () => {
    const streams = comparisonStreams([a, b], options);
    expect(streams.map((s) => s.name)).toEqual(['in-domain', 'shifted', 'pooled', 'series-homogeneous', 'series-mixed']);
    const pooled = streams[2];
    expect(new Set(pooled.series)).toEqual(new Set(['in-domain', 'shifted']));
    expect(comparisonStreams([a, b], options, 'one')[2].series).toBeUndefined();
  });
});

describe('scorePolicyOnSplit with an estimator', () => {
  /** A runner that answers every batch with λ_B 0.5 and records the options it was given. */
  function fakeRunner(seen: InferOptions[]) {
    let batches = 0;
    return {
      async infer(_pixels: Float32Array, count: number, _policy: PolicyConfig, options: InferOptions = {}): Promise<BatchInference> {
        seen.push(options);
        const reused = options.lambdaEstimation?.method === 'series-reuse';
        return {
          batchId: `b${batches++}`, policy: 't3b', batchLambda: 0.5, passes: 3, executionProvider: 'cpu', durationMs: 1,
          coefficientSample: reused ? [0, 1] : null,
          ...(reused ? { lambdaEstimate: { method: 'series-reuse', outcome: 'reused', sampled: 2, confidence: null, reusedFrom: 'b0', sampleLambda: 0.5 } } : {}),
          images: Array.from({ length: count }, () => ({ probabilities: [1, 0, 0], js: 0.1, lambda: 0.5, lambdaFinal: 0.5, entropyPt: 1, entropyFt: 1, extrapolationTriggered: false, appliedLambda: 0.5 })),
        } as BatchInference;
      },
    };
  }

  test('series reuse: the first batch of a series in full, later batches checked; passes per image and outcomes recorded', async () => {
    const policy = evaluationPolicies({ wiseAlphas: [], t3bBatchSizes: [4], defaultBatchSize: 4, hyperparameters: hp, t3bEstimators: ['series'] }).find((p) => p.id === 't3b-series-4')!;
    const seen: InferOptions[] = [];
    const run = await scorePolicyOnSplit(fakeRunner(seen), policy, split('in-domain', 12));
    expect(seen.map((o) => o.lambdaEstimation?.method ?? 'full')).toEqual(['full', 'series-reuse', 'series-reuse']);
    // 4 images × 3 passes, then twice 2 × 2 sampled + 4 merged: (12 + 8 + 8) / 12.
    expect(run.score.passesPerImage).toBeCloseTo(28 / 12, 12);
    expect(run.score.estimateOutcomes).toEqual({ reused: 2 });
  });

  test('grouped-sequential: grouped T3B gets each image\'s source and a sequential estimation; one outcome per group', async () => {
    const policy = evaluationPolicies({ wiseAlphas: [], t3bBatchSizes: [4], defaultBatchSize: 4, hyperparameters: hp, t3bEstimators: ['grouped-sequential'] })
      .find((p) => p.id === 't3b-grouped-sequential-4')!;
    expect(policy.config.name).toBe('t3b-grouped');
    const seen: InferOptions[] = [];
    const record = { method: 'sequential' as const, outcome: 'decided' as const, sampled: 1, confidence: 0.95, reusedFrom: null, sampleLambda: 0.5 };
    const runner = {
      async infer(_pixels: Float32Array, count: number, _policy: PolicyConfig, options: InferOptions = {}): Promise<BatchInference> {
        seen.push(options);
        return {
          batchId: 'b', policy: 't3b-grouped', batchLambda: null, passes: 6, executionProvider: 'cpu', durationMs: 1, coefficientSample: [0, 2],
          groupLambdas: [0.5, 0.5], groupEstimates: [{ record, sampleSize: 1 }, { record, sampleSize: 1 }],
          images: Array.from({ length: count }, (_, i) => ({ probabilities: [1, 0, 0], js: 0.1, lambda: 0.5, lambdaFinal: 0.5, entropyPt: 1, entropyFt: 1, extrapolationTriggered: false, appliedLambda: 0.5, group: i % 2 })),
        };
      },
    };
    const sources = ['x', 'y', 'x', 'y', 'x', 'y', 'x', 'y'];
    const run = await scorePolicyOnSplit(runner, policy, { ...split('pooled', 8), sources });
    expect(seen.map((o) => [o.groupEstimation?.sequential?.minImages, o.groupEstimation?.reuse, o.sources])).toEqual([[8, undefined, sources.slice(0, 4)], [8, undefined, sources.slice(4)]]);
    expect(run.score.estimateOutcomes).toEqual({ decided: 4 });
    // Per batch: 2 sampled images × 2 fixed passes + 4 merged: (8 + 8) / 8.
    expect(run.score.passesPerImage).toBe(2);
  });

  test('full T3B records 3 passes per image and no outcomes', async () => {
    const policy = evaluationPolicies({ wiseAlphas: [], t3bBatchSizes: [4], defaultBatchSize: 4, hyperparameters: hp }).find((p) => p.id === 't3b-4')!;
    const run = await scorePolicyOnSplit(fakeRunner([]), policy, split('in-domain', 8));
    expect(run.score.passesPerImage).toBe(3);
    expect(run.score.estimateOutcomes).toBeUndefined();
  });
});
