import {
  DEFAULT_SEQUENTIAL_SETTINGS, defaultLambdaEstimatorSettings, defaultPolicyConfig, T3InputError, type PolicyConfig, type SequentialSettings, type T3Hyperparameters,
} from '../../src/t3';
import { T3Engine, demoBundleDir, loadBundle } from '../../src/engine';
import { inferOptionsFor } from '../../src/pipeline/classification/classify-images';
import { removeTempDirs, tempDir, testPixels } from './onnx-test-helpers';

// Grouped T3B by series with each group's λ by sequential sampling, on the real engine and the shipped demo bundle.
const SIZE = 64;
const PER_IMAGE = 3 * SIZE * SIZE;
let engine: T3Engine;

beforeAll(async () => {
  engine = await T3Engine.open(await loadBundle(demoBundleDir()), { executionProviders: ['cpu'], cacheDir: await tempDir('grouped-sequential-cache'), log: () => undefined });
});

afterAll(async () => {
  await engine?.close();
  await removeTempDirs();
});

function policy(name: 't3b' | 't3b-grouped', hp: Partial<T3Hyperparameters> = {}): PolicyConfig {
  const p = defaultPolicyConfig(name);
  p.hyperparameters = { ...engine.bundle.manifest.t3, minGroupSize: 8, maxGroups: 2, groupBy: 'series', ...hp };
  return p;
}

const sequential = (settings: Partial<SequentialSettings> = {}, seed = 7) =>
  ({ lambdaEstimation: { method: 'sequential' as const, settings: { ...DEFAULT_SEQUENTIAL_SETTINGS, ...settings }, seed } });

function gather(pixels: Float32Array, members: readonly number[]): Float32Array {
  const out = new Float32Array(members.length * PER_IMAGE);
  members.forEach((i, k) => out.set(pixels.subarray(i * PER_IMAGE, (i + 1) * PER_IMAGE), k * PER_IMAGE));
  return out;
}

test('the pipeline asks grouped T3B for sequential group estimates only when the bundle turns sequential sampling on', () => {
  const series = ['1.2.1', '1.2.1', '1.2.2'];
  const settings = defaultLambdaEstimatorSettings();
  expect(inferOptionsFor({ policy: policy('t3b-grouped') }, series, settings)).toEqual({ sources: series });
  settings.seriesReuse.enabled = true;
  expect(inferOptionsFor({ policy: policy('t3b-grouped') }, series, settings)).toEqual({ sources: series });
  settings.sequential.enabled = true;
  const options = inferOptionsFor({ policy: policy('t3b-grouped') }, series, settings);
  expect(options.sources).toEqual(series);
  expect(options.lambdaEstimation).toEqual({ method: 'sequential', settings: { ...DEFAULT_SEQUENTIAL_SETTINGS } });
});

test('a batch of one series gets exactly what sequential T3B gives it', async () => {
  const count = 32;
  const pixels = testPixels(count, SIZE, 21);
  const t3b = await engine.infer(pixels, count, policy('t3b'), sequential());
  const one = await engine.infer(pixels, count, policy('t3b-grouped'), { sources: Array<string>(count).fill('1.2.3'), ...sequential() });
  expect(one.groupLambdas).toEqual([t3b.batchLambda]);
  expect(one.batchLambda).toBe(t3b.batchLambda);
  expect(one.passes).toBe(t3b.passes);
  expect(one.coefficientSample).toEqual(t3b.coefficientSample);
  expect(one.groupEstimates).toEqual([{ record: t3b.lambdaEstimate, sampleSize: t3b.coefficientSample?.length ?? null }]);
  one.images.forEach((image, i) => expect(image.probabilities).toEqual(t3b.images[i].probabilities));
});

test('two series: each group is estimated from its own images, and falls back to all of them to equal grouped T3B', async () => {
  const count = 32;
  const pixels = testPixels(count, SIZE, 5);
  const sources = Array.from({ length: count }, (_, i) => (i % 2 === 0 ? 'A' : 'B'));
  const full = await engine.infer(pixels, count, policy('t3b-grouped'), { sources });

  // A first look of 16 is each whole group: every group's λ comes from all of its images.
  const undecided = await engine.infer(pixels, count, policy('t3b-grouped'), { sources, ...sequential({ minImages: 16, maxImages: 16 }) });
  expect(undecided.groupLambdas).toHaveLength(2);
  undecided.groupLambdas!.forEach((lambda, g) => expect(lambda).toBeCloseTo(full.groupLambdas![g], 12));
  expect(undecided.coefficientSample).toBeNull();
  expect(undecided.groupEstimates!.map((g) => g.sampleSize)).toEqual([null, null]);
  expect(undecided.groupEstimates!.map((g) => g.record.sampled)).toEqual([16, 16]);

  // A wide tolerance decides at the first look of each group: 8 of its 16 images.
  const decided = await engine.infer(pixels, count, policy('t3b-grouped'), { sources, ...sequential({ lambdaTolerance: 2 }) });
  expect(decided.groupEstimates!.map((g) => [g.record.outcome, g.record.sampled, g.sampleSize])).toEqual([['decided', 8, 8], ['decided', 8, 8]]);
  expect(decided.coefficientSample).toHaveLength(16);
  // One fixed-pass call per group (both models), one merged pass per group.
  expect(decided.passes).toBe(2 * 2 + 2);
  decided.images.forEach((image, i) => {
    expect(image.group).toBe(i % 2);
    expect(image.appliedLambda).toBe(decided.groupLambdas![i % 2]);
    const sampled = decided.coefficientSample!.includes(i);
    expect(Number.isFinite(image.js)).toBe(sampled);
  });
  // Each group's λ is the map at the mean statistic of its own sampled images: what T3B gives those images alone.
  for (const g of [0, 1]) {
    const sampledOfGroup = decided.coefficientSample!.filter((i) => i % 2 === g);
    expect(sampledOfGroup).toHaveLength(8);
    const alone = await engine.infer(gather(pixels, sampledOfGroup), 8, policy('t3b'));
    expect(decided.groupLambdas![g]).toBeCloseTo(alone.batchLambda!, 12);
    expect(decided.groupEstimates![g].record.sampleLambda).toBe(decided.groupLambdas![g]);
  }
});

test('grouped by the map\'s step, the estimation is ignored (every image\'s divergence decides the groups)', async () => {
  const count = 16;
  const pixels = testPixels(count, SIZE, 9);
  const hp = { groupBy: 'js-step' as const, minGroupSize: 4 };
  const full = await engine.infer(pixels, count, policy('t3b-grouped', hp));
  const withEstimation = await engine.infer(pixels, count, policy('t3b-grouped', hp), sequential({ lambdaTolerance: 2 }));
  expect(withEstimation.groupLambdas).toEqual(full.groupLambdas);
  expect(withEstimation.passes).toBe(full.passes);
  expect(withEstimation.groupEstimates).toBeUndefined();
});

test('sequential group estimates without the batch\'s series are refused as an invalid argument', async () => {
  const pixels = testPixels(4, SIZE, 3);
  const error = await engine.infer(pixels, 4, policy('t3b-grouped'), sequential()).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(T3InputError);
  expect((error as T3InputError).category).toBe('invalid-argument');
  expect((error as Error).message).toMatch(/series of every image: no series for 4 images/);
});
