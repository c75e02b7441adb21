import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main';

export interface CliRunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `orthanc-t3 <argv>` in-process with captured streams and the given stdin text. */
export async function runCliCaptured(argv: string[], stdinText = ''): Promise<CliRunResult> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  stdin.end(stdinText);
  const code = await runCli(argv, { stdin, stdout, stderr });
  return { code, stdout: out, stderr: err };
}
