import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runDeviceCheck } from '../../bench/device-check';
import { demoDir, removeTempDirs, tempDir } from './onnx-test-helpers';

afterAll(removeTempDirs);

test('the device check in dry mode: CPU only, ratios printed and written as JSON', async () => {
  const out = path.join(await tempDir('device-check'), 'device-check.json');
  const lines: string[] = [];
  const result = await runDeviceCheck({ bundles: [demoDir], dry: true, batchSizes: [1, 4], reps: 1, out, log: (l) => lines.push(l) });
  expect(result.providers.map((p) => [p.provider, p.canStart])).toEqual([['cpu', true]]);
  expect(result.measured).toEqual(['cpu']);
  expect(result.ratios.map((r) => r.batch)).toEqual([1, 4]);
  for (const r of result.ratios) {
    for (const value of [r.t3bOverSingle, r.t3bSampled4OverSingle, r.mergedPassOverPlainPass, r.singleImagesPerSecond]) {
      expect(Number.isFinite(value) && value > 0).toBe(true);
    }
  }
  expect(lines.some((l) => /^cpu t3-demo-chest batch 4: T3B\/single [\d.]+, T3B sampled k=4\/single [\d.]+, merged pass\/plain pass [\d.]+/.test(l))).toBe(true);
  const written = JSON.parse(await fs.readFile(out, 'utf8'));
  expect(written).toMatchObject({ dry: true, measured: ['cpu'] });
  expect(written.ratios).toHaveLength(2);
});
