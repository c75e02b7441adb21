import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliCommand } from '../../src/cli/command';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const trainedBundleDir = path.join(repoRoot, 'bundles', 'demo-trained');
export const trainedEvalDir = path.join(trainedBundleDir, 'eval');

/** Runs a CLI command with captured stdout and stderr. */
export async function runCommand(command: CliCommand, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await command.run(argv, { stdin: new PassThrough(), stdout, stderr });
  return { code, stdout: out, stderr: err };
}

/** Copies the first `count` labelled images of a split into dir (labels.csv rewritten to list only those). */
export async function copySplit(from: string, to: string, count: number): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  const lines = (await fs.readFile(path.join(from, 'labels.csv'), 'utf8')).trim().split('\n');
  const rows = lines.slice(1, count + 1);
  for (const row of rows) await fs.copyFile(path.join(from, row.split(',')[0]), path.join(to, row.split(',')[0]));
  await fs.writeFile(path.join(to, 'labels.csv'), [lines[0], ...rows].join('\n') + '\n');
}
