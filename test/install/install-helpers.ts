/**
 * Starting Orthanc the way an administrator does (`Orthanc [--logfile] CONFIG` from some working directory, the
 * configuration folder used as it is, not rewritten) and running `orthanc-t3` commands as child processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ORTHANC_BINARY, repoRoot } from '../helpers/orthanc-server';
import { httpRequest, type HttpAnswer } from '../helpers/http-request';

export const BIN = path.join(repoRoot, 'bin', 'orthanc-t3');

/** The environment without T3_* variables, so a configuration under test is read as it is written. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('T3_')) env[k] = v;
  return { ...env, TCP_NODELAY: '1', ...extra };
}

export function runBin(args: string[], options: { cwd?: string } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(BIN, args, { cwd: options.cwd ?? repoRoot, env: cleanEnv(), encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function basic(username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
}

export interface PlainOrthanc {
  url: string;
  process: ChildProcess;
  logFile: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** `Orthanc --logfile=LOG CONFIG` with the given working directory; resolves once /system answers. */
export async function startOrthancAsIs(configArg: string, options: { cwd: string; httpPort: number; authorization: string; logFile: string }): Promise<PlainOrthanc> {
  const child = spawn(ORTHANC_BINARY, [`--logfile=${options.logFile}`, configArg], { cwd: options.cwd, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${options.httpPort}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = fs.existsSync(options.logFile) ? fs.readFileSync(options.logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`Orthanc ${configArg} (cwd ${options.cwd}) exited with ${child.exitCode}:\n${log}\n${stderr}`);
    }
    try {
      if ((await fetch(`${url}/system`, { headers: { Authorization: options.authorization } })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Orthanc ${configArg} did not answer within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    process: child,
    logFile: options.logFile,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 20000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** GET through Orthanc with a login; the JSON body (or null) and the status. */
export function getThrough(orthanc: PlainOrthanc, p: string, authorization: string): Promise<HttpAnswer> {
  return httpRequest(orthanc.url + p, { headers: { Authorization: authorization } });
}
