import {
  applyExtrapolationGuard,
  computeBatchCoefficients,
  DEFAULT_T3_HYPERPARAMETERS,
  dawinCoefficient,
  dawinOffsetCoefficients,
  entropyFromLogProbabilities,
  jsDivergence,
  logSoftmax,
  pairwiseSum,
  resolveHyperparameters,
  sigmoid,
  softmax,
  t3Lambda,
} from '../../src/t3';
import { normalSampler, randomLogits } from './random';

const LN2 = Math.LN2;
const noGuard = resolveHyperparameters({ extTau: 0, extDelta: 0, lambdaMin: 0, lambdaMax: 1 });

describe('softmax and log-softmax', () => {
  test('probabilities sum to 1 and are invariant to a constant shift of the logits', () => {
    const next = normalSampler(1);
    for (const row of randomLogits(next, 50, 7, 5)) {
      const p = softmax(row);
      expect(pairwiseSum(p)).toBeCloseTo(1, 14);
      const shifted = logSoftmax(row.map((z) => z + 1234.5));
      const base = logSoftmax(row);
      for (let c = 0; c < row.length; c++) expect(Math.abs(shifted[c] - base[c])).toBeLessThan(1e-10);
    }
  });

  test('logits of magnitude 1e4 stay finite and exact (max subtracted before exp)', () => {
    const lp = logSoftmax([1e4, -1e4, 0, 9999]);
    expect(lp.every(Number.isFinite)).toBe(true);
    expect(lp[1]).toBe(-2e4 - Math.log1p(Math.exp(-1)));
    expect(softmax([1e4, 1e4])).toEqual([0.5, 0.5]);
  });

  test('temperature divides the logits', () => {
    expect(logSoftmax([2, 4], 2)).toEqual(logSoftmax([1, 2]));
  });
});

describe('entropy', () => {
  test('uniform over C classes is ln C, one-hot is exactly 0, and 0·log 0 counts as 0', () => {
    expect(entropyFromLogProbabilities(logSoftmax(new Array(10).fill(0)))).toBeCloseTo(Math.log(10), 14);
    expect(entropyFromLogProbabilities(logSoftmax([1e4, 0, 0]))).toBe(0);
    expect(entropyFromLogProbabilities([0, -Infinity])).toBe(0);
  });
});

describe('JS divergence', () => {
  const next = normalSampler(7);
  const rows = randomLogits(next, 200, 6, 4);
  const others = randomLogits(next, 200, 6, 4);

  test('lies in [0, ln 2] and is symmetric on random distributions', () => {
    for (let i = 0; i < rows.length; i++) {
      const lp = logSoftmax(rows[i]);
      const lq = logSoftmax(others[i]);
      const js = jsDivergence(lp, lq);
      expect(js).toBeGreaterThanOrEqual(0);
      expect(js).toBeLessThanOrEqual(LN2);
      expect(Math.abs(js - jsDivergence(lq, lp))).toBeLessThan(1e-15);
    }
  });

  test('is 0 for identical distributions and ln 2 for disjoint one-hots (1 bit with logBase 2)', () => {
    const lp = logSoftmax([3, 1, -2]);
    expect(jsDivergence(lp, lp)).toBeLessThan(1e-15);
    const a = logSoftmax([1e4, 0, 0]);
    const b = logSoftmax([0, 1e4, 0]);
    expect(jsDivergence(a, b)).toBeCloseTo(LN2, 14);
    expect(jsDivergence(a, b, { logBase: 2, eps: 0 })).toBeCloseTo(1, 14);
  });

  test('the exact log-space form sees differences far below float precision that an epsilon would blur', () => {
    const a = logSoftmax([0, -800]);
    const b = logSoftmax([0, -900]);
    expect(jsDivergence(a, b)).toBe(0); // both mass ratios underflow exp(): nothing representable to compare
    const c = logSoftmax([0, -30]);
    const d = logSoftmax([0, -60]);
    expect(jsDivergence(c, d)).toBeGreaterThan(0);
    expect(jsDivergence(c, d, { logBase: null, eps: 1e-8 })).not.toBeCloseTo(jsDivergence(c, d), 15);
  });

  test('rejects distributions over different numbers of classes', () => {
    expect(() => jsDivergence([0], [-1, -1])).toThrow(/same classes/);
  });
});

