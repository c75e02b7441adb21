import { promises as fs } from 'node:fs';
import path from 'node:path';
import { onnx } from 'onnx-proto';
import { DEFAULT_SEQUENTIAL_SETTINGS, defaultPolicyConfig } from '../../src/t3';
import { BundleError, T3Engine, loadBundle, quantizedCacheFileName, sha256Hex, type ModelBundle } from '../../src/engine';
import { copyDemoBundle, removeTempDirs, tempDir, testPixels } from './onnx-test-helpers';

const SIZE = 64;
const count = 8;
const pixels = testPixels(count, SIZE, 21);
const t3b = defaultPolicyConfig('t3b');

let bundle: ModelBundle;
let floatEngine: T3Engine;
let int8Engine: T3Engine;
let cacheDir: string;
const logged: string[] = [];

beforeAll(async () => {
  bundle = await loadBundle(await copyDemoBundle());
  cacheDir = await tempDir('quantized-engine-cache');
  floatEngine = await T3Engine.open(bundle, { executionProviders: ['cpu'], cacheDir, fixedPassSessions: 'plain', log: () => undefined });
  int8Engine = await T3Engine.open(bundle, { executionProviders: ['cpu'], cacheDir, fixedPassSessions: 'plain', estimationPrecision: 'int8', log: (m) => logged.push(m) });
});

afterAll(async () => {
  await floatEngine?.close();
  await int8Engine?.close();
  await removeTempDirs();
});

describe('int8 estimation passes (engine option)', () => {
  test('off by default: float32 fixed passes, recorded as such, no quantized file built', async () => {
    expect(floatEngine.estimation.precision).toBe('float32');
    const result = await floatEngine.infer(pixels, count, t3b);
    expect(result.estimationPrecision).toBe('float32');
    expect(await floatEngine.quantizedModelFiles()).toBeNull();
  });

  test('on: T3B estimates λ_B on the int8 copies, close to full precision, and records it', async () => {
    expect(int8Engine.estimation.precision).toBe('int8');
    expect(logged.join('\n')).toMatch(/estimation passes: int8/);
    const full = await floatEngine.infer(pixels, count, t3b);
    const quick = await int8Engine.infer(pixels, count, t3b);
    expect(quick.estimationPrecision).toBe('int8');
    expect(quick.batchLambda).not.toBeNull();
    expect(Math.abs(quick.batchLambda! - full.batchLambda!)).toBeLessThan(0.05);
    // The fixed passes really ran on other sessions: the divergences differ (slightly).
    const jsGap = Math.max(...quick.images.map((image, i) => Math.abs(image.js - full.images[i].js)));
    expect(jsGap).toBeGreaterThan(0);
    expect(jsGap).toBeLessThan(0.05);
    const files = await int8Engine.quantizedModelFiles();
    expect(files).not.toBeNull();
    expect(path.basename(files!.generalist.path)).toBe(quantizedCacheFileName({ modelSha256: bundle.manifest.models.generalist.sha256, options: { conv: false } }));
    expect(path.dirname(files!.expert.path)).toBe(cacheDir);
  });

  test('the merged pass stays full precision: at the same λ it gives the float engine\'s output', async () => {
    const quick = await int8Engine.infer(pixels, count, t3b);
    const fullAtSameLambda = await floatEngine.passLogits(pixels, count, quick.batchLambda!);
    const viaInt8 = await int8Engine.passLogits(pixels, count, quick.batchLambda!);
    for (let i = 0; i < viaInt8.length; i++) expect(viaInt8[i]).toBeCloseTo(fullAtSameLambda[i], 5);
  });

  test('the ensemble, whose fixed passes are its predictions, and the one-model policies stay float32', async () => {
    const ensemble = defaultPolicyConfig('ensemble');
    const a = await int8Engine.infer(pixels, count, ensemble);
    const b = await floatEngine.infer(pixels, count, ensemble);
    expect(a.estimationPrecision).toBe('float32');
    a.images.forEach((image, i) => image.probabilities.forEach((p, k) => expect(p).toBeCloseTo(b.images[i].probabilities[k], 6)));
    // Through the speculation path too: int8 logits given for the ensemble are recomputed in float32.
    const fixed = await int8Engine.fixedPassLogits(pixels, count);
    const fromFixed = await int8Engine.inferFromFixedPasses(fixed.generalist, fixed.expert, pixels, count, ensemble);
    expect(fromFixed.estimationPrecision).toBe('float32');
    fromFixed.images.forEach((image, i) => image.probabilities.forEach((p, k) => expect(p).toBeCloseTo(b.images[i].probabilities[k], 6)));
    const t3bFromFixed = await int8Engine.inferFromFixedPasses(fixed.generalist, fixed.expert, pixels, count, t3b);
    expect(t3bFromFixed.estimationPrecision).toBe('int8');
    expect((await int8Engine.infer(pixels, count, defaultPolicyConfig('generalist'))).estimationPrecision).toBeNull();
  });

  test('a call may ask for int8 on a float32 engine (sessions open on first use) or float32 on an int8 one', async () => {
    const engine = await T3Engine.open(bundle, { executionProviders: ['cpu'], cacheDir, fixedPassSessions: 'merged', log: () => undefined });
    try {
      expect(await engine.quantizedModelFiles()).toBeNull();
      const asked = await engine.infer(pixels, count, t3b, { estimationPrecision: 'int8' });
      expect(asked.estimationPrecision).toBe('int8');
      expect(await engine.quantizedModelFiles()).not.toBeNull();
      const reference = await int8Engine.infer(pixels, count, t3b);
      expect(asked.batchLambda).toBeCloseTo(reference.batchLambda!, 5);
    } finally {
      await engine.close();
    }
    const full = await int8Engine.infer(pixels, count, t3b, { estimationPrecision: 'float32' });
    expect(full.estimationPrecision).toBe('float32');
    expect(full.batchLambda).toBeCloseTo((await floatEngine.infer(pixels, count, t3b)).batchLambda!, 6);
  });
});

