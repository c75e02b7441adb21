import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, ConfigErrorList } from './config-error';
import { parseJsonWithComments } from './json-with-comments';
import { defaultSidecarConfig, type SidecarConfig } from './sidecar-config';
import { CONFIG_ROOT, validateSidecarConfig } from './validate-config';
import type { ConfigLayers } from './live-settings';
import { isRecord } from '../util/json-value';

type Obj = Record<string, unknown>;

/** Objects merge key by key; arrays, scalars and null replace. */
export function mergeConfig(base: unknown, overlay: unknown): unknown {
  if (!isRecord(base) || !isRecord(overlay)) return overlay === undefined ? base : overlay;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(overlay)) out[k] = k in base ? mergeConfig(base[k], v) : v;
  return out;
}

/** One environment variable and where it lands in the configuration. */
interface EnvBinding {
  name: string;
  path: string[];
  kind: 'string' | 'nullableString' | 'integer' | 'number' | 'list' | 'integerOrWord' | 'boolean';
}

/** Every environment variable the sidecar reads; each overrides the file and the defaults. */
export const ENV_BINDINGS: readonly EnvBinding[] = [
  { name: 'T3_PRODUCTION', path: ['deployment', 'production'], kind: 'boolean' },
  { name: 'T3_ALLOW_DEMONSTRATION_MODELS', path: ['deployment', 'allowDemonstrationModels'], kind: 'boolean' },
  { name: 'T3_ORTHANC_URL', path: ['orthanc', 'url'], kind: 'string' },
  { name: 'T3_ORTHANC_USERNAME', path: ['orthanc', 'username'], kind: 'nullableString' },
  { name: 'T3_ORTHANC_PASSWORD', path: ['orthanc', 'password'], kind: 'nullableString' },
  { name: 'T3_ORTHANC_TIMEOUT_MS', path: ['orthanc', 'timeoutMs'], kind: 'integer' },
  { name: 'T3_CHECKPOINT_PATH', path: ['follower', 'checkpointPath'], kind: 'string' },
  { name: 'T3_POLL_INTERVAL_MS', path: ['follower', 'pollIntervalMs'], kind: 'integer' },
  { name: 'T3_BATCH_SIZE', path: ['batching', 'batchSize'], kind: 'integer' },
  { name: 'T3_MAX_DELAY_MS', path: ['batching', 'maxDelayMs'], kind: 'integer' },
  { name: 'T3_BATCH_SCOPE', path: ['batching', 'scope'], kind: 'string' },
  { name: 'T3_QUEUE_BOUND', path: ['batching', 'queueBound'], kind: 'integer' },
  { name: 'T3_COEFFICIENT_SAMPLE', path: ['batching', 'coefficientSample'], kind: 'integer' },
  { name: 'T3_POLICY', path: ['inference', 'policy'], kind: 'string' },
  { name: 'T3_FRAME_POLICY', path: ['inference', 'framePolicy'], kind: 'integerOrWord' },
  { name: 'T3_PIXEL_SOURCE', path: ['inference', 'pixelSource'], kind: 'string' },
  { name: 'T3_ON_BAD_IMAGE', path: ['inference', 'onBadImage'], kind: 'string' },
  { name: 'T3_EXECUTION_PROVIDERS', path: ['inference', 'executionProviders'], kind: 'list' },
  { name: 'T3_FIXED_PASS_SESSIONS', path: ['inference', 'fixedPassSessions'], kind: 'string' },
  { name: 'T3_INTRA_OP_THREADS', path: ['inference', 'intraOpThreads'], kind: 'integerOrWord' },
  { name: 'T3_MAX_DECODED_IMAGE_BYTES', path: ['inference', 'maxDecodedImageBytes'], kind: 'integer' },
  { name: 'T3_RETRY_MAX_ATTEMPTS', path: ['retry', 'maxAttempts'], kind: 'integer' },
  { name: 'T3_GRPC_LISTEN', path: ['grpc', 'listen'], kind: 'string' },
  { name: 'T3_GRPC_TLS_CERT_FILE', path: ['grpc', 'tls', 'certFile'], kind: 'string' },
  { name: 'T3_GRPC_TLS_KEY_FILE', path: ['grpc', 'tls', 'keyFile'], kind: 'string' },
  { name: 'T3_GRPC_TLS_CLIENT_CA_FILE', path: ['grpc', 'tls', 'clientCaFile'], kind: 'nullableString' },
  { name: 'T3_METRICS_LISTEN', path: ['metrics', 'listen'], kind: 'string' },
  { name: 'T3_SPECULATION', path: ['speculation', 'enabled'], kind: 'boolean' },
  { name: 'T3_COORDINATION_MODE', path: ['coordination', 'mode'], kind: 'string' },
  { name: 'T3_WORKER_ID', path: ['coordination', 'workerId'], kind: 'string' },
  { name: 'T3_QUIET_MS', path: ['coordination', 'quietMs'], kind: 'integer' },
  { name: 'T3_LEASE_MS', path: ['coordination', 'leaseMs'], kind: 'integer' },
  { name: 'T3_LOG_LEVEL', path: ['logging', 'level'], kind: 'string' },
];

function envValue(b: EnvBinding, raw: string): unknown {
  switch (b.kind) {
    case 'string':
      return raw;
    case 'nullableString':
      return raw === '' ? null : raw;
    case 'integer':
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || (b.kind === 'integer' && !Number.isInteger(n))) {
        throw new ConfigError(b.name, `must be ${b.kind === 'integer' ? 'an integer' : 'a number'}, got "${raw}"`);
      }
      return n;
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'integerOrWord':
      return /^\d+$/.test(raw) ? Number(raw) : raw;
    case 'boolean':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new ConfigError(b.name, `must be true, false, 1 or 0, got "${raw}"`);
  }
}

