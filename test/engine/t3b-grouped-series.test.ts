import { defaultPolicyConfig, T3InputError, type PolicyConfig, type T3Hyperparameters } from '../../src/t3';
import { T3Engine, demoBundleDir, loadBundle } from '../../src/engine';
import { inferOptionsFor } from '../../src/pipeline/classification/classify-images';
import { removeTempDirs, tempDir, testPixels } from './onnx-test-helpers';

// Grouped T3B by series with the real engine on the shipped demo bundle (bundles/demo-trained).
const SIZE = 64;
let engine: T3Engine;

beforeAll(async () => {
  engine = await T3Engine.open(await loadBundle(demoBundleDir()), { executionProviders: ['cpu'], cacheDir: await tempDir('grouped-series-cache'), log: () => undefined });
});

afterAll(async () => {
  await engine?.close();
  await removeTempDirs();
});

function grouped(hp: Partial<T3Hyperparameters>): PolicyConfig {
  const p = defaultPolicyConfig('t3b-grouped');
  p.hyperparameters = { ...engine.bundle.manifest.t3, ...hp, groupBy: 'series' };
  return p;
}

test('the pipeline hands grouped T3B every frame\'s SeriesInstanceUID, and only grouped T3B', () => {
  const series = ['1.2.840.1', '1.2.840.1', '1.2.840.2'];
  expect(inferOptionsFor({ policy: grouped({}) }, series)).toEqual({ sources: series });
  expect(inferOptionsFor({ policy: defaultPolicyConfig('t3') }, series)).toEqual({});
});

test('a batch of one series is T3B exactly; two series are two groups, each image once through the merged model', async () => {
  const count = 16;
  const pixels = testPixels(count, SIZE, 11);
  const t3b = await engine.infer(pixels, count, { ...defaultPolicyConfig('t3b'), hyperparameters: { ...engine.bundle.manifest.t3 } });
  const one = await engine.infer(pixels, count, grouped({ minGroupSize: 4, maxGroups: 4 }), { sources: Array<string>(count).fill('1.2.3') });
  expect(one.groupLambdas).toEqual([t3b.batchLambda]);
  expect(one.batchLambda).toBe(t3b.batchLambda);
  expect(one.passes).toBe(t3b.passes);
  one.images.forEach((image, i) => {
    expect(image.probabilities).toEqual(t3b.images[i].probabilities);
    expect(image.groupSeries).toBe(1);
  });

  // Series A on the even positions, B on the odd ones.
  const sources = Array.from({ length: count }, (_, i) => (i % 2 === 0 ? 'A' : 'B'));
  const two = await engine.infer(pixels, count, grouped({ minGroupSize: 4, maxGroups: 4 }), { sources });
  expect(two.groupLambdas).toHaveLength(2);
  expect(two.batchLambda).toBeNull();
  expect(two.passes).toBe(2 + 2);
  two.images.forEach((image, i) => {
    expect(image.group).toBe(i % 2);
    expect(image.appliedLambda).toBe(two.groupLambdas![i % 2]);
    expect(image.groupSeries).toBe(1);
  });
  // Each group's λ is T3B's over that group's images alone (the same engine on the gathered images).
  for (const g of [0, 1]) {
    const members = Array.from({ length: count / 2 }, (_, k) => 2 * k + g);
    const gathered = new Float32Array(members.length * 3 * SIZE * SIZE);
    members.forEach((i, k) => gathered.set(pixels.subarray(i * 3 * SIZE * SIZE, (i + 1) * 3 * SIZE * SIZE), k * 3 * SIZE * SIZE));
    const alone = await engine.infer(gathered, members.length, { ...defaultPolicyConfig('t3b'), hyperparameters: { ...engine.bundle.manifest.t3 } });
    expect(two.groupLambdas![g]).toBeCloseTo(alone.batchLambda!, 12);
  }
});

test('grouping by series without the batch\'s series is refused as an invalid argument', async () => {
  const pixels = testPixels(4, SIZE, 3);
  const error = await engine.infer(pixels, 4, grouped({ minGroupSize: 1, maxGroups: 2 })).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(T3InputError);
  expect((error as T3InputError).category).toBe('invalid-argument');
});
