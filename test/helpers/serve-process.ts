import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './orthanc-server';

/** One structured log line of `orthanc-t3 serve` (stderr, JSON per line), stamped with when it arrived. */
export interface ServeLogLine {
  event: string;
  time: number;
  [key: string]: unknown;
}

export interface ServeProcess {
  child: ChildProcess;
  /** Every stderr line so far; a line that is not JSON is kept as `{event: 'text', text}`. */
  lines: ServeLogLine[];
  exited: Promise<number | null>;
}

/**
 * Starts a real `orthanc-t3 serve --config FILE [ARGS]` process through the `orthanc-t3` command (bin/orthanc-t3,
 * which execs node under jemalloc when it is installed), as an operator would, and collects its log lines. The child
 * is node itself (the launcher execs), so its pid is the sidecar's.
 */
export function spawnServe(configFile: string, env: Record<string, string> = {}, args: string[] = []): ServeProcess {
  const child = spawn(path.join(repoRoot, 'bin', 'orthanc-t3'), ['serve', '--config', configFile, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TCP_NODELAY: '1', ...env },
  });
  const lines: ServeLogLine[] = [];
  let buf = '';
  child.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        lines.push({ ...JSON.parse(line), time: Date.now() });
      } catch {
        lines.push({ time: Date.now(), event: 'text', text: line });
      }
    }
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, lines, exited };
}