/** The overlay the environment gives; an env value that fails validation is reported under the variable's name. */
export function configFromEnv(env: Record<string, string | undefined>): Obj {
  const overlay: Obj = {};
  for (const b of ENV_BINDINGS) {
    const raw = env[b.name];
    if (raw === undefined) continue;
    let node = overlay;
    for (const p of b.path.slice(0, -1)) node = (node[p] ??= {}) as Obj;
    node[b.path[b.path.length - 1]] = envValue(b, raw);
  }
  return overlay;
}

/**
 * Reads the `T3` section from an Orthanc configuration file or folder. In a folder every *.json is read, as Orthanc
 * does, and a `T3` key in two files is refused (Orthanc itself refuses to start then). Returns null when no file has
 * the section. Relative paths inside the section are resolved against the file's folder.
 */
export function readT3Section(configPath: string): { section: Obj; file: string } | null {
  const stat = fs.statSync(configPath, { throwIfNoEntry: false });
  if (!stat) throw new ConfigError(CONFIG_ROOT, `configuration path ${configPath} does not exist`);
  const files = stat.isDirectory()
    ? fs.readdirSync(configPath).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(configPath, f))
    : [configPath];
  let found: { section: Obj; file: string } | null = null;
  for (const file of files) {
    let parsed: unknown;
    try {
      parsed = parseJsonWithComments(fs.readFileSync(file, 'utf8'), file);
    } catch (err) {
      throw new ConfigError(CONFIG_ROOT, (err as Error).message);
    }
    if (!isRecord(parsed) || !(CONFIG_ROOT in parsed)) continue;
    if (found) throw new ConfigError(CONFIG_ROOT, `appears in both ${found.file} and ${file}`);
    const section = parsed[CONFIG_ROOT];
    if (!isRecord(section)) throw new ConfigError(CONFIG_ROOT, `in ${file} must be an object`);
    found = { section: resolveRelativePaths(section, path.dirname(file)), file };
  }
  return found;
}

function resolveRelativePaths(section: Obj, baseDir: string): Obj {
  const out = structuredClone(section);
  const resolve = (p: unknown) => (typeof p === 'string' && p !== '' && !path.isAbsolute(p) ? path.resolve(baseDir, p) : p);
  if (isRecord(out.follower) && 'checkpointPath' in out.follower) out.follower.checkpointPath = resolve(out.follower.checkpointPath);
  if (Array.isArray(out.bundles)) {
    for (const b of out.bundles) if (isRecord(b) && b.dir !== 'demo') b.dir = resolve(b.dir);
  }
  if (isRecord(out.grpc) && isRecord(out.grpc.tls)) {
    for (const k of ['certFile', 'keyFile', 'clientCaFile']) if (k in out.grpc.tls) out.grpc.tls[k] = resolve(out.grpc.tls[k]);
  }
  return out;
}

export interface LoadConfigOptions {
  /** An Orthanc configuration file or folder holding the `T3` section. */
  configPath?: string;
  /** Usually process.env; passed in so library code never reads globals. */
  env?: Record<string, string | undefined>;
  /** Last layer, e.g. from command-line options. */
  overrides?: Obj;
}

export interface LoadedConfig {
  config: SidecarConfig;
  /** Where the T3 section came from, if a file had one. */
  sectionFile: string | null;
  /** Things that are valid but probably not what was meant (a --config without a T3 section); for the log. */
  warnings: string[];
  /** What each layer set, so GetConfig can say where a value comes from (live-settings.ts valueSources). */
  layers: ConfigLayers;
}

/** defaults ← T3 section ← environment ← overrides, validated once. Throws ConfigError naming the key. */
export function loadSidecarConfig(options: LoadConfigOptions = {}): LoadedConfig {
  let merged: unknown = defaultSidecarConfig();
  let sectionFile: string | null = null;
  let fileLayer: Obj | null = null;
  const warnings: string[] = [];
  if (options.configPath) {
    const found = readT3Section(options.configPath);
    if (found) {
      merged = mergeConfig(merged, found.section);
      sectionFile = found.file;
      fileLayer = found.section;
    } else {
      // Orthanc itself would ignore the missing section too; say so, or every setting silently stays at its default.
      warnings.push(`${options.configPath} has no "${CONFIG_ROOT}" section: the built-in defaults are used (see orthanc-config/t3.json for one)`);
    }
  }
  const fromEnv = configFromEnv(options.env ?? {});
  // Validate the env overlay on its own first, so a bad value is reported under the variable's name.
  const withEnv = mergeConfig(merged, fromEnv);
  try {
    validateSidecarConfig(withEnv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const named = (err instanceof ConfigErrorList ? err.errors : [err]).map((one) => {
      const binding = ENV_BINDINGS.find((b) => one.key === `${CONFIG_ROOT}.${b.path.join('.')}` && options.env?.[b.name] !== undefined);
      return binding ? new ConfigError(binding.name, one.message.slice(one.key.length + 2)) : one;
    });
    throw named.length === 1 ? named[0] : new ConfigErrorList(named);
  }
  const config = validateSidecarConfig(mergeConfig(withEnv, options.overrides ?? {}));
  return { config, sectionFile, warnings, layers: { file: fileLayer, environment: fromEnv, commandLine: options.overrides ?? {} } };
}
