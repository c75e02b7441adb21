import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * How many intra-op threads an ONNX Runtime session gets when the operator has not said.
 *
 * Never ONNX Runtime's own default (0): with it, the runtime sizes its pool from the physical cores it counts and pins
 * each pool thread to one core. On a shared virtual machine that pinning costs more than it gains, and every session
 * of the engine (up to three) pins its threads to the same cores. Measured on the 2-core development machine, ViT-B/16
 * at batch 1, one process, interleaved runs: plain pass 231–289 ms with the default, 153–160 ms with 2 threads set
 * (1 thread: 253 ms). An explicit count starts unpinned threads.
 *
 * The count is the CPUs this process may use: the scheduler affinity (os.availableParallelism), capped by a cgroup v2
 * CPU quota (`cpu.max`, what a container's CPU limit sets), at least 1.
 */
export function defaultIntraOpThreads(cgroupCpuMax: () => string | null = readCgroupCpuMax): number {
  const affinity = os.availableParallelism();
  const quota = cpuQuota(cgroupCpuMax());
  return Math.max(1, Math.min(affinity, quota ?? affinity));
}

/** The operator's count when given, else defaultIntraOpThreads(). */
export function resolveIntraOpThreads(configured: number | undefined): number {
  return configured !== undefined && configured > 0 ? configured : defaultIntraOpThreads();
}

/** CPUs allowed by a cgroup v2 `cpu.max` line ("<quota> <period>" or "max <period>"), rounded up; null when unlimited or unreadable. */
export function cpuQuota(cpuMax: string | null): number | null {
  if (cpuMax === null) return null;
  const [quota, period] = cpuMax.trim().split(/\s+/);
  const q = Number(quota);
  const p = Number(period);
  if (quota === 'max' || !Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return null;
  return Math.max(1, Math.ceil(q / p));
}

function readCgroupCpuMax(): string | null {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return null;
  }
}
