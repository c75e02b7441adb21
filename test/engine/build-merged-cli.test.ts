import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { buildMergedCommand } from '../../src/cli/build-merged';
import { UsageError } from '../../src/cli/command';
import { demoDir, fixtureDir, removeTempDirs, tempDir } from './onnx-test-helpers';

afterAll(removeTempDirs);

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d) => { out += String(d); });
  return { io: { stdin: new PassThrough(), stdout, stderr }, output: () => out };
}

test('build-merged writes the merged model and prints a JSON summary', async () => {
  const out = path.join(await tempDir('cli'), 'sub', 'merged.onnx');
  const { io: streams, output } = io();
  const code = await buildMergedCommand.run(['--generalist', path.join(demoDir, 'generalist.onnx'), '--expert', path.join(demoDir, 'expert.onnx'), '--out', out], streams);
  expect(code).toBe(0);
  const summary = JSON.parse(output());
  expect(summary).toMatchObject({ out, mergedInitializers: 19, sharedInitializers: 2 });
  expect(summary.generalist.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect((await fs.stat(out)).size).toBe(summary.outputBytes);
});

test('build-merged reports missing options and unreadable files as usage errors', async () => {
  await expect(buildMergedCommand.run(['--generalist', 'a.onnx'], io().io)).rejects.toThrow(/--expert is required/);
  await expect(buildMergedCommand.run(['--generalist', '/nonexistent/a.onnx', '--expert', '/nonexistent/b.onnx', '--out', 'x.onnx'], io().io))
    .rejects.toThrow(UsageError);
});

test('build-merged refuses two different architectures, naming the difference', async () => {
  const out = path.join(await tempDir('cli'), 'merged.onnx');
  await expect(buildMergedCommand.run(['--generalist', path.join(demoDir, 'generalist.onnx'), '--expert', path.join(fixtureDir, 'tiny-vit-expert.onnx'), '--out', out], io().io))
    .rejects.toThrow(/different opsets: generalist ai\.onnx@17, expert ai\.onnx@14/);
  await expect(fs.stat(out)).rejects.toThrow();
});
