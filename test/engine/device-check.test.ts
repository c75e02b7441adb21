import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DeviceCheckResult } from '../../bench/device-check';
import { runNodeEntry } from '../helpers/node-process';
import { demoDir, removeTempDirs, tempDir } from './onnx-test-helpers';

afterAll(removeTempDirs);

// In a child process, as an operator runs it (and because it starts ONNX Runtime on the main thread: see runNodeEntry).
test('the device check in dry mode: CPU only, ratios printed and written as JSON', async () => {
  const out = path.join(await tempDir('device-check'), 'device-check.json');
  const run = await runNodeEntry('bench/device-check.ts', ['--dry', '--batch-sizes', '1,4', '--reps', '1', '--out', out, demoDir]);
  expect(run.stderr).not.toMatch(/device-check: /);
  expect(run.code).toBe(0);
  const lines = run.stdout.split('\n').filter((l) => l.startsWith('device-check: ')).map((l) => l.slice('device-check: '.length));
  const result = JSON.parse(await fs.readFile(out, 'utf8')) as DeviceCheckResult;
  expect(result.providers.map((p) => [p.provider, p.canStart])).toEqual([['cpu', true]]);
  expect(result.measured).toEqual(['cpu']);
  expect(result.ratios.map((r) => r.batch)).toEqual([1, 4]);
  for (const r of result.ratios) {
    for (const value of [r.t3bOverSingle, r.t3bSampled4OverSingle, r.mergedPassOverPlainPass, r.singleImagesPerSecond]) {
      expect(Number.isFinite(value) && value > 0).toBe(true);
    }
  }
  expect(lines.some((l) => /^cpu t3-demo-chest batch 4: T3B\/single [\d.]+, T3B sampled k=4\/single [\d.]+, merged pass\/plain pass [\d.]+/.test(l))).toBe(true);
  expect(result.dry).toBe(true);
  // The table the operator reads.
  expect(run.stdout).toMatch(/^cpu +t3-demo-chest +4 +[\d.]+ +[\d.]+ +[\d.]+$/m);
});
