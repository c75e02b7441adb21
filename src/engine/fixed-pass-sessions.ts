import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * Which sessions run the fixed passes (λ=0 generalist, λ=1 expert) of T3/T3B.
 * - `plain`: one plain session per model. ONNX Runtime pre-packs constant weights there, so these passes run at
 *   single-model speed; the merged graph (which recomputes every differing weight from λ on every run and so loses
 *   pre-packing) serves only the merged pass. Costs two more sessions' memory.
 * - `merged`: the merged graph at λ=0 and λ=1 serves them too: one session, slower fixed passes (docs/ONNX.md).
 * - `auto` (default): `plain` when this machine's free memory holds the two extra sessions with room to spare.
 */
export type FixedPassSessionsSetting = 'auto' | 'plain' | 'merged';
export type FixedPassSessions = 'plain' | 'merged';

export const FIXED_PASS_SESSIONS_SETTINGS: readonly FixedPassSessionsSetting[] = ['auto', 'plain', 'merged'];

/**
 * RSS of one plain CPU session per byte of its ONNX file: measured 1.3–1.75 for the ViT-B/16 pair (345 MB files,
 * 450–600 MB per session) and higher for tiny models, whose runtime overhead dominates (docs/ONNX.md).
 */
export const PLAIN_SESSION_BYTES_PER_FILE_BYTE = 1.75;
/** Fixed cost of a session and its worker thread (V8 isolate, ONNX Runtime arena), bytes. */
export const PLAIN_SESSION_OVERHEAD_BYTES = 48 * 2 ** 20;
/** `auto` leaves at least this share of the available memory unused after the two plain sessions. */
export const AUTO_HEADROOM = 0.25;

/** The memory facts `auto` reads; the real machine's by default, others in tests. */
export interface MemoryProbe {
  /** Bytes the process can still use: the smaller of free system memory and the cgroup's remaining limit. */
  availableBytes(): number;
}

/** cgroup v2's limit minus usage, or undefined outside a limited cgroup. */
function cgroupRemainingBytes(): number | undefined {
  try {
    const max = readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
    if (max === 'max') return undefined;
    const current = Number(readFileSync('/sys/fs/cgroup/memory.current', 'utf8').trim());
    const limit = Number(max);
    return Number.isFinite(limit) && Number.isFinite(current) ? Math.max(0, limit - current) : undefined;
  } catch {
    return undefined;
  }
}

export const REAL_MEMORY: MemoryProbe = {
  // os.freemem() is MemAvailable on Linux (page cache counts as free, which it is for this purpose).
  availableBytes: () => Math.min(os.freemem(), cgroupRemainingBytes() ?? Number.POSITIVE_INFINITY),
};

export interface FixedPassSessionsChoice {
  sessions: FixedPassSessions;
  /** Why, in a few words (status and logs show it). */
  reason: string;
  /** Estimated extra resident memory of the two plain sessions, MiB. */
  plainExtraMB: number;
}

/** Estimated extra RSS of plain sessions for models of these file sizes, bytes. */
export function plainSessionsExtraBytes(modelFileBytes: readonly number[]): number {
  return modelFileBytes.reduce((sum, bytes) => sum + bytes * PLAIN_SESSION_BYTES_PER_FILE_BYTE + PLAIN_SESSION_OVERHEAD_BYTES, 0);
}

/** Resolves the setting for models of these file sizes on this machine. */
export function chooseFixedPassSessions(setting: FixedPassSessionsSetting, modelFileBytes: readonly number[],
  memory: MemoryProbe = REAL_MEMORY): FixedPassSessionsChoice {
  const extra = plainSessionsExtraBytes(modelFileBytes);
  const plainExtraMB = Math.round(extra / 2 ** 20);
  if (setting === 'plain') return { sessions: 'plain', reason: 'configured', plainExtraMB };
  if (setting === 'merged') return { sessions: 'merged', reason: 'configured', plainExtraMB };
  const available = memory.availableBytes();
  const availableMB = Math.round(available / 2 ** 20);
  if (extra <= available * (1 - AUTO_HEADROOM)) {
    return { sessions: 'plain', reason: `auto: ~${plainExtraMB} MiB for two plain sessions fits in ${availableMB} MiB available`, plainExtraMB };
  }
  return { sessions: 'merged', reason: `auto: ~${plainExtraMB} MiB for two plain sessions does not fit in ${availableMB} MiB available (keeping ${Math.round(AUTO_HEADROOM * 100)} % free)`, plainExtraMB };
}
