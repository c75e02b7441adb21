import { createHash } from 'node:crypto';

/**
 * Identity of "this study's inputs analysed by this model": the sorted SOP Instance UIDs of the images routed to the
 * bundle, the bundle and model identities and the policy. One SR per value; a study that becomes stable again with
 * the same value (our own SR makes it stable again) is not re-run.
 */
export function inputSetHash(parts: {
  sopInstanceUids: string[];
  bundle: { name: string; version: string; generalistSha256: string; expertSha256: string };
  policy: string;
}): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ images: [...parts.sopInstanceUids].sort(), bundle: parts.bundle, policy: parts.policy }));
  return h.digest('hex').slice(0, 32);
}
