import {
  DEFAULT_SEQUENTIAL_SETTINGS,
  SequentialLambdaEstimate,
  computeBatchCoefficients,
  estimateBatchLambda,
  resolveHyperparameters,
  sequentialOrder,
  t3Lambda,
  T3InputError,
  validateSequentialSettings,
  type SequentialSettings,
} from '../../src/t3';
import { studentTQuantile } from '../../src/t3/sequential-student-t';
import { uniformGenerator } from '../../src/evaluation/random';

// The shipped demo bundle's fitted map: a steep step at JS 0.07 (λ 1.1 below, 0.1 above), λ of the mean JS.
const steep = resolveHyperparameters({ lambdaMin: 1.1, lambdaMax: 0.1, gamma: 128, jsThreshold: 0.07, batchAggregation: 'lambda-of-mean-js' });
// A first draw of 4 (the default is 8): the rule's behaviour at its smallest sample.
const settings: SequentialSettings = { ...DEFAULT_SEQUENTIAL_SETTINGS, minImages: 4 };

function sampled(js: number[]): { js: number; lambda: number; lambdaFinal: number }[] {
  return js.map((v) => ({ js: v, lambda: t3Lambda(v, steep), lambdaFinal: t3Lambda(v, steep) }));
}

/** Runs the stopping rule over a batch of JS values in the given order; returns the λ it decides and the images used. */
function runRule(js: number[], order: number[], s = settings): { lambda: number; sampled: number; reason: string } {
  const estimate = new SequentialLambdaEstimate(js.length, steep, s);
  for (let draw = estimate.nextDraw(); draw > 0; draw = estimate.nextDraw()) {
    estimate.add(sampled(order.slice(estimate.sampled, estimate.sampled + draw).map((i) => js[i])));
  }
  return { lambda: estimate.state().lambda, sampled: estimate.sampled, reason: estimate.stopReason() };
}

/**
 * Seeded uniform and normal (Box–Muller) draws for the simulations. The uniforms come from the evaluation's
 * generator rather than a copy of sequentialOrder's: the data a test feeds the rule should not be made by the code
 * under test.
 */
function generator(seed: number): { uniform: () => number; normal: () => number } {
  const uniform = uniformGenerator(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-12))) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

describe('Student t quantiles (the interval of the stopping rule)', () => {
  test('match published table values', () => {
    expect(studentTQuantile(0.975, 3)).toBeCloseTo(3.182446, 5);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.228139, 5);
    expect(studentTQuantile(0.995, 1)).toBeCloseTo(63.65674, 3);
    expect(studentTQuantile(0.999, 3)).toBeCloseTo(10.21453, 4);
    expect(studentTQuantile(0.025, 5)).toBeCloseTo(-2.570582, 5);
  });
});

