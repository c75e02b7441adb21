import { differingPaths, isRecord } from '../../util/json-value';

/**
 * Settings a running Sidecar applies at once, as dotted paths; the others (Orthanc connection, follower, gRPC listen
 * address and TLS, …) need a restart. `grpc.tokens` is applied by the gRPC layer (a config participant, below).
 */
export const LIVE_KEYS: readonly string[] = Object.freeze(['bundles', 'routing', 'batching', 'inference', 'triage', 'retry', 'grpc.tokens']);

/**
 * Who asked for a configuration change, for the sidecar's log line: the gRPC token's id (never the token) and what
 * the caller says of its own user (the Orthanc plugin passes the Orthanc user and the browser's address).
 */
export interface ConfigActor {
  tokenId: string | null;
  orthancUser?: string;
  remoteAddress?: string;
}

export interface ConfigUpdate<C> {
  config: C;
  applied: boolean;
  /** Dotted keys that changed but were not applied: they take effect after a restart with new settings. */
  restartRequired: string[];
}

/**
 * A part of the program that applies some of the configuration itself (the gRPC token table). `prepare` is the "try"
 * step of an update: it throws (naming the key) when the new configuration cannot be applied, and returns the commit,
 * which must not fail. Commits run only when every participant and the model load succeeded.
 */
export interface ConfigParticipant<C> {
  prepare(next: C, current: C): () => void;
}

function valueAt(config: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, k) => (isRecord(v) ? v[k] : undefined), config);
}

/** A copy of `config` with the value at `path` replaced (the objects along the path are copied, nothing else). */
function withValueAt(config: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const base = isRecord(config) ? config : {};
  const [head, ...rest] = path;
  if (!(head in base) && value === undefined) return base;
  return { ...base, [head]: withValueAt(base[head], rest, value) };
}

/**
 * The configuration a partial update leads to: `partial` merged onto `current` (config/'s merge rules) and validated
 * as a whole (config/'s validator throws naming the bad key; nothing changes then). Live keys take the new values;
 * the others keep the running ones and are listed in `restartRequired` (dotted keys) when they differ.
 */
export function proposeConfigUpdate<C extends object>(
  current: C,
  partial: unknown,
  rules: { validate: (raw: unknown) => C; merge: (base: C, partial: unknown) => unknown },
): { effective: C; restartRequired: string[]; changed: (key: string) => boolean } {
  const proposed = rules.validate(rules.merge(current, partial));
  let effective: unknown = current;
  for (const key of LIVE_KEYS) {
    const path = key.split('.');
    effective = withValueAt(effective, path, valueAt(proposed, path));
  }
  const restartRequired = differingPaths(effective, proposed);
  const changed = (key: string) => {
    const path = key.split('.');
    return JSON.stringify(valueAt(proposed, path)) !== JSON.stringify(valueAt(current, path));
  };
  return { effective: effective as C, restartRequired, changed };
}
