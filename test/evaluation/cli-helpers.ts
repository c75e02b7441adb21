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