describe('SequentialLambdaEstimate (stopping rule)', () => {
  test('decides after the first draw on a clearly homogeneous in-domain batch, with the map at the estimate', () => {
    const g = generator(1);
    const js = Array.from({ length: 32 }, () => 0.02 + 0.004 * g.normal());
    const out = runRule(js, sequentialOrder(32, 7));
    expect(out.reason).toBe('decided');
    expect(out.sampled).toBe(settings.minImages);
    const full = t3Lambda(js.reduce((a, b) => a + b, 0) / js.length, steep);
    expect(Math.abs(out.lambda - full)).toBeLessThanOrEqual(settings.lambdaTolerance);
  });

  test('decides early on a clearly shifted batch too (the other side of the step)', () => {
    const g = generator(2);
    const js = Array.from({ length: 32 }, () => 0.2 + 0.02 * g.normal());
    const out = runRule(js, sequentialOrder(32, 3));
    expect(out.reason).toBe('decided');
    expect(out.sampled).toBeLessThanOrEqual(8);
    expect(out.lambda).toBeLessThan(0.2);
  });

  test('falls back to every image for a batch at the step, and then gives full T3B exactly', () => {
    const g = generator(3);
    const js = Array.from({ length: 32 }, () => 0.07 + 0.03 * g.normal());
    const out = runRule(js, sequentialOrder(32, 5));
    expect(out.reason).toBe('undecided');
    expect(out.sampled).toBe(32);
    const estimate = new SequentialLambdaEstimate(32, steep, settings);
    estimate.add(sampled(js));
    expect(estimate.state().low).toBe(estimate.state().high);
  });

  test('a batch no larger than maxImages that never decides ends with all images', () => {
    const js = [0.05, 0.09, 0.06, 0.08, 0.07, 0.075, 0.065, 0.071];
    expect(runRule(js, sequentialOrder(8, 1)).reason).toBe('all-images');
  });

  test('draws the first draw, then steps, then everything left at maxImages', () => {
    const js = Array.from({ length: 32 }, (_, i) => (i % 2 ? 0.0 : 0.14));
    const estimate = new SequentialLambdaEstimate(32, steep, settings);
    const draws: number[] = [];
    for (let draw = estimate.nextDraw(); draw > 0; draw = estimate.nextDraw()) {
      draws.push(draw);
      estimate.add(sampled(js.slice(estimate.sampled, estimate.sampled + draw)));
    }
    expect(draws).toEqual([4, 2, 2, 2, 2, 2, 2, 16]);
  });

  test('its error rate stays below 1 − confidence on a seeded simulation of skewed batches near and far from the step', () => {
    // Batch means spread over [0.01, 0.16] nats (a fifth of them within ±0.015 of the step); per-image JS lognormal
    // around the mean (σ_log 0.6, skewed as real divergences are), clipped to [0, ln 2]; random sampling order.
    const g = generator(42);
    const trials = 3000;
    let wrong = 0;
    let imagesUsed = 0;
    for (let t = 0; t < trials; t++) {
      const N = t % 2 ? 32 : 8;
      const mean = 0.01 + 0.15 * g.uniform();
      const js = Array.from({ length: N }, () => Math.min(Math.LN2, mean * Math.exp(0.6 * g.normal() - 0.18)));
      const out = runRule(js, sequentialOrder(N, 1000 + t));
      const full = t3Lambda(js.reduce((a, b) => a + b, 0) / N, steep);
      if (Math.abs(out.lambda - full) > settings.lambdaTolerance) wrong++;
      imagesUsed += out.sampled / N;
    }
    const errorRate = wrong / trials;
    process.stdout.write(`sequential simulation: ${trials} batches, error rate ${errorRate}, mean fraction of images sampled ${(imagesUsed / trials).toFixed(3)}\n`);
    expect(errorRate).toBeLessThanOrEqual(1 - settings.confidence);
    // And it saves work: on average well under all images.
    expect(imagesUsed / trials).toBeLessThan(0.8);
  });

  test('with the default settings (first draw 8) the error rate on batches of 32 mixing two domains stays below 1 − confidence', () => {
    // Each batch: a share p ~ U(0, 1) of shifted images (JS lognormal around 0.15) among in-domain ones (around 0.03):
    // the bimodal batches where a small first draw can miss one domain entirely.
    const g = generator(77);
    const trials = 2000;
    let wrong = 0;
    for (let t = 0; t < trials; t++) {
      const share = g.uniform();
      const js = Array.from({ length: 32 }, () => Math.min(Math.LN2, (g.uniform() < share ? 0.15 : 0.03) * Math.exp(0.5 * g.normal() - 0.125)));
      const out = runRule(js, sequentialOrder(32, 5000 + t), { ...DEFAULT_SEQUENTIAL_SETTINGS });
      if (Math.abs(out.lambda - t3Lambda(js.reduce((a, b) => a + b, 0) / 32, steep)) > DEFAULT_SEQUENTIAL_SETTINGS.lambdaTolerance) wrong++;
    }
    process.stdout.write(`sequential mixture simulation: ${trials} batches of 32, error rate ${wrong / trials}\n`);
    expect(wrong / trials).toBeLessThanOrEqual(1 - DEFAULT_SEQUENTIAL_SETTINGS.confidence);
  });

  test('validates its settings and names the bad field', () => {
    expect(() => validateSequentialSettings({ ...settings, confidence: 1 }, 't3.estimators.sequential')).toThrow(/t3\.estimators\.sequential\.confidence/);
    expect(() => validateSequentialSettings({ ...settings, minImages: 1 })).toThrow(T3InputError);
    expect(() => validateSequentialSettings({ ...settings, maxImages: 3 })).toThrow(/maxImages/);
    expect(() => validateSequentialSettings({ ...settings, lambdaTolerance: 0 })).toThrow(/lambdaTolerance/);
  });
});

