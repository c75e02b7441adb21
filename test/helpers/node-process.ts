import { execFile } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './orthanc-server';

export interface NodeProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a TypeScript entry point of this repository (through tsx) or `bin/orthanc-t3.js` in a child process.
 *
 * Tests whose code creates ONNX Runtime sessions on the main thread must run that code this way, not in jest's own
 * process: onnxruntime-node 1.29 registers a process-wide cleanup hook the first time a thread initialises it, and
 * jest loads modules afresh for every test file, so a second test file doing so in the same jest worker aborts the
 * whole worker (SIGABRT in napi_add_env_cleanup_hook). Inference workers (worker threads) are not affected.
 */
export function runNodeEntry(entry: string, args: string[], timeoutMs = 180000): Promise<NodeProcessResult> {
  const nodeArgs = entry.endsWith('.ts') ? ['--require', 'tsx/cjs', path.join(repoRoot, entry), ...args] : [path.join(repoRoot, entry), ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, nodeArgs, { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
