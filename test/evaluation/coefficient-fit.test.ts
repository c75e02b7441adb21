import { sigmoid, t3Lambda } from '../../src/t3';
import {
  fitCoefficientMap,
  FitError,
  lambdaGrid,
  gridValue,
  type FitBatch,
  type FitSplit,
  type MapSearchSpace,
} from '../../src/evaluation';
import { gammaCandidates } from '../../src/cli/fit-search-ranges';

const grid = lambdaGrid(-0.2, 1.2, 0.01);
const BATCH = 100;

function space(overrides: Partial<MapSearchSpace> = {}): MapSearchSpace {
  return {
    grid,
    endpoints: Array.from({ length: 15 }, (_, i) => Number((-0.2 + i * 0.1).toFixed(1))),
    gammas: [1, 4, 16, 32, 64, 128],
    jsThresholds: Array.from({ length: 41 }, (_, i) => Number((i * 0.005).toFixed(3))),
    aggregations: ['mean-lambda', 'lambda-of-mean-js'],
    guardTaus: [0.1], guardDeltas: [0.1], guardTemperature: 1, minGuardGain: 0.0025,
    smoothingSteps: 5, minBatchesPerSplit: 4, minDisagreements: 20,
    ...overrides,
  };
}

/**
 * A batch whose merged model is most accurate exactly at λ*(JS): accuracy falls off linearly either side. Its
 * images all have the batch's JS, and a third of them are right only for the generalist, a third only for the expert.
 */
function batch(js: number, bestLambda: number): FitBatch {
  const correctAt = new Uint16Array(grid.count);
  for (let f = 0; f < grid.count; f++) correctAt[f] = Math.round(BATCH * Math.max(0, 0.95 - 1.5 * Math.abs(gridValue(grid, f) - bestLambda)));
  const images = Array.from({ length: BATCH }, (_, i) => ({
    js, guardEntropyPt: 1, guardEntropyFt: 1, generalistRight: i % 3 !== 1, expertRight: i % 3 !== 2,
  }));
  return { images, correctAt };
}

function splitsFrom(truth: (js: number) => number): FitSplit[] {
  const inDomain = Array.from({ length: 16 }, (_, b) => 0.02 + (0.04 * b) / 15);
  const broad = Array.from({ length: 16 }, (_, b) => 0.05 + (0.25 * b) / 15);
  return [
    { name: 'in-domain', batches: inDomain.map((js) => batch(js, truth(js))) },
    { name: 'broad', batches: broad.map((js) => batch(js, truth(js))) },
  ];
}

describe('fitting the coefficient map', () => {
  test('recovers a known map from batches that are most accurate at its λ', () => {
    const truth = { lambdaMin: 1, lambdaMax: 0.1, gamma: 60, jsThreshold: 0.1 };
    const fit = fitCoefficientMap(splitsFrom((js) => t3Lambda(js, truth)), space());
    for (const js of [0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3]) {
      expect(Math.abs(t3Lambda(js, fit.map) - t3Lambda(js, truth))).toBeLessThan(0.06);
    }
    expect(fit.map.extDelta).toBe(0);
    expect(fit.warnings).toEqual([]);
    expect(fit.accuracy).toBeGreaterThan(0.93);
    expect(fit.accuracy).toBeGreaterThan(fit.paperObjective);
  });

  test('warns when a parameter ends on a bound of its search range', () => {
    // The best λ in-domain is 1.4, beyond the largest endpoint (1.2).
    const fit = fitCoefficientMap(splitsFrom((js) => 1.4 - 1.4 * sigmoid(80 * (js - 0.1))), space());
    expect(fit.map.lambdaMin).toBe(1.2);
    expect(fit.warnings.join('\n')).toMatch(/λ_min = 1\.2 is on the upper bound of its search range \[-0\.2, 1\.2\]/);
  });

  test('a γ range widened from the command line is searched, and its bound moves with it', () => {
    // The truth is a step steeper than the narrow range allows: γ ends on the narrow range's bound, with a warning
    // that names that range; the widened range (fit --gamma-range 1,512) holds a γ that fits and warns no more.
    const truth = (js: number) => 1 - 0.9 * sigmoid(200 * (js - 0.1));
    const narrow = fitCoefficientMap(splitsFrom(truth), space({ gammas: gammaCandidates('1,64') }));
    expect(narrow.map.gamma).toBe(64);
    expect(narrow.warnings.join('\n')).toMatch(/γ = 64 is on the upper bound of its search range \[1, 64\]/);
    const wide = fitCoefficientMap(splitsFrom(truth), space({ gammas: gammaCandidates('1,512') }));
    expect(wide.map.gamma).toBeGreaterThan(64);
    expect(wide.objective).toBeGreaterThan(narrow.objective);
    expect(wide.warnings.join('\n')).not.toMatch(/γ =/);
    expect(wide.candidates).toBeGreaterThan(narrow.candidates);
  });

  test('a pooled stream enters the objective but its images are not counted twice', () => {
    const splits = splitsFrom((js) => t3Lambda(js, { lambdaMin: 1, lambdaMax: 0.1, gamma: 60, jsThreshold: 0.1 }));
    const pooled: FitSplit = { name: 'pooled', batches: [...splits[0].batches, ...splits[1].batches].reverse(), pooledFrom: ['in-domain', 'broad'] };
    const alone = fitCoefficientMap(splits, space());
    const withPooled = fitCoefficientMap([...splits, pooled], space());
    expect([withPooled.generalistOnly, withPooled.expertOnly]).toEqual([alone.generalistOnly, alone.expertOnly]);
    expect(Object.keys(withPooled.perSplit)).toEqual(['in-domain', 'broad', 'pooled']);
  });

  test('refuses too few batches, saying how many it needs', () => {
    const splits = splitsFrom(() => 0.5).map((s) => ({ ...s, batches: s.batches.slice(0, 1) }));
    expect(() => fitCoefficientMap(splits, space())).toThrow(FitError);
    expect(() => fitCoefficientMap(splits, space())).toThrow(/split "in-domain" has 100 images, 1 batch: the fit needs at least 4 batches/);
  });

  test.each([
    ['the expert', (i: number) => ({ generalistRight: i % 2 === 0, expertRight: true }), /the expert is right on every image the generalist gets right/],
    ['the generalist', (i: number) => ({ generalistRight: true, expertRight: i % 2 === 0 }), /the generalist is right on every image the expert gets right/],
    ['neither', () => ({ generalistRight: true, expertRight: true }), /right on exactly the same images/],
  ])('refuses data where %s is always right where the other is', (_who, rightness, message) => {
    const splits = splitsFrom(() => 0.5).map((s) => ({
      ...s,
      batches: s.batches.map((b) => ({ ...b, images: b.images.map((im, i) => ({ ...im, ...rightness(i) })) })),
    }));
    expect(() => fitCoefficientMap(splits, space())).toThrow(message);
  });

  test('turns the guard on only when it gains on the validation data', () => {
    // Confident generalist (low entropy at the guard's temperature) on every image: a guard pulling λ toward the
    // generalist by δ moves every batch off its best λ, so it must stay off.
    const splits = splitsFrom((js) => t3Lambda(js, { lambdaMin: 1, lambdaMax: 0, gamma: 60, jsThreshold: 0.1 })).map((s) => ({
      ...s,
      batches: s.batches.map((b) => ({ ...b, images: b.images.map((im) => ({ ...im, guardEntropyPt: 0.01, guardEntropyFt: 1 })) })),
    }));
    expect(fitCoefficientMap(splits, space()).map.extDelta).toBe(0);
  });
});
