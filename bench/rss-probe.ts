// Child process of the engine benchmark: opens one configuration, runs one batch-1 inference through it and prints
// the process's peak resident set size, so each figure is measured in a process of its own.
//   plain  <model> <size> <threads>                       one plain session
//   merged <mergedModel> <size> <threads>                 the merged graph alone
//   engine <generalist> <expert> <size> <threads> <plain|merged> <cacheDir> <sha256 generalist> <sha256 expert>
//                                                         the T3 engine (merged session + plain fixed-pass sessions
//                                                         or not), one T3B batch
//   naive  <generalist> <expert> <size> <threads>         two plain sessions + one session rebuilt at λ_B
import { promises as fs } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { peakResidentSetMB, resolveIntraOpThreads, T3Engine } from '../src/engine';
import { defaultPolicyConfig } from '../src/t3';
import { LambdaBaker } from './bake-lambda';
import { pairBundle } from './pair-bundle';

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  const started = performance.now();
  const sessionOptions = (threads: string): ort.InferenceSession.SessionOptions =>
    ({ executionProviders: ['cpu'], intraOpNumThreads: resolveIntraOpThreads(Number(threads) > 0 ? Number(threads) : undefined) });
  const image = (size: number) => new Float32Array(3 * size * size).fill(0.1);
  let createMs = 0;
  if (mode === 'plain' || mode === 'merged') {
    const [modelPath, size, threads] = args;
    const s = Number(size);
    const session = await ort.InferenceSession.create(modelPath, sessionOptions(threads));
    createMs = performance.now() - started;
    const feeds: Record<string, ort.Tensor> = { pixel_values: new ort.Tensor('float32', image(s), [1, 3, s, s]) };
    if (mode === 'merged') feeds.lambda = new ort.Tensor('float32', new Float32Array([0.5]), []);
    await session.run(feeds);
  } else if (mode === 'engine') {
    const [generalist, expert, size, threads, sessions, cacheDir, shaG, shaE] = args;
    // The hashes come from the parent, so the probe never holds the model files' bytes: only the engine counts.
    const bundle = await pairBundle('probe', generalist, expert, Number(size), { generalist: shaG, expert: shaE });
    const engine = await T3Engine.open(bundle, {
      executionProviders: ['cpu'], cacheDir, intraOpThreads: Number(threads) > 0 ? Number(threads) : undefined,
      fixedPassSessions: sessions as 'plain' | 'merged', log: () => undefined,
    });
    createMs = performance.now() - started;
    await engine.infer(image(Number(size)), 1, defaultPolicyConfig('t3b'));
    await engine.close();
  } else if (mode === 'naive') {
    const [generalist, expert, size, threads] = args;
    const s = Number(size);
    const pt = await ort.InferenceSession.create(generalist, sessionOptions(threads));
    const ft = await ort.InferenceSession.create(expert, sessionOptions(threads));
    createMs = performance.now() - started;
    const feeds = { pixel_values: new ort.Tensor('float32', image(s), [1, 3, s, s]) };
    await pt.run(feeds);
    await ft.run(feeds);
    const baker = new LambdaBaker(await fs.readFile(generalist), await fs.readFile(expert));
    const rebuilt = await ort.InferenceSession.create(baker.bake(0.5), sessionOptions(threads));
    await rebuilt.run(feeds);
  } else {
    throw new Error(`unknown probe mode "${mode}"`);
  }
  process.stdout.write(JSON.stringify({ peakRssMB: peakResidentSetMB(), createMs: Math.round(createMs) }) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