test('an estimator of lambdaEstimation runs its fixed passes at the engine\'s precision (the two combine)', async () => {
  const estimation = { method: 'sequential' as const, settings: DEFAULT_SEQUENTIAL_SETTINGS, seed: 7 };
  const quick = await int8Engine.infer(pixels, count, t3b, { lambdaEstimation: estimation });
  const full = await floatEngine.infer(pixels, count, t3b, { lambdaEstimation: estimation });
  expect(quick.estimationPrecision).toBe('int8');
  expect(full.estimationPrecision).toBe('float32');
  // Same images sampled in the same order, different precision: the sampled images' divergences differ slightly.
  const sampled = quick.images.flatMap((image, i) => (Number.isFinite(image.js) && Number.isFinite(full.images[i].js) ? [Math.abs(image.js - full.images[i].js)] : []));
  expect(sampled.length).toBeGreaterThan(0);
  expect(Math.max(...sampled)).toBeGreaterThan(0);
});

describe('bundle key t3.estimationPrecision', () => {
  async function withT3(change: (t3: Record<string, unknown>) => void): Promise<string> {
    const dir = await copyDemoBundle();
    const file = path.join(dir, 'bundle.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as { t3?: Record<string, unknown> };
    manifest.t3 ??= {};
    change(manifest.t3);
    await fs.writeFile(file, JSON.stringify(manifest));
    return dir;
  }

  test('int8 in the bundle turns the estimation passes to int8; the engine option overrides it', async () => {
    const dir = await withT3((t3) => { t3.estimationPrecision = 'int8'; });
    const fromBundle = await loadBundle(dir);
    expect(fromBundle.manifest.estimationPrecision).toBe('int8');
    const engine = await T3Engine.open(fromBundle, { executionProviders: ['cpu'], cacheDir: await tempDir('bundle-int8'), log: () => undefined });
    try {
      expect(engine.estimation).toEqual({ precision: 'int8', reason: 'bundle t3.estimationPrecision' });
      expect((await engine.infer(pixels, count, t3b)).estimationPrecision).toBe('int8');
    } finally {
      await engine.close();
    }
    const overridden = await T3Engine.open(fromBundle, { executionProviders: ['cpu'], cacheDir: await tempDir('bundle-int8'), estimationPrecision: 'float32', log: () => undefined });
    try {
      expect(overridden.estimation.precision).toBe('float32');
    } finally {
      await overridden.close();
    }
  });

  test('absent means float32; a bad value is refused with its key path', async () => {
    expect((await loadBundle(await withT3(() => undefined))).manifest.estimationPrecision).toBeUndefined();
    const bad = await withT3((t3) => { t3.estimationPrecision = 'int4'; });
    const error = await loadBundle(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as BundleError).field).toBe('t3.estimationPrecision');
    expect((error as BundleError).message).toMatch(/float32, int8/);
  });

  test('a changed model gets a new int8 copy the next time the engine opens', async () => {
    const dir = await copyDemoBundle();
    const cache = await tempDir('bundle-change-cache');
    const open = async () => T3Engine.open(await loadBundle(dir), { executionProviders: ['cpu'], cacheDir: cache, estimationPrecision: 'int8', log: () => undefined });
    const first = await open();
    const before = (await first.quantizedModelFiles())!;
    await first.close();
    expect(before.generalist.cached).toBe(false);
    const reopened = await open();
    expect((await reopened.quantizedModelFiles())!.generalist).toMatchObject({ cached: true, path: before.generalist.path });
    await reopened.close();

    // The generalist is replaced (here by a copy with one weight changed) and bundle.json gets its new hash, as a model
    // update does.
    const manifestFile = path.join(dir, 'bundle.json');
    const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as { models: { generalist: { file: string; sha256: string } } };
    const modelFile = path.join(dir, manifest.models.generalist.file);
    const model = onnx.ModelProto.decode(await fs.readFile(modelFile));
    const weight = model.graph!.initializer!.find((t) => t.dataType === onnx.TensorProto.DataType.FLOAT && (t.rawData?.length ?? 0) > 4)!;
    const values = new Float32Array(Uint8Array.from(weight.rawData!).buffer);
    values[0] += 0.5;
    weight.rawData = new Uint8Array(values.buffer);
    const replacement = onnx.ModelProto.encode(model).finish();
    await fs.writeFile(modelFile, replacement);
    manifest.models.generalist.sha256 = sha256Hex(replacement);
    await fs.writeFile(manifestFile, JSON.stringify(manifest));
    const changed = await open();
    try {
      const after = (await changed.quantizedModelFiles())!;
      expect(after.generalist.cached).toBe(false);
      expect(after.generalist.path).not.toBe(before.generalist.path);
      expect(after.generalist.path).toContain(sha256Hex(replacement).slice(0, 32));
      // The expert did not change: its copy is reused.
      expect(after.expert).toMatchObject({ cached: true, path: before.expert.path });
    } finally {
      await changed.close();
    }
  });
});
