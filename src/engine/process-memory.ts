import { readFileSync } from 'node:fs';

/** Resident set size of this process now, in MiB (every thread: the inference workers' sessions count here). */
export function residentSetMB(): number {
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

/**
 * Peak resident set size of this process, in MiB. Linux's VmHWM is this process's own high-water mark; getrusage's
 * maxRSS is used only where VmHWM does not exist, because on Linux it carries the parent's peak across fork/exec.
 */
export function peakResidentSetMB(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Math.round(Number(match[1]) / 1024);
  } catch {
    // Not Linux: fall back to getrusage.
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/**
 * The malloc this process runs on: `jemalloc` when bin/orthanc-t3 preloaded Debian's libjemalloc2, else `glibc`
 * (whose main heap keeps freed memory resident after a burst of large requests; SECURITY.md, "Memory").
 */
export function memoryAllocator(): 'jemalloc' | 'glibc' {
  // Fixed for the life of the process (a preload is mapped before main runs).
  if (!allocator) {
    try {
      allocator = /libjemalloc\.so/.test(readFileSync('/proc/self/maps', 'utf8')) ? 'jemalloc' : 'glibc';
    } catch {
      allocator = 'glibc';
    }
  }
  return allocator;
}
let allocator: 'jemalloc' | 'glibc' | undefined;
