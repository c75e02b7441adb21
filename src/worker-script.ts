import path from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on the module `name` that sits beside the calling module (`callerFile`, its __filename).
 * Compiled (dist/), the caller is JavaScript and so is the worker. Run from the sources (bin/orthanc-t3.js through
 * tsx, or jest), the worker is TypeScript too and needs tsx's CommonJS hook preloaded. That hook is resolved from this
 * package's own node_modules, never by name: node resolves a bare `--require tsx/cjs` against the process's working
 * directory, so every command that starts a worker would fail when run from any other folder (a service manager's,
 * a user's data folder). The one place every worker is started from, so the three kinds (inference, frame decoding,
 * SR building) cannot drift apart.
 */
export function startWorker(callerFile: string, name: string, options: Omit<WorkerOptions, 'execArgv'> = {}): Worker {
  const isTs = path.extname(callerFile) === '.ts';
  const file = path.join(path.dirname(callerFile), `${name}${isTs ? '.ts' : '.js'}`);
  return new Worker(file, { ...options, execArgv: isTs ? ['--require', require.resolve('tsx/cjs')] : [] });
}