describe('λ and the extrapolation guard', () => {
  test('with bounds 0 → 1 (the reversed direction) λ ∈ [0.5, σ(0.5·ln 2)] ≈ [0.5, 0.586]', () => {
    const next = normalSampler(3);
    const pt = randomLogits(next, 64, 5, 6);
    const ft = randomLogits(next, 64, 5, 6);
    const r = computeBatchCoefficients(pt, ft, noGuard);
    const upper = sigmoid(0.5 * LN2);
    expect(upper).toBeCloseTo(0.586, 3);
    for (const im of r.images) {
      expect(im.lambda).toBeGreaterThanOrEqual(0.5);
      expect(im.lambda).toBeLessThanOrEqual(upper);
      expect(im.lambdaFinal).toBe(im.lambda);
      expect(im.extrapolationTriggered).toBe(false);
    }
    expect(r.batchLambda).toBeCloseTo(pairwiseSum(r.images.map((im) => im.lambdaFinal)) / 64, 15);
  });

  test('reversed bounds (λ_min > λ_max) make disagreement pull toward the generalist', () => {
    const hp = { lambdaMin: 1, lambdaMax: 0, gamma: 0.5 };
    expect(t3Lambda(0, hp)).toBe(0.5);
    expect(t3Lambda(LN2, hp)).toBeLessThan(0.5);
    expect(t3Lambda(LN2, { lambdaMin: 0, lambdaMax: 1, gamma: 0.5 })).toBeGreaterThan(0.5);
    expect(t3Lambda(LN2, hp) + t3Lambda(LN2, { lambdaMin: 0, lambdaMax: 1, gamma: 0.5 })).toBeCloseTo(1, 15);
  });

  test('the guard shifts toward the confident model by δ, unclipped, and is disabled by δ = 0 or τ <= 0', () => {
    const guard = { extTau: 0.1, extDelta: 0.2 };
    // Expert confident (H_ft small): λ moves toward 1 and may pass it.
    expect(applyExtrapolationGuard(0.95, 1.0, 0.01, guard)).toEqual({ lambdaFinal: 0.95 + 0.2, triggered: true });
    // Generalist confident: λ moves toward 0.
    expect(applyExtrapolationGuard(0.5, 0.01, 1.0, guard)).toEqual({ lambdaFinal: 0.5 - 0.2, triggered: true });
    // Neither below τ.
    expect(applyExtrapolationGuard(0.5, 0.5, 0.4, guard)).toEqual({ lambdaFinal: 0.5, triggered: false });
    expect(applyExtrapolationGuard(0.5, 0.01, 1, { extTau: 0.1, extDelta: 0 }).triggered).toBe(false);
    expect(applyExtrapolationGuard(0.5, 0, 1, { extTau: 0, extDelta: 0.2 }).triggered).toBe(false);
    expect(applyExtrapolationGuard(0.5, 0, 1, { extTau: -1, extDelta: 0.2 }).lambdaFinal).toBe(0.5);
  });

  test('defaults are those of docs/T3.md: the paper\'s direction, guard off', () => {
    expect(DEFAULT_T3_HYPERPARAMETERS).toEqual({
      tPt: 1, tFt: 1, lambdaMin: 1, lambdaMax: 0, gamma: 0.5, jsThreshold: 0, logBase: null, eps: 0, extTau: 0.1, extDelta: 0,
      guardTemperature: null, batchAggregation: 'mean-lambda', minGroupSize: 8, maxGroups: 1, groupBy: 'js-step',
    });
    expect(Object.isFrozen(DEFAULT_T3_HYPERPARAMETERS)).toBe(true);
  });
});

describe('DaWin', () => {
  test('plain coefficient is 0.5 for equal entropies, in (0,1), and favours the lower-entropy model', () => {
    expect(dawinCoefficient(1.3, 1.3)).toBe(0.5);
    expect(dawinCoefficient(2, 0.1)).toBeGreaterThan(0.5);
    expect(dawinCoefficient(0.1, 2)).toBeLessThan(0.5);
    expect(dawinCoefficient(2, 0.1) + dawinCoefficient(0.1, 2)).toBeCloseTo(1, 15);
  });

  test('offset-adjusted: null for one row or all-zero entropies of a model, plain value when entropies do not vary', () => {
    expect(dawinOffsetCoefficients([0.5], [0.7])).toEqual([null]);
    expect(dawinOffsetCoefficients([0, 0], [0.3, 0.4])).toEqual([null, null]);
    expect(dawinOffsetCoefficients([0.3, 0.4], [0, 0])).toEqual([null, null]);
    expect(dawinOffsetCoefficients([], [])).toEqual([]);
    const flat = dawinOffsetCoefficients([0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
    for (const x of flat) expect(x).toBe(dawinCoefficient(0.5, 0.25));
  });

  test('offset-adjusted matches the formula of naver-ai/dawin written out by hand', () => {
    const hPt = [0.2, 0.9, 1.4];
    const hFt = [0.1, 0.5, 1.6];
    const m = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - m(xs)) ** 2, 0) / (xs.length - 1));
    const bias = (sd(hPt) / m(hPt) + sd(hFt) / m(hFt)) / 2;
    const biasW = (m(hPt) + m(hFt)) / m(hPt);
    const got = dawinOffsetCoefficients(hPt, hFt);
    hPt.forEach((h, i) => {
      const want = (Math.exp(-hFt[i]) + bias / biasW) / (Math.exp(-h) + Math.exp(-hFt[i]) + bias);
      expect(got[i]).toBeCloseTo(want, 14);
    });
  });
});

describe('pairwiseSum', () => {
  // Expected values measured with numpy 'np.sum' (float64) on a[i] = (-1)^i·10^(i mod 17)/(i+3).
  const series = (n: number) => Array.from({ length: n }, (_, i) => ((-1) ** i * 10 ** (i % 17)) / (i + 3));
  test.each([
    [5, 1279.7380952380954],
    [10, -75142533.39321789],
    [37, 224204983103139.88],
    [300, 338087908099704.06],
    [1000, 318358168814924.0],
  ])('n = %i reproduces numpy.sum', (n, expected) => {
    expect(pairwiseSum(series(n))).toBe(expected);
  });
});