describe('estimateBatchLambda (fixed passes only where the estimator asks)', () => {
  // Two classes: a generalist row [0, 0] and an expert row [d, 0] give a JS that grows with d.
  const rowsFor = (d: number[]) => ({ pt: d.map(() => [0, 0]), ft: d.map((v) => [v, 0]) });

  test('sequential fallback passes each image once and gives full T3B\'s λ_B bit for bit', async () => {
    const g = generator(9);
    const d = Array.from({ length: 32 }, () => 1.6 + 0.8 * g.normal());
    const calls: number[][] = [];
    const out = await estimateBatchLambda(32, steep, { method: 'sequential', settings, seed: 4 }, async (positions) => {
      calls.push([...positions]);
      return rowsFor(positions.map((at) => d[at]));
    });
    const seen = calls.flat();
    expect(new Set(seen).size).toBe(seen.length);
    const all = rowsFor(d);
    // These divergences straddle the step (mean JS ≈ 0.07): the rule cannot decide.
    expect(out.record.outcome).toBe('undecided');
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(calls.length).toBe(8); // 4, six steps of 2, then the 16 left
    expect(out.lambdaB).toBe(computeBatchCoefficients(all.pt, all.ft, steep).batchLambda);
    expect(out.record.sampled).toBe(32);
    expect(out.sampledPositions).toHaveLength(32);
    expect(out.record.method).toBe('sequential');
    // No decision was made: no confidence is claimed.
    expect(out.record.confidence).toBeNull();
  });

  test('series reuse keeps the stored λ_B when the check agrees, and re-estimates with every image when it does not', async () => {
    const small = Array.from({ length: 16 }, () => 0.2);
    const js = computeBatchCoefficients(rowsFor(small).pt, rowsFor(small).ft, steep).images[0].js;
    const stored = t3Lambda(js, steep);
    const runner = (d: number[], calls: number[][] = []) => async (positions: readonly number[]) => {
      calls.push([...positions]);
      return rowsFor(positions.map((at) => d[at]));
    };
    const reuse = { method: 'series-reuse' as const, lambdaB: stored, fromBatch: 'b1', checkImages: 2, lambdaTolerance: 0.1, seed: 5 };
    const reused = await estimateBatchLambda(16, steep, reuse, runner(small));
    expect(reused.record).toMatchObject({ outcome: 'reused', sampled: 2, reusedFrom: 'b1', confidence: null });
    expect(reused.lambdaB).toBe(stored);
    expect(reused.sampledPositions).toEqual(sequentialOrder(16, 5).slice(0, 2).sort((a, b) => a - b));
    const large = Array.from({ length: 16 }, () => 6);
    const calls: number[][] = [];
    const failed = await estimateBatchLambda(16, steep, reuse, runner(large, calls));
    expect(failed.record).toMatchObject({ outcome: 'check-failed', sampled: 16 });
    expect(failed.lambdaB).toBe(computeBatchCoefficients(rowsFor(large).pt, rowsFor(large).ft, steep).batchLambda);
    expect(calls.map((c) => c.length)).toEqual([2, 14]);
  });

  test('series reuse with a sequential fallback goes on from the check images and decides a clear new domain early', async () => {
    const stored = 1.1; // an in-domain series' λ_B
    const shifted = Array.from({ length: 32 }, (_, i) => 6 + 0.1 * (i % 3)); // far above the step
    const calls: number[][] = [];
    const out = await estimateBatchLambda(32, steep, {
      method: 'series-reuse', lambdaB: stored, fromBatch: 'b7', checkImages: 2, lambdaTolerance: 0.1, seed: 11, fallback: settings,
    }, async (positions) => {
      calls.push([...positions]);
      return rowsFor(positions.map((at) => shifted[at]));
    });
    expect(out.record).toMatchObject({ method: 'series-reuse', outcome: 'check-failed-decided', reusedFrom: 'b7', confidence: 0.95, sampled: 4 });
    // The check's two images count towards the sequential sample: one more draw of two reaches minImages.
    expect(calls.map((c) => c.length)).toEqual([2, 2]);
    expect(calls.flat()).toEqual(sequentialOrder(32, 11).slice(0, 4));
    expect(out.lambdaB).toBeLessThan(0.2);
  });
});
