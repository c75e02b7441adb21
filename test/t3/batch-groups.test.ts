import { computeBatchCoefficients, groupBatch, resolveHyperparameters, T3InputError, t3Lambda } from '../../src/t3';
import { FLOAT64_TOLERANCE, loadGoldenCases, toHyperparameters } from './golden-cases';

// A steep fitted-style map: the expert's weight 1.1 below the step at JS 0.07, 0.1 above it (as bundles/demo-trained).
const steep = resolveHyperparameters({ lambdaMin: 1.1, lambdaMax: 0.1, gamma: 128, jsThreshold: 0.07, batchAggregation: 'mean-lambda' });

function images(jsValues: number[], hp = steep): { js: number; lambda: number; lambdaFinal: number }[] {
  return jsValues.map((js) => ({ js, lambda: t3Lambda(js, hp), lambdaFinal: t3Lambda(js, hp) }));
}

describe('groupBatch', () => {
  test('golden cases (the paper\'s map, τ_JS = 0): every batch stays one group with T3B\'s λ_B, both aggregations', () => {
    for (const c of loadGoldenCases()) {
      const hp = { ...toHyperparameters(c.hyperparameters), minGroupSize: 1, maxGroups: 4 };
      const coefficients = computeBatchCoefficients(c.inputs.pt_logits, c.inputs.ft_logits, hp);
      const groups = groupBatch(coefficients.images, hp, hp);
      expect(groups.lambdas).toHaveLength(1);
      expect(groups.groupOf).toEqual(coefficients.images.map(() => 0));
      expect(groups.lambdas[0]).toBe(coefficients.batchLambda);
      expect(Math.abs(groups.lambdas[0] - c.outputs.batch_lambda)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
      const alt = { ...hp, batchAggregation: 'lambda-of-mean-js' as const };
      const altGroups = groupBatch(computeBatchCoefficients(c.inputs.pt_logits, c.inputs.ft_logits, alt).images, alt, alt);
      expect(altGroups.lambdas).toHaveLength(1);
      if (hp.extDelta === 0 || !c.outputs.extrapolation_triggered.some(Boolean)) {
        expect(Math.abs(altGroups.lambdas[0] - c.outputs.batch_lambda_alt_of_mean_js)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
      }
    }
  });

  test('a batch of two clear populations gives two groups, each with its own λ', () => {
    const js = [0.01, 0.3, 0.02, 0.25, 0.03, 0.4, 0.01, 0.35];
    const groups = groupBatch(images(js), steep, { minGroupSize: 2, maxGroups: 2 });
    expect(groups.groupOf).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect(groups.sizes).toEqual([4, 4]);
    // Each group's λ is T3B's aggregation over its own images: near the expert's end below the step, the generalist's above.
    const low = computeMean(js.filter((v) => v < 0.07).map((v) => t3Lambda(v, steep)));
    const high = computeMean(js.filter((v) => v >= 0.07).map((v) => t3Lambda(v, steep)));
    expect(groups.lambdas[0]).toBeCloseTo(low, 12);
    expect(groups.lambdas[1]).toBeCloseTo(high, 12);
    expect(groups.lambdas[0]).toBeGreaterThan(1);
    expect(groups.lambdas[1]).toBeLessThan(0.2);
    // The lambda-of-mean-js aggregation applies the map to each group's mean JS.
    const alt = { ...steep, batchAggregation: 'lambda-of-mean-js' as const };
    const altGroups = groupBatch(images(js, alt), alt, { minGroupSize: 2, maxGroups: 2 });
    expect(altGroups.lambdas[0]).toBeCloseTo(t3Lambda(computeMean(js.filter((v) => v < 0.07)), alt), 12);
    expect(altGroups.lambdas[1]).toBeCloseTo(t3Lambda(computeMean(js.filter((v) => v >= 0.07)), alt), 12);
  });

  test('group 0 is the first image\'s group', () => {
    expect(groupBatch(images([0.3, 0.01, 0.3, 0.01]), steep, { minGroupSize: 1, maxGroups: 2 }).groupOf).toEqual([0, 1, 0, 1]);
  });

  test('a side smaller than minGroupSize joins the other: a homogeneous batch with a few noisy images is T3B', () => {
    const js = [0.01, 0.02, 0.3, 0.01, 0.03, 0.02, 0.01, 0.02];
    const hp = { ...steep, minGroupSize: 2, maxGroups: 2 };
    const groups = groupBatch(images(js), hp, { minGroupSize: 2, maxGroups: 2 });
    expect(groups.lambdas).toHaveLength(1);
    expect(groups.sizes).toEqual([8]);
    expect(groups.lambdas[0]).toBe(computeMean(js.map((v) => t3Lambda(v, steep))));
    // With the minority at the minimum size the batch splits.
    expect(groupBatch(images([...js, 0.3]), steep, { minGroupSize: 2, maxGroups: 2 }).sizes).toEqual([7, 2]);
    // Never a group smaller than minGroupSize.
    for (let minGroupSize = 1; minGroupSize <= 6; minGroupSize++) {
      const g = groupBatch(images([0.01, 0.3, 0.02, 0.25, 0.03, 0.4, 0.3]), steep, { minGroupSize, maxGroups: 2 });
      if (g.sizes.length > 1) expect(Math.min(...g.sizes)).toBeGreaterThanOrEqual(minGroupSize);
      expect(g.sizes.length).toBe(minGroupSize <= 3 ? 2 : 1);
    }
  });

  test('maxGroups 1 is exactly T3B; never more than maxGroups groups', () => {
    const js = [0.01, 0.3, 0.02, 0.25];
    const one = groupBatch(images(js), steep, { minGroupSize: 1, maxGroups: 1 });
    expect(one.lambdas).toEqual([computeMean(js.map((v) => t3Lambda(v, steep)))]);
    expect(one.groupOf).toEqual([0, 0, 0, 0]);
    for (const maxGroups of [2, 3, 8]) expect(groupBatch(images(js), steep, { minGroupSize: 1, maxGroups }).lambdas.length).toBeLessThanOrEqual(maxGroups);
  });

  test('deterministic: the same batch gives the same groups', () => {
    const js = Array.from({ length: 32 }, (_, i) => ((i * 37) % 32) / 100);
    const a = groupBatch(images(js), steep, { minGroupSize: 4, maxGroups: 2 });
    const b = groupBatch(images(js), steep, { minGroupSize: 4, maxGroups: 2 });
    expect(b).toEqual(a);
  });

  test('invalid parameters and an empty batch are refused', () => {
    expect(() => groupBatch([], steep, { minGroupSize: 1, maxGroups: 2 })).toThrow(T3InputError);
    for (const bad of [0, 1.5, -1, Number.NaN]) {
      expect(() => groupBatch(images([0.1]), steep, { minGroupSize: bad, maxGroups: 2 })).toThrow(/minGroupSize must be an integer >= 1/);
      expect(() => groupBatch(images([0.1]), steep, { minGroupSize: 1, maxGroups: bad })).toThrow(/maxGroups must be an integer >= 1/);
    }
    expect(() => resolveHyperparameters({ maxGroups: 0 })).toThrow(T3InputError);
  });
});

function computeMean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
