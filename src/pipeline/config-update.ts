/** Sections a running Sidecar applies at once; the others (Orthanc connection, follower, gRPC, …) need a restart. */
export const LIVE_SECTIONS: readonly string[] = Object.freeze(['bundles', 'routing', 'batching', 'inference', 'triage', 'retry']);

export interface ConfigUpdate<C> {
  config: C;
  applied: boolean;
  /** Top-level sections that changed but were not applied: they take effect after a restart. */
  restartRequired: string[];
}

/**
 * The configuration a partial update leads to: `partial` merged onto `current` (config/'s merge rules) and validated
 * as a whole (config/'s validator throws naming the bad key; nothing changes then). Live sections take the new
 * values; the others keep the running ones and are listed in `restartRequired` when they differ.
 */
export function proposeConfigUpdate<C extends object>(
  current: C,
  partial: unknown,
  rules: { validate: (raw: unknown) => C; merge: (base: C, partial: unknown) => unknown },
): { effective: C; restartRequired: string[]; changed: (section: string) => boolean } {
  const proposed = rules.validate(rules.merge(current, partial)) as Record<string, unknown>;
  const running = current as Record<string, unknown>;
  const changed = (k: string) => JSON.stringify(proposed[k]) !== JSON.stringify(running[k]);
  const restartRequired = Object.keys(proposed).filter((k) => !LIVE_SECTIONS.includes(k) && changed(k));
  const effective = { ...running, ...Object.fromEntries(LIVE_SECTIONS.map((k) => [k, proposed[k]])) } as unknown as C;
  return { effective, restartRequired, changed };
}
