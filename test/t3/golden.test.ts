import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { computeBatchCoefficients, t3Lambda } from '../../src/t3';
import { FLOAT64_TOLERANCE, GOLDEN_PATH, loadGoldenCases, maxAbsDiff, toHyperparameters } from './golden-cases';

const cases = loadGoldenCases();

// SHA-256 of the numpy float64 reference file as received with the method's specification: the fixture must stay
// a byte-for-byte copy of it (the implementation is tested against the reference, never the reference against it).
const REFERENCE_SHA256 = '7cb4803e4bf14f06869d2fd9cf4570dddbee043e376c13b8a08c33a53709d7bd';

describe('golden vectors (float64, abs 1e-10)', () => {
  test('the fixture is an unchanged copy of the reference file', () => {
    expect(createHash('sha256').update(readFileSync(GOLDEN_PATH)).digest('hex')).toBe(REFERENCE_SHA256);
  });

  test('the fixture has cases, including the named edge cases', () => {
    const names = cases.map((c) => c.name);
    expect(names.length).toBeGreaterThanOrEqual(30);
    for (const n of ['onehot_disagreement', 'uniform_vs_peaked', 'extreme_1e4_onehot', 'eps_smoothed_js_1e-8', 'log2_gamma20', 'single_sample_c20']) {
      expect(names).toContain(n);
    }
  });

  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const hp = toHyperparameters(c.hyperparameters);
    const r = computeBatchCoefficients(c.inputs.pt_logits, c.inputs.ft_logits, hp);
    const o = c.outputs;
    const col = <K extends keyof (typeof r.images)[number]>(k: K) => r.images.map((im) => im[k]);

    expect(maxAbsDiff(col('entropyPt'), o.entropy_pt)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    expect(maxAbsDiff(col('entropyFt'), o.entropy_ft)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    expect(maxAbsDiff(col('js'), o.js)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    expect(maxAbsDiff(col('lambda'), o.lambda)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    expect(col('extrapolationTriggered')).toEqual(o.extrapolation_triggered);
    expect(maxAbsDiff(col('lambdaFinal'), o.lambda_final)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    expect(Math.abs(r.batchLambda - o.batch_lambda)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    expect(maxAbsDiff(col('dawinCoef'), o.dawin_coef)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    expect(maxAbsDiff(r.dawinCoefOffset, o.dawin_coef_offset)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);

    // The alternative T3B reading λ(mean JS) is not what batchLambda computes, but the same pieces reproduce it.
    const meanJs = col('js').reduce((s, x) => s + x, 0) / r.images.length;
    expect(Math.abs(t3Lambda(meanJs, hp) - o.batch_lambda_alt_of_mean_js)).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
  });

  test('offset-adjusted DaWin is null exactly where the golden file says (B=1, all-zero entropies)', () => {
    const byName = new Map(cases.map((c) => [c.name, c]));
    const offsets = (name: string) => {
      const c = byName.get(name)!;
      return computeBatchCoefficients(c.inputs.pt_logits, c.inputs.ft_logits, toHyperparameters(c.hyperparameters)).dawinCoefOffset;
    };
    expect(offsets('single_sample_c20')).toEqual([null]);
    expect(offsets('onehot_disagreement')).toEqual([null, null]);
    expect(offsets('identical_logits').every((x) => x !== null)).toBe(true);
    const uvp = offsets('uniform_vs_peaked');
    expect(uvp[0]).toBeCloseTo(0.90909108, 8);
  });

  test('Float32Array rows give the float32 tolerances of the golden file on a |logits| <= 100 case', () => {
    const c = cases.find((x) => x.name === 'clip_like_scale100')!;
    const pt = c.inputs.pt_logits.map((row) => Float32Array.from(row));
    const ft = c.inputs.ft_logits.map((row) => Float32Array.from(row));
    const r = computeBatchCoefficients(pt, ft, toHyperparameters(c.hyperparameters));
    // Rounding the inputs to float32 is the only float32 step here, so the float32 tolerances must hold.
    expect(maxAbsDiff(r.images.map((im) => im.js), c.outputs.js)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(r.images.map((im) => im.entropyPt), c.outputs.entropy_pt)).toBeLessThanOrEqual(2e-6);
    expect(Math.abs(r.batchLambda - c.outputs.batch_lambda)).toBeLessThanOrEqual(1e-6);
  });
});
