import { computeBatchCoefficients, defaultPolicyConfig } from '../../src/t3';
import { EngineError, T3Engine, loadBundle, spreadCoefficientSample, type ModelBundle } from '../../src/engine';
import { demoDir, removeTempDirs, tempDir, testPixels } from './onnx-test-helpers';

const SIZE = 64;
const CLASSES = 7;
const count = 8;
const pixels = testPixels(count, SIZE, 21);
const perImage = 3 * SIZE * SIZE;

let bundle: ModelBundle;
let engine: T3Engine;

beforeAll(async () => {
  bundle = await loadBundle(demoDir);
  engine = await T3Engine.open(bundle, { executionProviders: ['cpu'], cacheDir: await tempDir('sample-cache'), fixedPassSessions: 'plain', log: () => undefined });
});

afterAll(async () => {
  await engine?.close();
  await removeTempDirs();
});

describe('spreadCoefficientSample', () => {
  test('one series: k positions evenly spaced over the batch; all of them when k reaches the batch size', () => {
    const one = Array(32).fill('s');
    expect(spreadCoefficientSample(one, 4)).toEqual([4, 12, 20, 28]);
    expect(spreadCoefficientSample(one, 2)).toEqual([8, 24]);
    expect(spreadCoefficientSample(one, 1)).toEqual([16]);
    expect(spreadCoefficientSample(one.slice(0, 3), 8)).toEqual([0, 1, 2]);
    expect(spreadCoefficientSample(one.slice(0, 4), 4)).toEqual([0, 1, 2, 3]);
  });

  test('several series: each is represented, in proportion to its share, within its own images', () => {
    // 24 images of series a, 6 of b, 2 of c (interleaved as a cross-study stream might be).
    const series = [...Array(24).fill('a'), ...Array(6).fill('b'), ...Array(2).fill('c')];
    const sample = spreadCoefficientSample(series, 4);
    const bySeries = (s: string) => sample.filter((at) => series[at] === s).length;
    expect(sample).toHaveLength(4);
    expect([bySeries('a'), bySeries('b'), bySeries('c')]).toEqual([2, 1, 1]);
    const eight = spreadCoefficientSample(series, 8);
    expect([eight.filter((at) => series[at] === 'a').length, eight.filter((at) => series[at] === 'b').length, eight.filter((at) => series[at] === 'c').length]).toEqual([6, 1, 1]);
    // Interleaved series: still spread across both.
    const mixed = Array.from({ length: 16 }, (_, i) => (i % 2 ? 'x' : 'y'));
    const two = spreadCoefficientSample(mixed, 2);
    expect(new Set(two.map((at) => mixed[at]))).toEqual(new Set(['x', 'y']));
  });

  test('fewer picks than series: one from each of the largest series, the earlier one on ties', () => {
    const series = ['a', 'b', 'b', 'c', 'c', 'c', 'd', 'd', 'd'];
    expect(spreadCoefficientSample(series, 2).map((at) => series[at])).toEqual(['c', 'd']);
    expect(spreadCoefficientSample(['a', 'b', 'c'], 2).map((at) => ['a', 'b', 'c'][at])).toEqual(['a', 'b']);
  });

  test('sorted, distinct, deterministic; k must be a positive integer', () => {
    const series = Array.from({ length: 32 }, (_, i) => `s${i % 5}`);
    const a = spreadCoefficientSample(series, 7);
    expect(a).toEqual(spreadCoefficientSample(series, 7));
    expect(new Set(a).size).toBe(7);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(() => spreadCoefficientSample(series, 0)).toThrow(RangeError);
    expect(() => spreadCoefficientSample(series, 1.5)).toThrow(RangeError);
  });
});

describe('T3B with λ_B from a sample', () => {
  const policy = defaultPolicyConfig('t3b');

  test('a sample of the whole batch gives exactly full T3B, and is recorded', async () => {
    const full = await engine.infer(pixels, count, policy);
    const all = await engine.infer(pixels, count, policy, { coefficientSample: spreadCoefficientSample(Array(count).fill('s'), count) });
    expect(full.coefficientSample).toBeNull();
    expect(all.coefficientSample).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(all.batchLambda).toBe(full.batchLambda);
    all.images.forEach((image, i) => {
      expect(image.probabilities).toEqual(full.images[i].probabilities);
      expect(image.js).toBe(full.images[i].js);
      expect(image.lambdaFinal).toBe(full.images[i].lambdaFinal);
    });
  });

  test('a sample of k images: λ_B from their coefficients alone; merged pass on every image; the others carry no divergence', async () => {
    const sample = [1, 6];
    const result = await engine.infer(pixels, count, policy, { coefficientSample: sample });
    expect(result.coefficientSample).toEqual(sample);
    expect(result.passes).toBe(3);
    expect(result.images).toHaveLength(count);
    // Reference: the full passes' logits of the sampled images only.
    const pt = await engine.passLogits(pixels, count, 0);
    const ft = await engine.passLogits(pixels, count, 1);
    const rows = (flat: Float32Array) => sample.map((at) => flat.slice(at * CLASSES, (at + 1) * CLASSES));
    const reference = computeBatchCoefficients(rows(pt), rows(ft), policy.hyperparameters);
    expect(Math.abs(result.batchLambda! - reference.batchLambda)).toBeLessThan(1e-6);
    result.images.forEach((image, i) => {
      expect(image.appliedLambda).toBe(result.batchLambda);
      expect(image.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      const row = sample.indexOf(i);
      if (row < 0) {
        expect(image.js).toBeNaN();
        expect(image.entropyPt).toBeNaN();
        expect(image.lambdaFinal).toBe(result.batchLambda);
      } else {
        expect(Math.abs(image.js - reference.images[row].js)).toBeLessThan(1e-6);
      }
    });
  });

  test('from fixed passes computed earlier (speculation): the sampled images\' logits give the same result', async () => {
    const sample = [0, 3, 5];
    const direct = await engine.infer(pixels, count, policy, { coefficientSample: sample });
    const sub = new Float32Array(sample.length * perImage);
    sample.forEach((at, i) => sub.set(pixels.subarray(at * perImage, (at + 1) * perImage), i * perImage));
    const fromPasses = await engine.inferFromFixedPasses(await engine.passLogits(sub, 3, 0), await engine.passLogits(sub, 3, 1), pixels, count, policy, { coefficientSample: sample });
    expect(fromPasses.coefficientSample).toEqual(sample);
    expect(fromPasses.batchLambda).toBe(direct.batchLambda);
    fromPasses.images.forEach((image, i) => expect(image.probabilities).toEqual(direct.images[i].probabilities));
  });

  test('other policies ignore the sample; a bad sample is an EngineError', async () => {
    const ensemble = await engine.infer(pixels, count, defaultPolicyConfig('ensemble'), { coefficientSample: [0] });
    expect(ensemble.coefficientSample).toBeNull();
    expect(ensemble.images.every((image) => Number.isFinite(image.js))).toBe(true);
    await expect(engine.infer(pixels, count, policy, { coefficientSample: [] })).rejects.toThrow(EngineError);
    await expect(engine.infer(pixels, count, policy, { coefficientSample: [8] })).rejects.toThrow(/not an image of this batch of 8/);
    await expect(engine.infer(pixels, count, policy, { coefficientSample: [2, 2] })).rejects.toThrow(/twice/);
  });
});
