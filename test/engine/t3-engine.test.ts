import path from 'node:path';
import { computeBatchCoefficients, defaultPolicyConfig, softmax, type PolicyName } from '../../src/t3';
import { EngineError, T3Engine, loadBundle, type ModelBundle } from '../../src/engine';
import { demoDir, maxAbsDiff, removeTempDirs, runPlain, tempDir, testPixels } from './onnx-test-helpers';

const SIZE = 64;
const CLASSES = 7;

let bundle: ModelBundle;
let engine: T3Engine;
const logged: string[] = [];
const count = 6;
const pixels = testPixels(count, SIZE, 3);
let ptLogits: Float32Array[];
let ftLogits: Float32Array[];

function rows(flat: Float32Array, n: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => flat.slice(i * CLASSES, (i + 1) * CLASSES));
}

beforeAll(async () => {
  bundle = await loadBundle(demoDir);
  // cuda is not installed on this machine: the engine must fall back to the next provider and say so.
  engine = await T3Engine.open(bundle, { executionProviders: ['cuda', 'cpu'], cacheDir: await tempDir('engine-cache'), log: (m) => logged.push(m) });
  const dims = [count, 3, SIZE, SIZE];
  ptLogits = rows(await runPlain(bundle.generalistPath, pixels, dims), count);
  ftLogits = rows(await runPlain(bundle.expertPath, pixels, dims), count);
});

afterAll(async () => {
  await engine?.close();
  await removeTempDirs();
});

test('provider fallback: cuda cannot start, cpu is used and reported once', () => {
  expect(engine.executionProvider).toBe('cpu');
  expect(engine.providerFailures.map((f) => f.provider)).toEqual(['cuda']);
  expect(logged).toHaveLength(1);
  expect(logged[0]).toMatch(/ on cpu, \d+ threads?( \(\d+ per fixed pass\))? \(cuda could not start: see `orthanc-t3 doctor`\); /);
});

test('webgpu without an adapter falls back to cpu; no provider that can start is a clear error', async () => {
  const cacheDir = await tempDir('engine-cache');
  const other = await T3Engine.open(bundle, { executionProviders: ['webgpu', 'cpu'], cacheDir, log: () => undefined });
  try {
    expect(other.executionProvider).toBe('cpu');
    expect(other.providerFailures.map((f) => f.provider)).toEqual(['webgpu']);
  } finally {
    await other.close();
  }
  await expect(T3Engine.open(bundle, { executionProviders: ['cuda'], cacheDir, log: () => undefined }))
    .rejects.toThrow(/cannot start an inference session for .*: no execution provider could start: cuda: /);
  await expect(T3Engine.open(bundle, { executionProviders: ['tpu' as 'cpu'], cacheDir })).rejects.toThrow(/unknown execution provider "tpu"/);
});

