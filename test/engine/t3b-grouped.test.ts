import { defaultPolicyConfig, mergedTemperature, softmax, type PolicyConfig, type T3Hyperparameters } from '../../src/t3';
import { T3Engine, loadBundle, type ModelBundle } from '../../src/engine';
import { demoDir, maxAbsDiff, removeTempDirs, tempDir, testPixels } from './onnx-test-helpers';

const SIZE = 64;
const CLASSES = 7;
const PER_IMAGE = 3 * SIZE * SIZE;

let bundle: ModelBundle;
let engine: T3Engine;

beforeAll(async () => {
  bundle = await loadBundle(demoDir);
  engine = await T3Engine.open(bundle, { executionProviders: ['cpu'], cacheDir: await tempDir('grouped-cache'), log: () => undefined });
});

afterAll(async () => {
  await engine?.close();
  await removeTempDirs();
});

function policy(name: 't3b' | 't3b-grouped', hp: Partial<T3Hyperparameters>): PolicyConfig {
  const p = defaultPolicyConfig(name);
  p.hyperparameters = { ...p.hyperparameters, ...hp };
  return p;
}

test('a batch that stays one group is T3B exactly: same λ, same probabilities, same passes', async () => {
  const count = 6;
  const pixels = testPixels(count, SIZE, 5);
  const hp = { lambdaMin: 1.1, lambdaMax: 0.1, gamma: 128, jsThreshold: 0.07 };
  const t3b = await engine.infer(pixels, count, policy('t3b', hp));
  const grouped = await engine.infer(pixels, count, policy('t3b-grouped', { ...hp, maxGroups: 1 }));
  expect(grouped.policy).toBe('t3b-grouped');
  expect(grouped.batchLambda).toBe(t3b.batchLambda);
  expect(grouped.groupLambdas).toEqual([t3b.batchLambda]);
  expect(grouped.passes).toBe(t3b.passes);
  grouped.images.forEach((image, i) => {
    expect(image.group).toBe(0);
    expect(image.appliedLambda).toBe(t3b.batchLambda);
    expect(image.probabilities).toEqual(t3b.images[i].probabilities);
  });
});

test('a batch split at its median JS: each image goes once through the merged model at its group\'s λ', async () => {
  const count = 8;
  const pixels = testPixels(count, SIZE, 9);
  const probe = await engine.infer(pixels, count, policy('t3b', {}));
  const sorted = probe.images.map((im) => im.js).sort((a, b) => a - b);
  // A step between the batch's two middle divergences: four images fall on each side.
  const hp = { lambdaMin: 1, lambdaMax: 0, gamma: 256, jsThreshold: (sorted[3] + sorted[4]) / 2, minGroupSize: 2, maxGroups: 2 };
  const grouped = await engine.infer(pixels, count, policy('t3b-grouped', hp));
  const lambdas = grouped.groupLambdas ?? [];
  expect(lambdas).toHaveLength(2);
  expect(lambdas[0]).not.toBeCloseTo(lambdas[1], 3);
  expect(grouped.batchLambda).toBeNull();
  // Two fixed passes and one merged pass per group: every image in exactly one merged pass.
  expect(grouped.passes).toBe(2 + 2);
  const temperatures = bundle.manifest.temperatures;
  for (let i = 0; i < count; i++) {
    const image = grouped.images[i];
    const g = image.group ?? -1;
    // Group 0 is the side of the step the first image falls on.
    expect((image.js >= hp.jsThreshold) === (grouped.images[0].js >= hp.jsThreshold)).toBe(g === 0);
    expect(image.appliedLambda).toBe(lambdas[g]);
    const alone = await engine.passLogits(pixels.slice(i * PER_IMAGE, (i + 1) * PER_IMAGE), 1, lambdas[g]);
    const expected = softmax(alone, mergedTemperature(lambdas[g], temperatures.generalist, temperatures.expert));
    expect(maxAbsDiff(image.probabilities, expected)).toBeLessThan(1e-4);
  }
});

test('a mixed batch (given fixed passes): the agreeing half and the disagreeing half get different λ', async () => {
  const count = 8;
  const pixels = testPixels(count, SIZE, 3);
  const pt = new Float32Array(count * CLASSES);
  const ft = new Float32Array(count * CLASSES);
  for (let i = 0; i < count; i++) {
    pt[i * CLASSES + (i % CLASSES)] = 8;
    // The first half: both models pick the same class; the second half: the expert picks another.
    ft[i * CLASSES + (i < count / 2 ? i % CLASSES : (i + 3) % CLASSES)] = 8;
  }
  const hp = { lambdaMin: 1, lambdaMax: 0, gamma: 128, jsThreshold: 0.2, minGroupSize: 2, maxGroups: 2 };
  const result = await engine.inferFromFixedPasses(pt, ft, pixels, count, policy('t3b-grouped', hp));
  expect(result.images.map((im) => im.group)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  const [inDomain, shifted] = result.groupLambdas ?? [];
  expect(inDomain).toBeGreaterThan(0.9);
  expect(shifted).toBeLessThan(0.1);
  expect(result.passes).toBe(2);
  result.images.forEach((image, i) => expect(image.appliedLambda).toBe(i < count / 2 ? inDomain : shifted));
});
