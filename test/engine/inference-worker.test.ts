import path from 'node:path';
import { EngineError, InferenceWorker } from '../../src/engine';
import { INFERENCE_NICENESS } from '../../src/engine/inference-priority';
import { demoDir, testPixels } from './onnx-test-helpers';

const init = { modelPath: path.join(demoDir, 'generalist.onnx'), executionProviders: ['cpu' as const], inputName: 'pixel_values', outputName: 'logits', lambdaInputName: 'lambda' };

test('a worker that dies rejects its pending calls clearly, and the next call starts a new worker', async () => {
  const worker = new InferenceWorker(init);
  try {
    const info = await worker.start();
    expect(info.executionProvider).toBe('cpu');
    const big = testPixels(128, 64, 5);
    const pending = [worker.run(big, [128, 3, 64, 64], null), worker.run(big, [128, 3, 64, 64], null)];
    await worker.abort();
    for (const call of pending) {
      await expect(call).rejects.toThrow(EngineError);
      await expect(call).rejects.toThrow(/inference worker stopped \(exit code 1\); pending inferences were abandoned/);
    }
    const again = await worker.run(testPixels(2, 64, 6), [2, 3, 64, 64], null);
    expect(again.dims).toEqual([2, 7]);
    expect(worker.starts).toBe(2);
  } finally {
    await worker.close();
  }
});

test('a model that cannot be opened fails at start with the file named', async () => {
  const worker = new InferenceWorker({ ...init, modelPath: path.join(demoDir, 'bundle.json') });
  await expect(worker.start()).rejects.toThrow(/cannot start an inference session for .*bundle\.json: no execution provider could start: cpu: /);
  await worker.close();
});

test('a run ONNX Runtime rejects (wrong shape) fails that call only', async () => {
  const worker = new InferenceWorker(init);
  try {
    await expect(worker.run(testPixels(1, 32, 1), [1, 3, 32, 32], null)).rejects.toThrow(/inference failed: .*(dimension|Got invalid dimensions)/i);
    const ok = await worker.run(testPixels(1, 64, 1), [1, 3, 64, 64], null);
    expect(ok.logits).toHaveLength(7);
    expect(worker.starts).toBe(1);
  } finally {
    await worker.close();
  }
});

test('a closed worker refuses new calls', async () => {
  const worker = new InferenceWorker(init);
  await worker.close();
  await expect(worker.run(testPixels(1, 64, 1), [1, 3, 64, 64], null)).rejects.toThrow(/closed/);
});

test('pixels in shared memory give the same logits as a private copy, and stay as they were', async () => {
  const worker = new InferenceWorker(init);
  try {
    const pixels = testPixels(3, 64, 8);
    const shared = new Float32Array(new SharedArrayBuffer(pixels.byteLength));
    shared.set(pixels);
    const fromCopy = await worker.run(pixels, [3, 3, 64, 64], null);
    const fromShared = await worker.run(shared, [3, 3, 64, 64], null);
    expect(Array.from(fromShared.logits)).toEqual(Array.from(fromCopy.logits));
    expect(Array.from(shared)).toEqual(Array.from(pixels));
    // A smaller batch after a larger one reuses the worker's input memory: only its own images count.
    const one = await worker.run(shared.subarray(2 * 3 * 64 * 64), [1, 3, 64, 64], null);
    expect(Array.from(one.logits)).toEqual(Array.from(fromCopy.logits.subarray(14)));
  } finally {
    await worker.close();
  }
});

/** Nice value of each thread of this process, from /proc (field 19 of stat). */
async function threadNiceness(): Promise<Map<number, number>> {
  const { promises: fs } = await import('node:fs');
  const result = new Map<number, number>();
  for (const tid of await fs.readdir('/proc/self/task')) {
    const stat = await fs.readFile(`/proc/self/task/${tid}/stat`, 'utf8');
    result.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return result;
}

(process.platform === 'linux' ? test : test.skip)('inference threads run below the event loop\'s priority; the event loop keeps its own', async () => {
  const before = await threadNiceness();
  const worker = new InferenceWorker({ ...init, intraOpThreads: 2 });
  try {
    await worker.run(testPixels(1, 64, 1), [1, 3, 64, 64], null);
    const after = await threadNiceness();
    const added = [...after].filter(([tid]) => !before.has(tid));
    // The worker thread and ONNX Runtime's intra-op thread (two threads: the calling one and one more).
    expect(added.length).toBeGreaterThanOrEqual(2);
    // A process started lower than that (nice -n 10) keeps its own, lower priority everywhere.
    const eventLoop = before.get(process.pid)!;
    for (const [, nice] of added) expect(nice).toBe(Math.max(eventLoop, INFERENCE_NICENESS));
    expect(after.get(process.pid)).toBe(eventLoop);
  } finally {
    await worker.close();
  }
});