function expectDistributions(result: { images: { probabilities: number[] }[] }): void {
  expect(result.images).toHaveLength(count);
  for (const image of result.images) {
    expect(image.probabilities).toHaveLength(CLASSES);
    expect(image.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    for (const p of image.probabilities) expect(p >= 0 && p <= 1).toBe(true);
  }
}

test('t3b: λ_B is the mean of λ\' computed by src/t3 on the two pass logits; three passes', async () => {
  const policy = defaultPolicyConfig('t3b');
  const result = await engine.infer(pixels, count, policy);
  expectDistributions(result);
  const reference = computeBatchCoefficients(ptLogits, ftLogits, policy.hyperparameters);
  expect(result.batchLambda).not.toBeNull();
  expect(Math.abs(result.batchLambda! - reference.batchLambda)).toBeLessThan(1e-6);
  const meanFinal = result.images.reduce((s, i) => s + i.lambdaFinal, 0) / count;
  expect(result.batchLambda!).toBeCloseTo(meanFinal, 12);
  result.images.forEach((image, i) => {
    expect(image.appliedLambda).toBe(result.batchLambda);
    expect(Math.abs(image.js - reference.images[i].js)).toBeLessThan(1e-6);
    expect(Math.abs(image.lambdaFinal - reference.images[i].lambdaFinal)).toBeLessThan(1e-6);
  });
  expect(result).toMatchObject({ policy: 't3b', passes: 3, executionProvider: 'cpu' });
  expect(result.batchId).toMatch(/^[0-9a-f-]{36}$/);
  // The merged prediction is neither model's own.
  const merged = result.images[0].probabilities;
  expect(maxAbsDiff(merged, softmax(ptLogits[0]))).toBeGreaterThan(1e-4);
  expect(maxAbsDiff(merged, softmax(ftLogits[0]))).toBeGreaterThan(1e-4);
});

test('generalist and expert: one pass each, equal to the plain models', async () => {
  for (const [name, ref, lambda] of [['generalist', ptLogits, 0], ['expert', ftLogits, 1]] as const) {
    const result = await engine.infer(pixels, count, defaultPolicyConfig(name));
    expectDistributions(result);
    expect(result.passes).toBe(1);
    // No λ_B: one-model policies record their fixed λ per image.
    expect(result.batchLambda).toBeNull();
    result.images.forEach((image, i) => {
      expect(maxAbsDiff(image.probabilities, softmax(ref[i]))).toBeLessThan(1e-5);
      expect(image.appliedLambda).toBe(lambda);
      expect(Number.isNaN(image.js)).toBe(true);
    });
  }
});

test('wise: one pass at α', async () => {
  const policy = { ...defaultPolicyConfig('wise'), wiseAlpha: 0.3 };
  const result = await engine.infer(pixels, count, policy);
  expectDistributions(result);
  expect(result.passes).toBe(1);
  expect(result.images.every((i) => i.appliedLambda === 0.3)).toBe(true);
});

test('ensemble: ½(p+q) of the two passes, no merged pass', async () => {
  const result = await engine.infer(pixels, count, defaultPolicyConfig('ensemble'));
  expectDistributions(result);
  expect(result.passes).toBe(2);
  expect(result.batchLambda).toBeNull();
  result.images.forEach((image, i) => {
    const p = softmax(ptLogits[i]);
    const q = softmax(ftLogits[i]);
    expect(maxAbsDiff(image.probabilities, p.map((v, k) => (v + q[k]) / 2))).toBeLessThan(1e-5);
    expect(image.appliedLambda).toBeNull();
  });
});

test('t3: one merged pass per image at its own λ\', equal to t3b on a batch of that image alone', async () => {
  const result = await engine.infer(pixels, count, defaultPolicyConfig('t3'));
  expectDistributions(result);
  expect(result.passes).toBe(2 + count);
  expect(result.batchLambda).toBeNull();
  const perImage = 3 * SIZE * SIZE;
  for (const i of [0, 4]) {
    expect(result.images[i].appliedLambda).toBe(result.images[i].lambdaFinal);
    const alone = await engine.infer(pixels.slice(i * perImage, (i + 1) * perImage), 1, defaultPolicyConfig('t3b'));
    expect(alone.batchLambda!).toBeCloseTo(result.images[i].lambdaFinal, 6);
    expect(maxAbsDiff(alone.images[0].probabilities, result.images[i].probabilities)).toBeLessThan(1e-5);
  }
  const lambdas = new Set(result.images.map((i) => i.appliedLambda));
  expect(lambdas.size).toBeGreaterThan(1);
});

test('dawin: per-image λ = e^{−H_ft}/(e^{−H_pt}+e^{−H_ft})', async () => {
  const policy = defaultPolicyConfig('dawin');
  const result = await engine.infer(pixels, count, policy);
  expectDistributions(result);
  const reference = computeBatchCoefficients(ptLogits, ftLogits, policy.hyperparameters);
  result.images.forEach((image, i) => {
    const expected = Math.exp(-reference.images[i].entropyFt) / (Math.exp(-reference.images[i].entropyPt) + Math.exp(-reference.images[i].entropyFt));
    expect(Math.abs(image.appliedLambda! - expected)).toBeLessThan(1e-5);
  });
});

test('bundle temperatures override the policy temperatures', async () => {
  const hot: ModelBundle = { ...bundle, manifest: { ...bundle.manifest, temperatures: { generalist: 3, expert: 0.5 } } };
  const warm = await T3Engine.open(hot, { executionProviders: ['cpu'], cacheDir: await tempDir('engine-cache'), log: () => undefined });
  try {
    const policy = defaultPolicyConfig('t3b');
    const result = await warm.infer(pixels, count, policy);
    const reference = computeBatchCoefficients(ptLogits, ftLogits, { ...policy.hyperparameters, tPt: 3, tFt: 0.5 });
    expect(Math.abs(result.batchLambda! - reference.batchLambda)).toBeLessThan(1e-6);
  } finally {
    await warm.close();
  }
});

describe('bad input gets a clear error and the engine stays usable', () => {
  test.each([
    ['empty batch', () => engine.infer(new Float32Array(0), 0, defaultPolicyConfig('t3b')), /empty batch/],
    ['wrong pixel count', () => engine.infer(new Float32Array(3 * SIZE * SIZE + 5), 1, defaultPolicyConfig('t3b')), /pixels has 12293 values, expected count·3·64·64 = 12288/],
    ['not a Float32Array', () => engine.infer(new Float64Array(3 * SIZE * SIZE) as unknown as Float32Array, 1, defaultPolicyConfig('t3b')), /Float32Array/],
    ['NaN logits', () => engine.infer(new Float32Array(2 * 3 * SIZE * SIZE).fill(Number.NaN), 2, defaultPolicyConfig('t3b')), /generalist \(λ=0\) pass produced a non-finite logit \(NaN\) for image 0/],
  ])('%s', async (_what, call, pattern) => {
    await expect(call()).rejects.toThrow(EngineError);
    await expect(call()).rejects.toThrow(pattern);
    const ok = await engine.infer(pixels.slice(0, 3 * SIZE * SIZE), 1, defaultPolicyConfig('t3b'));
    expect(ok.images).toHaveLength(1);
  });
});

test('every policy name is served', async () => {
  const names: PolicyName[] = ['generalist', 'expert', 'wise', 'ensemble', 'dawin', 't3', 't3b'];
  for (const name of names) {
    const result = await engine.infer(pixels.slice(0, 2 * 3 * SIZE * SIZE), 2, defaultPolicyConfig(name));
    expect(result.policy).toBe(name);
    expect(result.images).toHaveLength(2);
  }
});

test('the event loop stays responsive during inference', async () => {
  const big = 256;
  const many = testPixels(big, SIZE, 11);
  let maxDelay = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxDelay = Math.max(maxDelay, now - last - 10);
    last = now;
  }, 10);
  // Repeat until the inference took long enough for a stall to be unmistakable, however fast the machine is.
  const started = performance.now();
  let slowestCall = 0;
  try {
    while (performance.now() - started < 600) {
      const t0 = performance.now();
      await engine.infer(many, big, defaultPolicyConfig('t3b'));
      slowestCall = Math.max(slowestCall, performance.now() - t0);
    }
  } finally {
    clearInterval(timer);
  }
  // Each of the three equal passes of a call takes about a third of it; run on the main thread, one pass would hold
  // the 10 ms timer back by that much. In a worker the timer is only delayed by CPU contention (2 shared cores).
  expect(slowestCall).toBeGreaterThan(60);
  expect(maxDelay).toBeLessThan(Math.max(slowestCall / 4, 25));
});

test('the engine reports its bundle and merged model', () => {
  expect(path.isAbsolute(engine.bundle.dir)).toBe(true);
  expect(engine.merged.summary.mergedInitializers).toBe(19);
  expect(engine.merged.summary.sharedInitializers).toBe(2);
  expect(engine.sessionCreateMs).toBeGreaterThan(0);
});
