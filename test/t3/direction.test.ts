import {
  computeBatchCoefficients,
  DEFAULT_T3_HYPERPARAMETERS,
  mergedTemperature,
  resolveHyperparameters,
  t3Lambda,
  T3InputError,
} from '../../src/t3';

/** Issue 12: the paper's direction by default, the fitted map's parameters, the guard off unless turned on. */
describe('the default coefficient map is the paper\'s direction', () => {
  const agree = [[4, 0, 0]];
  const disagree = [[0, 0, 4]];

  test('disagreement moves λ toward the generalist (λ = 0) by default', () => {
    const hp = resolveHyperparameters();
    const same = computeBatchCoefficients([[4, 0, 0]], agree, hp);
    const different = computeBatchCoefficients([[4, 0, 0]], disagree, hp);
    expect(different.images[0].js).toBeGreaterThan(same.images[0].js);
    expect(different.images[0].lambda).toBeLessThan(same.images[0].lambda);
    expect(same.images[0].lambda).toBeCloseTo(0.5, 12);
    expect(DEFAULT_T3_HYPERPARAMETERS.lambdaMin).toBeGreaterThan(DEFAULT_T3_HYPERPARAMETERS.lambdaMax);
  });

  test('λ_min < λ_max still reverses the direction', () => {
    const reversed = { lambdaMin: 0, lambdaMax: 1, gamma: 0.5 };
    expect(t3Lambda(0.6, reversed)).toBeGreaterThan(t3Lambda(0.1, reversed));
  });

  test('the guard is off by default, even for a very confident model', () => {
    const r = computeBatchCoefficients([[40, 0, 0]], [[0, 0, 40]], resolveHyperparameters());
    expect(r.images[0].extrapolationTriggered).toBe(false);
    expect(r.images[0].lambdaFinal).toBe(r.images[0].lambda);
  });
});

describe('fitted map parameters', () => {
  test('τ_JS moves the half-way point of the sigmoid', () => {
    const hp = { lambdaMin: 1.1, lambdaMax: -0.1, gamma: 50, jsThreshold: 0.08 };
    expect(t3Lambda(0.08, hp)).toBeCloseTo(0.5, 12);
    expect(t3Lambda(0, hp)).toBeGreaterThan(1);
    expect(t3Lambda(0.6, hp)).toBeCloseTo(-0.1, 9);
  });

  test('lambda-of-mean-js applies the map to the batch\'s mean JS; mean-lambda averages λ', () => {
    const pt = [[3, 0, 0], [3, 0, 0], [0, 3, 0]];
    const ft = [[3, 0, 0], [0, 0, 3], [0, 3, 0]];
    const base = { lambdaMin: 1, lambdaMax: 0, gamma: 40, jsThreshold: 0.1 };
    const mean = computeBatchCoefficients(pt, ft, resolveHyperparameters({ ...base, batchAggregation: 'mean-lambda' }));
    const ofMean = computeBatchCoefficients(pt, ft, resolveHyperparameters({ ...base, batchAggregation: 'lambda-of-mean-js' }));
    const meanJs = mean.images.reduce((s, im) => s + im.js, 0) / 3;
    expect(ofMean.batchLambda).toBeCloseTo(t3Lambda(meanJs, base), 12);
    expect(mean.batchLambda).toBeCloseTo(mean.images.reduce((s, im) => s + im.lambdaFinal, 0) / 3, 12);
    expect(mean.batchLambda).not.toBeCloseTo(ofMean.batchLambda, 3);
  });

  test('a guard at one temperature compares the models\' sharpness, not their fitted temperatures', () => {
    // Same logits for both models: at one temperature the entropies are equal, so the guard cannot prefer either.
    const row = [[9, 0, 0]];
    const hp = { extTau: 0.1, extDelta: 0.2, tPt: 0.8, tFt: 2.6 };
    const own = computeBatchCoefficients(row, row, resolveHyperparameters({ ...hp, guardTemperature: null }));
    const shared = computeBatchCoefficients(row, row, resolveHyperparameters({ ...hp, guardTemperature: 1 }));
    expect(own.images[0].lambdaFinal).toBeCloseTo(own.images[0].lambda - 0.2, 12);
    expect(shared.images[0].lambdaFinal).toBe(shared.images[0].lambda);
  });

  test('bad values of the new fields are refused with their name', () => {
    expect(() => resolveHyperparameters({ jsThreshold: Number.NaN })).toThrow(/jsThreshold/);
    expect(() => resolveHyperparameters({ guardTemperature: 0 })).toThrow(/guardTemperature/);
    expect(() => resolveHyperparameters({ batchAggregation: 'median' as never })).toThrow(T3InputError);
  });
});

describe('the merged pass temperature', () => {
  test('is each model\'s own at λ = 0 and 1, log-interpolated between, positive when extrapolating', () => {
    expect(mergedTemperature(0, 0.8, 2.6)).toBe(0.8);
    expect(mergedTemperature(1, 0.8, 2.6)).toBe(2.6);
    expect(mergedTemperature(0.5, 0.8, 2.6)).toBeCloseTo(Math.sqrt(0.8 * 2.6), 12);
    expect(mergedTemperature(-0.5, 0.8, 2.6)).toBeGreaterThan(0);
    expect(mergedTemperature(1.5, 0.8, 2.6)).toBeGreaterThan(2.6);
  });
});
