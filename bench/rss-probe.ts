// Child process of the engine benchmark: opens one session (plain or merged), runs one batch-1 inference and
// prints its peak resident set size, so each figure is measured in a process of its own.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

/**
 * Peak RSS of this process in MB. Linux's VmHWM belongs to this process's own address space; getrusage's maxRSS
 * is not used where VmHWM exists because on Linux it carries over the parent's high-water mark across fork/exec.
 */
function peakRssMB(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Math.round(Number(match[1]) / 1024);
  } catch {
    // Not Linux: fall back to getrusage.
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

async function main(): Promise<void> {
  const [modelPath, size, merged, threads] = process.argv.slice(2);
  const s = Number(size);
  const started = performance.now();
  const intraOp = Number(threads) > 0 ? { intraOpNumThreads: Number(threads) } : {};
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'], ...intraOp });
  const createMs = performance.now() - started;
  const feeds: Record<string, ort.Tensor> = { pixel_values: new ort.Tensor('float32', new Float32Array(3 * s * s).fill(0.1), [1, 3, s, s]) };
  if (merged === 'merged') feeds.lambda = new ort.Tensor('float32', new Float32Array([0.5]), []);
  await session.run(feeds);
  process.stdout.write(JSON.stringify({ peakRssMB: peakRssMB(), createMs: Math.round(createMs) }) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
