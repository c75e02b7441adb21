import { promises as fs } from 'node:fs';
import { defaultPolicyConfig, type PolicyName } from '../../src/t3';
import { T3Engine, chooseFixedPassSessions, loadBundle, type BatchInference, type ModelBundle } from '../../src/engine';
import { demoDir, removeTempDirs, tempDir, testPixels } from './onnx-test-helpers';

const SIZE = 64;
const count = 5;
const pixels = testPixels(count, SIZE, 11);
const GiB = 2 ** 30;

let bundle: ModelBundle;
let plain: T3Engine;
let merged: T3Engine;

beforeAll(async () => {
  bundle = await loadBundle(demoDir);
  const cacheDir = await tempDir('fixed-pass-cache');
  plain = await T3Engine.open(bundle, { executionProviders: ['cpu'], cacheDir, fixedPassSessions: 'plain', log: () => undefined });
  merged = await T3Engine.open(bundle, { executionProviders: ['cpu'], cacheDir, fixedPassSessions: 'merged', log: () => undefined });
});

afterAll(async () => {
  await plain?.close();
  await merged?.close();
  await removeTempDirs();
});

function expectSameResults(a: BatchInference, b: BatchInference): void {
  // Plain and merged sessions differ by about 1e-6 in the logits (docs/ONNX.md): compare with tolerances.
  expect(a.images).toHaveLength(b.images.length);
  if (a.batchLambda === null) expect(b.batchLambda).toBeNull();
  else expect(Math.abs(a.batchLambda - b.batchLambda!)).toBeLessThan(1e-5);
  a.images.forEach((image, i) => {
    const other = b.images[i];
    image.probabilities.forEach((p, c) => expect(Math.abs(p - other.probabilities[c])).toBeLessThan(1e-5));
    if (Number.isNaN(image.js)) expect(other.js).toBeNaN();
    else expect(Math.abs(image.js - other.js)).toBeLessThan(1e-5);
    expect(Math.abs(image.lambdaFinal - other.lambdaFinal)).toBeLessThan(1e-5);
  });
  expect(a.passes).toBe(b.passes);
}

test('the engines report which sessions run the fixed passes', () => {
  expect(plain.fixedPassSessions).toEqual({ sessions: 'plain', reason: 'configured' });
  expect(merged.fixedPassSessions).toEqual({ sessions: 'merged', reason: 'configured' });
});

test.each<PolicyName>(['generalist', 'expert', 't3b', 't3', 'dawin', 'ensemble'])('%s: plain and merged fixed-pass sessions give the same results', async (name) => {
  const policy = defaultPolicyConfig(name);
  expectSameResults(await plain.infer(pixels, count, policy), await merged.infer(pixels, count, policy));
});

test('the merged graph takes the offset form beside plain sessions and the exact lerp form alone', () => {
  expect(plain.merged.summary.form).toBe('offset');
  expect(merged.merged.summary.form).toBe('lerp');
  expect(plain.merged.path).not.toBe(merged.merged.path);
});

test('passLogits at λ=0, λ=1 and between agree between the two engines', async () => {
  // λ=0 and 1: plain sessions vs the lerp graph; 0.37: the offset vs the lerp graph (they differ only by rounding).
  for (const lambda of [0, 1, 0.37]) {
    const a = await plain.passLogits(pixels, count, lambda);
    const b = await merged.passLogits(pixels, count, lambda);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    expect(diff).toBeLessThan(1e-4);
  }
});

test('auto: plain when the two extra sessions fit with headroom, merged when they do not', () => {
  const files = [345e6, 345e6];
  const plentiful = chooseFixedPassSessions('auto', files, { availableBytes: () => 16 * GiB });
  expect(plentiful.sessions).toBe('plain');
  expect(plentiful.reason).toMatch(/^auto: ~\d+ MiB for two plain sessions fits in 16384 MiB available$/);
  const tight = chooseFixedPassSessions('auto', files, { availableBytes: () => 1 * GiB });
  expect(tight.sessions).toBe('merged');
  expect(tight.reason).toMatch(/does not fit in 1024 MiB available/);
  expect(chooseFixedPassSessions('plain', files, { availableBytes: () => 0 }).sessions).toBe('plain');
  expect(chooseFixedPassSessions('merged', files, { availableBytes: () => 64 * GiB }).sessions).toBe('merged');
});

test('plain sessions that cannot start leave the fixed passes to the merged session, in the exact lerp form', async () => {
  const dir = await tempDir('fixed-pass-fallback');
  const bundleDir = `${dir}/bundle`;
  await fs.cp(demoDir, bundleDir, { recursive: true });
  const copy = await loadBundle(bundleDir);
  const cacheDir = `${dir}/cache`;
  // Both forms cached first, so the engine below never reads the model files for the merge.
  for (const fixedPassSessions of ['plain', 'merged'] as const) {
    await (await T3Engine.open(copy, { executionProviders: ['cpu'], cacheDir, fixedPassSessions, log: () => undefined })).close();
  }
  // The generalist file is damaged after the bundle was read: its plain session cannot start.
  await fs.writeFile(copy.generalistPath, 'not an ONNX model any more');
  const lines: string[] = [];
  const fallback = await T3Engine.open(copy, { executionProviders: ['cpu'], cacheDir, fixedPassSessions: 'plain', log: (line) => lines.push(line) });
  try {
    expect(fallback.fixedPassSessions.sessions).toBe('merged');
    expect(fallback.fixedPassSessions.reason).toMatch(/^plain sessions could not start \(/);
    expect(fallback.merged.summary.form).toBe('lerp');
    expect(lines.join('\n')).toMatch(/fixed passes: merged sessions \(plain sessions could not start .*\); merged pass: lerp graph/);
    expectSameResults(await fallback.infer(pixels, count, defaultPolicyConfig('t3b')), await merged.infer(pixels, count, defaultPolicyConfig('t3b')));
  } finally {
    await fallback.close();
  }
});

test('every session of an engine gets an explicit intra-op thread count, said in the engine line; plain fixed passes get half each', async () => {
  const lines: string[] = [];
  const cacheDir = await tempDir('threads-cache');
  for (const [intraOpThreads, fixedPassSessions] of [[1, 'merged'], [4, 'plain'], [1, 'plain']] as const) {
    await (await T3Engine.open(bundle, { executionProviders: ['cpu'], cacheDir, intraOpThreads, fixedPassSessions, log: (line) => lines.push(line) })).close();
  }
  expect(lines[0]).toMatch(/ on cpu, 1 thread;/);
  expect(lines[1]).toMatch(/ on cpu, 4 threads \(2 per fixed pass\);/);
  expect(lines[2]).toMatch(/ on cpu, 1 thread \(1 per fixed pass\);/);
});

test('fixedPassLogits gives both fixed passes, equal to one pass at λ=0 and one at λ=1, on either engine', async () => {
  for (const engine of [plain, merged]) {
    const both = await engine.fixedPassLogits(pixels, count);
    expect(Array.from(both.generalist)).toEqual(Array.from(await engine.passLogits(pixels, count, 0)));
    expect(Array.from(both.expert)).toEqual(Array.from(await engine.passLogits(pixels, count, 1)));
  }
  await expect(plain.fixedPassLogits(pixels, count + 1)).rejects.toThrow(/pixels has/);
});
