import path from 'node:path';
import { EngineError, InferenceWorker } from '../../src/engine';
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
