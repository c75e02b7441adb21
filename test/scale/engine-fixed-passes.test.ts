/**
 * The engine's API for speculation: passLogits (one pass at λ) and inferFromFixedPasses (the rest of a two-pass
 * policy, given both fixed passes) give exactly what infer gives on the same batch, for every two-pass policy.
 */
import { demoBundleDir, loadBundle, T3Engine, EngineError } from '../../src/engine';
import { defaultPolicyConfig, type PolicyName } from '../../src/t3';

let engine: T3Engine;

beforeAll(async () => {
  engine = await T3Engine.open(await loadBundle(demoBundleDir()), { executionProviders: ['cpu'], log: () => undefined });
});
afterAll(async () => {
  await engine?.close();
});

function pixels(count: number, seed: number): Float32Array {
  const { channels, height, width } = engine.bundle.manifest.input;
  const out = new Float32Array(count * channels * height * width);
  let x = seed;
  for (let i = 0; i < out.length; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out[i] = (x / 2147483648 - 0.5) * 4;
  }
  return out;
}

test.each(['t3b', 't3', 'dawin', 'ensemble'] as PolicyName[])('%s from fixed passes equals infer', async (name) => {
  const count = 5;
  const px = pixels(count, 7);
  const policy = defaultPolicyConfig(name);
  const direct = await engine.infer(px, count, policy);
  const pt = await engine.passLogits(px, count, 0);
  const ft = await engine.passLogits(px, count, 1);
  expect(pt).toHaveLength(count * engine.bundle.manifest.classes.length);
  const fromFixed = await engine.inferFromFixedPasses(pt, ft, px, count, policy);
  expect(fromFixed.batchLambda).toBe(direct.batchLambda);
  expect(fromFixed.passes).toBe(direct.passes - 2);
  fromFixed.images.forEach((im, i) => {
    expect(im.lambda).toBe(direct.images[i].lambda);
    expect(im.js).toBe(direct.images[i].js);
    expect(im.probabilities).toEqual(direct.images[i].probabilities);
  });
});

test('fixed passes computed in another batch give the same λ_B and predictions within 1e-5', async () => {
  const a = pixels(3, 11);
  const b = pixels(4, 13);
  const both = new Float32Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  // Speculation ran the fixed passes on 7 images of two studies; the study's own batch has 4.
  const pt = (await engine.passLogits(both, 7, 0)).slice(3 * 7);
  const ft = (await engine.passLogits(both, 7, 1)).slice(3 * 7);
  const policy = defaultPolicyConfig('t3b');
  const direct = await engine.infer(b, 4, policy);
  const fromFixed = await engine.inferFromFixedPasses(pt, ft, b, 4, policy);
  expect(Math.abs(fromFixed.batchLambda! - direct.batchLambda!)).toBeLessThan(1e-6);
  fromFixed.images.forEach((im, i) => im.probabilities.forEach((p, k) => expect(Math.abs(p - direct.images[i].probabilities[k])).toBeLessThan(1e-5)));
});

test('bad input is refused with a reason', async () => {
  const px = pixels(2, 3);
  const k = engine.bundle.manifest.classes.length;
  const ok = new Float32Array(2 * k);
  await expect(engine.inferFromFixedPasses(ok, ok, px, 2, defaultPolicyConfig('generalist'))).rejects.toThrow(/single pass/);
  await expect(engine.inferFromFixedPasses(new Float32Array(k), ok, px, 2, defaultPolicyConfig('t3b'))).rejects.toThrow(EngineError);
  const nan = new Float32Array(2 * k).fill(Number.NaN);
  await expect(engine.inferFromFixedPasses(ok, nan, px, 2, defaultPolicyConfig('t3b'))).rejects.toThrow(/non-finite/);
  await expect(engine.passLogits(px, 3, 0)).rejects.toThrow(/pixels has/);
  await expect(engine.passLogits(px, 2, Number.NaN)).rejects.toThrow(/lambda must be finite/);
});
