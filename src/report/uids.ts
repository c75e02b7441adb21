import { createHash } from 'node:crypto';

/**
 * `2.25.<decimal of the first 128 bits of SHA-256(purpose, canonical JSON of parts)>` (PS3.5 B.2 UUID-derived form).
 * Same parts → same UID, so writing the same result twice makes Orthanc answer AlreadyStored.
 */
export function deriveUid(purpose: string, parts: unknown): string {
  const digest = createHash('sha256').update(`orthanc-t3/${purpose}\n`).update(canonicalJson(parts)).digest();
  const value = BigInt(`0x${digest.subarray(0, 16).toString('hex')}`);
  return `2.25.${value.toString(10)}`;
}

/** JSON with object keys sorted at every level, so the hash does not depend on property order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
