import {
  DEFAULT_SEQUENTIAL_SETTINGS, defaultLambdaEstimatorSettings, defaultPolicyConfig, T3InputError, type PolicyConfig, type SequentialSettings, type T3Hyperparameters,
} from '../../src/t3';
import { T3Engine, demoBundleDir, loadBundle } from '../../src/engine';
import { inferOptionsFor } from '../../src/pipeline/classification/classify-images';
import { SeriesLambdaStore } from '../../src/pipeline/classification/series-lambda-store';
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

/** T3B's sequential estimation, and grouped T3B's with the same settings inside each group. */
const sequential = (settings: Partial<SequentialSettings> = {}, seed = 7) =>
  ({ lambdaEstimation: { method: 'sequential' as const, settings: { ...DEFAULT_SEQUENTIAL_SETTINGS, ...settings }, seed } });
const groupSequential = (settings: Partial<SequentialSettings> = {}, seed = 7) =>
  ({ groupEstimation: { sequential: { ...DEFAULT_SEQUENTIAL_SETTINGS, ...settings }, seed } });

function gather(pixels: Float32Array, members: readonly number[]): Float32Array {
  const out = new Float32Array(members.length * PER_IMAGE);
  members.forEach((i, k) => out.set(pixels.subarray(i * PER_IMAGE, (i + 1) * PER_IMAGE), k * PER_IMAGE));
  return out;
}

test('the pipeline asks grouped T3B for group estimates only when the bundle turns an estimator on', () => {
  const series = ['1.2.1', '1.2.1', '1.2.2'];
  const settings = defaultLambdaEstimatorSettings();
  expect(inferOptionsFor({ policy: policy('t3b-grouped') }, series, settings)).toEqual({ sources: series });
  settings.sequential.enabled = true;
  expect(inferOptionsFor({ policy: policy('t3b-grouped') }, series, settings)).toEqual({ sources: series, groupEstimation: { sequential: { ...DEFAULT_SEQUENTIAL_SETTINGS } } });
  // Series reuse needs the engine's store: with it, the series that have an entry are offered for reuse.
  settings.seriesReuse.enabled = true;
  const store = new SeriesLambdaStore({ maxSeries: 4, maxAgeMs: 60_000 });
  store.set('1.2.2', { lambdaB: 0.4, batchId: 'earlier/g1', images: 8 });
  const options = inferOptionsFor({ policy: policy('t3b-grouped') }, series, settings, store);
  expect(options.groupEstimation?.reuse).toEqual({ checkImages: 2, lambdaTolerance: 0.1, stored: new Map([['1.2.2', { lambdaB: 0.4, fromBatch: 'earlier/g1' }]]) });
});

test('a batch of one series gets exactly what sequential T3B gives it', async () => {
  const count = 32;
  const pixels = testPixels(count, SIZE, 21);
  const t3b = await engine.infer(pixels, count, policy('t3b'), sequential());
  const one = await engine.infer(pixels, count, policy('t3b-grouped'), { sources: Array<string>(count).fill('1.2.3'), ...groupSequential() });
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
  const undecided = await engine.infer(pixels, count, policy('t3b-grouped'), { sources, ...groupSequential({ minImages: 16, maxImages: 16 }) });
  expect(undecided.groupLambdas).toHaveLength(2);
  undecided.groupLambdas!.forEach((lambda, g) => expect(lambda).toBeCloseTo(full.groupLambdas![g], 12));
  expect(undecided.coefficientSample).toBeNull();
  expect(undecided.groupEstimates!.map((g) => g.sampleSize)).toEqual([null, null]);
  expect(undecided.groupEstimates!.map((g) => g.record?.sampled)).toEqual([16, 16]);

  // A wide tolerance decides at the first look of each group: 8 of its 16 images.
  const decided = await engine.infer(pixels, count, policy('t3b-grouped'), { sources, ...groupSequential({ lambdaTolerance: 2 }) });
  expect(decided.groupEstimates!.map((g) => [g.record?.outcome, g.record?.sampled, g.sampleSize])).toEqual([['decided', 8, 8], ['decided', 8, 8]]);
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
    expect(decided.groupEstimates![g].record?.sampleLambda).toBe(decided.groupLambdas![g]);
  }
});

test('grouped by the map\'s step, the estimation is ignored (every image\'s divergence decides the groups)', async () => {
  const count = 16;
  const pixels = testPixels(count, SIZE, 9);
  const hp = { groupBy: 'js-step' as const, minGroupSize: 4 };
  const full = await engine.infer(pixels, count, policy('t3b-grouped', hp));
  const withEstimation = await engine.infer(pixels, count, policy('t3b-grouped', hp), groupSequential({ lambdaTolerance: 2 }));
  expect(withEstimation.groupLambdas).toEqual(full.groupLambdas);
  expect(withEstimation.passes).toBe(full.passes);
  expect(withEstimation.groupEstimates).toBeUndefined();
});

test('sequential group estimates without the batch\'s series are refused as an invalid argument', async () => {
  const pixels = testPixels(4, SIZE, 3);
  const error = await engine.infer(pixels, 4, policy('t3b-grouped'), groupSequential()).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(T3InputError);
  expect((error as T3InputError).category).toBe('invalid-argument');
  expect((error as Error).message).toMatch(/series of every image: no series for 4 images/);
});

test('series reuse per group: a group whose series has a stored λ keeps it after a 2-image check; the other is estimated', async () => {
  const count = 32;
  const pixels = testPixels(count, SIZE, 5);
  const sources = Array.from({ length: count }, (_, i) => (i % 2 === 0 ? 'A' : 'B'));
  const full = await engine.infer(pixels, count, policy('t3b-grouped'), { sources });
  // A tolerance of 2 (wider than any λ range) makes A's check agree; B has no entry and is estimated from all of its images.
  const stored = new Map([['A', { lambdaB: 0.5, fromBatch: 'earlier/g0' }]]);
  const result = await engine.infer(pixels, count, policy('t3b-grouped'), { sources, groupEstimation: { reuse: { checkImages: 2, lambdaTolerance: 2, stored } } });
  expect(result.groupEstimates![0]).toEqual({ record: expect.objectContaining({ method: 'series-reuse', outcome: 'reused', sampled: 2, reusedFrom: 'earlier/g0' }), sampleSize: 2 });
  expect(result.groupLambdas![0]).toBe(0.5);
  expect(result.images.filter((image) => image.group === 0).every((image) => image.appliedLambda === 0.5)).toBe(true);
  expect(result.groupEstimates![1]).toEqual({ record: null, sampleSize: null });
  expect(result.groupLambdas![1]).toBeCloseTo(full.groupLambdas![1], 12);
  // Fixed passes: 2 check images of A, all 16 of B; one merged pass per group.
  expect(result.coefficientSample).toHaveLength(18);
  expect(result.passes).toBe(2 * 2 + 2);
});
