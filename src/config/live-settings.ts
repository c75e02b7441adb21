import fs from 'node:fs';
import path from 'node:path';
import { CategorizedError } from '../errors';
import { isRecord } from '../util/json-value';
import { mergeConfig } from './load-config';
import { defaultSidecarConfig, type SidecarConfig } from './sidecar-config';
import { validateSidecarConfig } from './validate-config';

/**
 * Settings changed while the sidecar runs (UpdateConfig, the plugin's PUT /t3/config), kept by the sidecar itself so
 * that it starts on them: the file sits beside the change-feed checkpoint (the sidecar's state folder) and is read
 * before the follower starts, so no study is ever triaged under the files' rules after a restart. It holds only the
 * live settings that differ from the files and environment (leaf by leaf, arrays whole), never a secret: `grpc.tokens`
 * is not kept (SECURITY.md). Written atomically: a temporary file, fsync, rename.
 */
export const LIVE_SETTINGS_FILE = 'live-settings.json';

/** Live settings that are kept; grpc.tokens is live too but secret, so a restart goes back to the host's tokens. */
const KEPT_LIVE_KEYS: readonly string[] = Object.freeze(['bundles', 'routing', 'batching', 'inference', 'triage', 'retry']);

type Obj = Record<string, unknown>;

export class LiveSettingsError extends CategorizedError {
  constructor(file: string, reason: string) {
    super('failed-precondition', `live settings ${file}: ${reason}`);
  }
}

export function liveSettingsPath(checkpointPath: string): string {
  return path.join(path.dirname(checkpointPath), LIVE_SETTINGS_FILE);
}

/** Leaf paths of a JSON value (objects walked, arrays and scalars are leaves). */
function leaves(value: unknown, prefix: string[] = []): string[][] {
  if (isRecord(value) && Object.keys(value).length > 0) {
    return Object.keys(value).sort().flatMap((k) => leaves(value[k], [...prefix, k]));
  }
  return prefix.length > 0 ? [prefix] : [];
}

function valueAt(value: unknown, keys: readonly string[]): unknown {
  return keys.reduce<unknown>((v, k) => (isRecord(v) ? v[k] : undefined), value);
}

function setAt(target: Obj, keys: readonly string[], value: unknown): void {
  let node = target;
  for (const k of keys.slice(0, -1)) node = isRecord(node[k]) ? node[k] : (node[k] = {});
  node[keys[keys.length - 1]] = structuredClone(value);
}

/** The live settings of `effective` that differ from `base` (what the file keeps). */
export function liveOverridesOf(base: SidecarConfig, effective: SidecarConfig): Obj {
  const out: Obj = {};
  for (const key of KEPT_LIVE_KEYS) {
    const paths = new Map<string, string[]>();
    for (const p of [...leaves(valueAt(effective, [key]), [key]), ...leaves(valueAt(base, [key]), [key])]) paths.set(p.join('.'), p);
    for (const p of paths.values()) {
      const now = valueAt(effective, p);
      if (JSON.stringify(now) !== JSON.stringify(valueAt(base, p)) && now !== undefined) setAt(out, p, now);
    }
  }
  return out;
}

/** The kept live settings, or null when there are none; a file that cannot be used throws LiveSettingsError. */
export function readLiveSettings(file: string): Obj | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LiveSettingsError(file, (err as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new LiveSettingsError(file, 'is not JSON');
  }
  const settings = isRecord(parsed) ? parsed.settings : undefined;
  if (!isRecord(settings)) throw new LiveSettingsError(file, 'has no "settings" object');
  const unknown = Object.keys(settings).filter((k) => !KEPT_LIVE_KEYS.includes(k));
  if (unknown.length > 0) throw new LiveSettingsError(file, `holds keys that are not kept live settings: ${unknown.join(', ')}`);
  return Object.keys(settings).length > 0 ? settings : null;
}

/**
 * `base` with the kept live settings applied, validated as a whole; throws (ConfigError naming the key, or
 * LiveSettingsError) when they no longer fit, e.g. a kept bundle folder that is gone.
 */
export function withLiveSettings(base: SidecarConfig, settings: Obj, file: string): SidecarConfig {
  const config = validateSidecarConfig(mergeConfig(base, settings));
  for (const bundle of config.bundles) {
    if (bundle.dir !== 'demo' && !fs.existsSync(bundle.dir)) throw new LiveSettingsError(file, `bundle "${bundle.name}": folder ${bundle.dir} does not exist`);
  }
  return config;
}

/**
 * A configuration participant (pipeline/'s ConfigParticipant) that keeps the live settings of every update: the
 * "try" step writes the new content to a temporary file and syncs it (a full disk refuses the update, nothing
 * changed); the commit renames it over the old file.
 */
export function liveSettingsParticipant(file: string, base: SidecarConfig, onError: (err: unknown) => void): {
  prepare(next: SidecarConfig, current: SidecarConfig): () => void;
} {
  // One name per process: updates run one at a time, and a dry run's leftover is overwritten by the next update.
  const tmp = `${file}.${process.pid}.tmp`;
  return {
    prepare(next, current) {
      const before = liveOverridesOf(base, current);
      const after = liveOverridesOf(base, next);
      if (JSON.stringify(before) === JSON.stringify(after)) return () => undefined;
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const fd = fs.openSync(tmp, 'w', 0o640);
        try {
          fs.writeFileSync(fd, JSON.stringify({ savedAt: new Date().toISOString(), settings: after }, null, 2) + '\n');
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      } catch (err) {
        fs.rmSync(tmp, { force: true });
        throw new LiveSettingsError(file, `cannot be written, so the change is refused (${(err as Error).message})`);
      }
      return () => {
        try {
          fs.renameSync(tmp, file);
        } catch (err) {
          // The change is in effect; only its survival of a restart failed. Said loudly, never silently.
          onError(err);
        }
      };
    },
  };
}

/** Where a value comes from, for GetConfig (the plugin's GET /t3/config shows it). */
export type ValueSource = 'default' | 'file' | 'environment' | 'command line' | 'configuration' | 'live';

/** The layers the configuration was built from (load-config.ts), when known. */
export interface ConfigLayers {
  file: Obj | null;
  environment: Obj;
  commandLine: Obj;
}

/** True when `layer` sets the value at `keys` or one of its parents (an array or scalar there replaces it whole). */
function setsPath(layer: unknown, keys: readonly string[]): boolean {
  let node = layer;
  for (const k of keys) {
    if (!isRecord(node) || !(k in node)) return false;
    node = node[k];
    if (!isRecord(node)) return true;
  }
  return true;
}

/**
 * For each leaf of `effective` (dotted key): the last layer that set it. Without known layers a value that differs
 * from the built-in default is said to come from "configuration".
 */
export function valueSources(effective: SidecarConfig, layers: ConfigLayers | null, live: Obj | null): Record<string, ValueSource> {
  const defaults = defaultSidecarConfig();
  const out: Record<string, ValueSource> = {};
  for (const keys of leaves(effective)) {
    let source: ValueSource = 'default';
    if (live && setsPath(live, keys)) source = 'live';
    else if (layers === null) source = JSON.stringify(valueAt(effective, keys)) === JSON.stringify(valueAt(defaults, keys)) ? 'default' : 'configuration';
    else if (setsPath(layers.commandLine, keys)) source = 'command line';
    else if (setsPath(layers.environment, keys)) source = 'environment';
    else if (layers.file && setsPath(layers.file, keys)) source = 'file';
    out[keys.join('.')] = source;
  }
  return out;
}
