import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { InferenceWorker } from '../../src/engine';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const demoDir = path.join(repoRoot, 'bundles', 'demo');
export const fixtureDir = path.join(repoRoot, 'test', 'fixtures', 'onnx');

/** Deterministic pseudo-random pixels in roughly the range of normalised images. */
export function testPixels(count: number, size: number, seed = 1): Float32Array {
  const out = new Float32Array(count * 3 * size * size);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/**
 * Runs a model directly with ONNX Runtime on the CPU (reference for the engine's results). It runs in a worker
 * thread because ONNX Runtime's outputs fail `instanceof Float32Array` inside jest's sandboxed realm.
 */
export async function runPlain(model: string | Uint8Array, pixels: Float32Array, dims: number[], lambda?: number): Promise<Float32Array> {
  let file = model as string;
  if (typeof model !== 'string') {
    file = path.join(await tempDir('model'), 'model.onnx');
    await fs.writeFile(file, model);
  }
  const worker = new InferenceWorker({ modelPath: file, executionProviders: ['cpu'], inputName: 'pixel_values', outputName: 'logits', lambdaInputName: 'lambda' });
  try {
    return (await worker.run(pixels, dims, lambda ?? null)).logits;
  } finally {
    await worker.close();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const created: string[] = [];

export async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `orthanc-t3-${prefix}-`));
  created.push(dir);
  return dir;
}

/** Removes every folder tempDir made (call from afterAll). */
export async function removeTempDirs(): Promise<void> {
  await Promise.all(created.splice(0).map((dir) => fs.rm(dir, { recursive: true, force: true })));
}

/** Copies the demo bundle into a fresh temp folder so a test can break it. */
export async function copyDemoBundle(): Promise<string> {
  const dir = await tempDir('bundle');
  for (const file of ['bundle.json', 'generalist.onnx', 'expert.onnx']) await fs.copyFile(path.join(demoDir, file), path.join(dir, file));
  return dir;
}
