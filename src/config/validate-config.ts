import { POLICY_NAMES } from '../t3/policy';
import { TRIAGE_PRIORITIES } from '../report/triage';
import { compileRoutePattern, RoutePatternError } from '../pipeline/route-pattern';
import { FIXED_PASS_SESSIONS_SETTINGS } from '../engine/fixed-pass-sessions';
import { MAX_PROBLEM_REPEAT_MS } from '../orthanc/problem-reporter';
import { ConfigError, ConfigErrorCollector, ConfigErrorList } from './config-error';
import { isRecord } from '../util/json-value';
import type {
  BatchingConfig,
  BundleEntry,
  FollowerConfig,
  GrpcConfig,
  InferenceConfig,
  OrthancConnectionConfig,
  MetricsConfig,
  PluginConfig,
  WorklistConfig,
  RetryConfig,
  RoutingConfig,
  RoutingRule,
  SidecarConfig,
  SpeculationConfig,
  CoordinationConfig,
  DeploymentConfig,
  TriageRuleSetting,
  TriageSetting,
} from './sidecar-config';

type Obj = Record<string, unknown>;

/** The root name used in error keys: the section name in Orthanc's configuration. */
export const CONFIG_ROOT = 'T3';

function obj(value: unknown, key: string, known: string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(key, `must be an object, got ${describe(value)}`);
  }
  // Orthanc ignores unknown keys silently; we refuse them so a typo does not leave a setting at its default.
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw together(unknown.map((k) => new ConfigError(`${key}.${k}`, `unknown key (known: ${known.join(', ')})`)));
  }
  return value as Obj;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value.length > 40 ? value.slice(0, 40) + '…' : value}"`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

function str(value: unknown, key: string, opts: { nonEmpty?: boolean } = {}): string {
  if (typeof value !== 'string') throw new ConfigError(key, `must be a string, got ${describe(value)}`);
  if (opts.nonEmpty && value.length === 0) throw new ConfigError(key, 'must not be empty');
  return value;
}

function strOrNull(value: unknown, key: string): string | null {
  return value === null ? null : str(value, key);
}

function num(value: unknown, key: string, min: number, max: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ConfigError(key, `must be a number, got ${describe(value)}`);
  if (integer && !Number.isInteger(value)) throw new ConfigError(key, `must be an integer, got ${value}`);
  if (value < min || value > max) throw new ConfigError(key, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(value: unknown, key: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(key, `must be one of ${allowed.join(' | ')}, got ${describe(value)}`);
  }
  return value as T;
}

/** One error as itself, several as one ConfigErrorList. */
function together(errors: ConfigError[]): ConfigError {
  return errors.length === 1 ? errors[0] : new ConfigErrorList(errors);
}

/** Maps every item, reporting the errors of all items (not only the first bad one). */
function eachItem<T>(items: unknown[], map: (item: unknown, i: number) => T): T[] {
  const c = new ConfigErrorCollector();
  const out = items.map((item, i) => c.check(() => map(item, i)) as T);
  c.throwIfAny();
  return out;
}

function arr(value: unknown, key: string): unknown[] {
  if (!Array.isArray(value)) throw new ConfigError(key, `must be an array, got ${describe(value)}`);
  return value;
}

function strList(value: unknown, key: string): string[] {
  return arr(value, key).map((v, i) => str(v, `${key}[${i}]`, { nonEmpty: true }));
}

/** A routing pattern, compiled here by the one compiler routing uses (so it is compiled once, when it loads). */
function routePattern(value: unknown, key: string): string {
  const source = str(value, key);
  try {
    compileRoutePattern(source);
  } catch (err) {
    if (err instanceof RoutePatternError) throw new ConfigError(key, err.message);
    throw err;
  }
  return source;
}

function orthanc(v: unknown, key: string): OrthancConnectionConfig {
  const o = obj(v, key, ['url', 'username', 'password', 'timeoutMs']);
  const url = str(o.url, `${key}.url`, { nonEmpty: true });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${key}.url`, `is not a URL: ${describe(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${key}.url`, 'must be http or https');
  if (parsed.username || parsed.password) throw new ConfigError(`${key}.url`, 'must not hold credentials: use username/password');
  const username = strOrNull(o.username, `${key}.username`);
  const password = strOrNull(o.password, `${key}.password`);
  if ((username === null) !== (password === null)) throw new ConfigError(`${key}.password`, 'username and password go together');
  return { url: url.replace(/\/+$/, ''), username, password, timeoutMs: num(o.timeoutMs, `${key}.timeoutMs`, 100, 600000, true) };
}

function follower(v: unknown, key: string): FollowerConfig {
  const o = obj(v, key, ['checkpointPath', 'pollIntervalMs', 'changesLimit', 'maxBackoffMs', 'problemRepeatMs']);
  return {
    checkpointPath: str(o.checkpointPath, `${key}.checkpointPath`, { nonEmpty: true }),
    pollIntervalMs: num(o.pollIntervalMs, `${key}.pollIntervalMs`, 10, 600000, true),
    changesLimit: num(o.changesLimit, `${key}.changesLimit`, 1, 4000, true),
    maxBackoffMs: num(o.maxBackoffMs, `${key}.maxBackoffMs`, 10, 3600000, true),
    problemRepeatMs: num(o.problemRepeatMs, `${key}.problemRepeatMs`, 1000, MAX_PROBLEM_REPEAT_MS, true),
  };
}

function bundles(v: unknown, key: string): BundleEntry[] {
  const list = eachItem(arr(v, key), (item, i) => {
    const o = obj(item, `${key}[${i}]`, ['name', 'dir']);
    return { name: str(o.name, `${key}[${i}].name`, { nonEmpty: true }), dir: str(o.dir, `${key}[${i}].dir`, { nonEmpty: true }) };
  });
  const seen = new Set<string>();
  list.forEach((b, i) => {
    if (seen.has(b.name)) throw new ConfigError(`${key}[${i}].name`, `duplicate bundle name "${b.name}"`);
    seen.add(b.name);
  });
  return list;
}

function routing(v: unknown, key: string, bundleNames: string[]): RoutingConfig {
  const o = obj(v, key, ['rules', 'defaultBundle']);
  const checkBundle = (name: string, k: string) => {
    if (!bundleNames.includes(name)) throw new ConfigError(k, `names no configured bundle ("${name}"; have: ${bundleNames.join(', ')})`);
  };
  const rules = eachItem(arr(o.rules, `${key}.rules`), (item, i) => {
    const k = `${key}.rules[${i}]`;
    const r = obj(item, k, ['bundle', 'modality', 'sopClassUid', 'bodyPartExamined', 'studyDescription', 'seriesDescription', 'callingAet']);
    // Every bad field of a rule is reported, not only the first (both patterns of a rule may be refused).
    const c = new ConfigErrorCollector();
    const rule: RoutingRule = { bundle: str(r.bundle, `${k}.bundle`, { nonEmpty: true }) };
    c.check(() => checkBundle(rule.bundle, `${k}.bundle`));
    if (r.modality !== undefined) c.check(() => { rule.modality = strList(r.modality, `${k}.modality`); });
    if (r.sopClassUid !== undefined) c.check(() => { rule.sopClassUid = strList(r.sopClassUid, `${k}.sopClassUid`); });
    if (r.bodyPartExamined !== undefined) c.check(() => { rule.bodyPartExamined = strList(r.bodyPartExamined, `${k}.bodyPartExamined`); });
    if (r.studyDescription !== undefined) c.check(() => { rule.studyDescription = routePattern(r.studyDescription, `${k}.studyDescription`); });
    if (r.seriesDescription !== undefined) c.check(() => { rule.seriesDescription = routePattern(r.seriesDescription, `${k}.seriesDescription`); });
    if (r.callingAet !== undefined) c.check(() => { rule.callingAet = strList(r.callingAet, `${k}.callingAet`); });
    c.throwIfAny();
    return rule;
  });
  const defaultBundle = strOrNull(o.defaultBundle, `${key}.defaultBundle`);
  if (defaultBundle !== null) checkBundle(defaultBundle, `${key}.defaultBundle`);
  return { rules, defaultBundle };
}

function batching(v: unknown, key: string): BatchingConfig {
  const o = obj(v, key, ['batchSize', 'maxDelayMs', 'scope', 'queueBound', 'coefficientSample']);
  const batchSize = num(o.batchSize, `${key}.batchSize`, 1, 1024, true);
  const queueBound = num(o.queueBound, `${key}.queueBound`, 1, 1000000, true);
  if (queueBound < batchSize) throw new ConfigError(`${key}.queueBound`, `must be at least batchSize (${batchSize}), got ${queueBound}`);
  return {
    batchSize,
    maxDelayMs: num(o.maxDelayMs, `${key}.maxDelayMs`, 0, 600000, true),
    scope: oneOf(o.scope, `${key}.scope`, ['study', 'stream'] as const),
    queueBound,
    // A sample as large as the batch is the paper's T3B; larger is allowed (it is capped by each batch's size).
    coefficientSample: num(o.coefficientSample, `${key}.coefficientSample`, 0, 1024, true),
  };
}

function inference(v: unknown, key: string): InferenceConfig {
  const o = obj(v, key, ['policy', 'wiseAlpha', 'framePolicy', 'pixelSource', 'onBadImage', 'executionProviders', 'decodeConcurrency', 'fixedPassSessions', 'intraOpThreads', 'maxDecodedImageBytes']);
  let framePolicy: InferenceConfig['framePolicy'];
  if (typeof o.framePolicy === 'number') framePolicy = num(o.framePolicy, `${key}.framePolicy`, 0, 100000, true);
  else framePolicy = oneOf(o.framePolicy, `${key}.framePolicy`, ['first', 'middle', 'all'] as const);
  const providers = arr(o.executionProviders, `${key}.executionProviders`).map((p, i) =>
    oneOf(p, `${key}.executionProviders[${i}]`, ['cuda', 'webgpu', 'cpu'] as const),
  );
  if (providers.length === 0) throw new ConfigError(`${key}.executionProviders`, 'must name at least one provider');
  return {
    policy: oneOf(o.policy, `${key}.policy`, POLICY_NAMES),
    wiseAlpha: num(o.wiseAlpha, `${key}.wiseAlpha`, 0, 1),
    framePolicy,
    pixelSource: oneOf(o.pixelSource, `${key}.pixelSource`, ['local', 'orthanc'] as const),
    onBadImage: oneOf(o.onBadImage, `${key}.onBadImage`, ['skip', 'fail-study'] as const),
    executionProviders: providers,
    decodeConcurrency: num(o.decodeConcurrency, `${key}.decodeConcurrency`, 1, 64, true),
    fixedPassSessions: oneOf(o.fixedPassSessions, `${key}.fixedPassSessions`, FIXED_PASS_SESSIONS_SETTINGS),
    intraOpThreads: o.intraOpThreads === 'auto' ? 'auto' : num(o.intraOpThreads, `${key}.intraOpThreads ("auto" or a count)`, 1, 1024, true),
    // At least 1 MiB (a 512×512 16-bit frame is 0.5 MiB); at most 64 GiB, far past any memory a sidecar is given.
    maxDecodedImageBytes: num(o.maxDecodedImageBytes, `${key}.maxDecodedImageBytes`, 1024 * 1024, 64 * 1024 ** 3, true),
  };
}

function triage(v: unknown, key: string): TriageSetting {
  const o = obj(v, key, ['rules', 'disagreement']);
  const rules: TriageRuleSetting[] = eachItem(arr(o.rules, `${key}.rules`), (item, i) => {
    const k = `${key}.rules[${i}]`;
    const r = obj(item, k, ['code', 'threshold', 'priority']);
    return {
      code: str(r.code, `${k}.code`, { nonEmpty: true }),
      threshold: num(r.threshold, `${k}.threshold`, 0, 1),
      priority: oneOf(r.priority, `${k}.priority`, [...TRIAGE_PRIORITIES].reverse()),
    };
  });
  const d = obj(o.disagreement, `${key}.disagreement`, ['jsThreshold', 'lambdaDistanceThreshold']);
  const disagreement: TriageSetting['disagreement'] = {};
  if (d.jsThreshold !== undefined && d.jsThreshold !== null) disagreement.jsThreshold = num(d.jsThreshold, `${key}.disagreement.jsThreshold`, 0, 1);
  if (d.lambdaDistanceThreshold !== undefined && d.lambdaDistanceThreshold !== null) {
    disagreement.lambdaDistanceThreshold = num(d.lambdaDistanceThreshold, `${key}.disagreement.lambdaDistanceThreshold`, 0, 10);
  }
  return { rules, disagreement };
}

function retry(v: unknown, key: string): RetryConfig {
  const o = obj(v, key, ['maxAttempts', 'initialDelayMs', 'maxDelayMs']);
  const initialDelayMs = num(o.initialDelayMs, `${key}.initialDelayMs`, 0, 3600000, true);
  const maxDelayMs = num(o.maxDelayMs, `${key}.maxDelayMs`, 0, 86400000, true);
  if (maxDelayMs < initialDelayMs) throw new ConfigError(`${key}.maxDelayMs`, `must be at least initialDelayMs (${initialDelayMs})`);
  return { maxAttempts: num(o.maxAttempts, `${key}.maxAttempts`, 1, 100, true), initialDelayMs, maxDelayMs };
}

function listenAddress(v: unknown, key: string): string {
  const listen = str(v, key);
  if (listen !== '' && !/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(listen)) {
    throw new ConfigError(key, `must be host:port (or "" to disable), got ${describe(listen)}`);
  }
  return listen;
}

function metrics(v: unknown, key: string): MetricsConfig {
  const o = obj(v, key, ['listen']);
  return { listen: listenAddress(o.listen, `${key}.listen`) };
}

function grpc(v: unknown, key: string): GrpcConfig {
  const o = obj(v, key, ['listen', 'tls', 'tokens']);
  const listen = listenAddress(o.listen, `${key}.listen`);
  let tls: GrpcConfig['tls'] = null;
  if (o.tls !== null) {
    const t = obj(o.tls, `${key}.tls`, ['certFile', 'keyFile', 'clientCaFile']);
    tls = {
      certFile: str(t.certFile, `${key}.tls.certFile`, { nonEmpty: true }),
      keyFile: str(t.keyFile, `${key}.tls.keyFile`, { nonEmpty: true }),
      clientCaFile: t.clientCaFile === undefined ? null : strOrNull(t.clientCaFile, `${key}.tls.clientCaFile`),
    };
  }
  const tokens = eachItem(arr(o.tokens, `${key}.tokens`), (item, i) => {
    const k = `${key}.tokens[${i}]`;
    const t = obj(item, k, ['token', 'role', 'roles']);
    const entry: GrpcConfig['tokens'][number] = { token: str(t.token, `${k}.token`, { nonEmpty: true }) };
    if (t.role !== undefined) entry.role = oneOf(t.role, `${k}.role`, ['triage', 'admin'] as const);
    if (t.roles !== undefined) entry.roles = arr(t.roles, `${k}.roles`).map((r, j) => oneOf(r, `${k}.roles[${j}]`, ['triage', 'admin'] as const));
    if (entry.role === undefined && (entry.roles === undefined || entry.roles.length === 0)) throw new ConfigError(k, 'needs "role" or "roles" (triage, admin)');
    return entry;
  });
  return { listen, tls, tokens };
}

function plugin(v: unknown, key: string): PluginConfig {
  const o = obj(v, key, ['sidecarAddress', 'token', 'tokenFile', 'deadlineSeconds', 'tls', 'auditFile']);
  let tls: PluginConfig['tls'] = null;
  if (o.tls !== null && o.tls !== undefined) {
    const t = obj(o.tls, `${key}.tls`, ['caFile', 'certFile', 'keyFile', 'serverName']);
    const optional = (k: string) => (t[k] === undefined ? null : strOrNull(t[k], `${key}.tls.${k}`));
    tls = { caFile: optional('caFile'), certFile: optional('certFile'), keyFile: optional('keyFile'), serverName: optional('serverName') };
    if ((tls.certFile === null) !== (tls.keyFile === null)) throw new ConfigError(`${key}.tls.keyFile`, 'certFile and keyFile go together');
  }
  return {
    sidecarAddress: str(o.sidecarAddress, `${key}.sidecarAddress`, { nonEmpty: true }),
    token: strOrNull(o.token, `${key}.token`),
    tokenFile: o.tokenFile === undefined ? null : strOrNull(o.tokenFile, `${key}.tokenFile`),
    deadlineSeconds: num(o.deadlineSeconds, `${key}.deadlineSeconds`, 0.1, 600),
    tls,
    auditFile: o.auditFile === undefined ? null : strOrNull(o.auditFile, `${key}.auditFile`),
  };
}

function worklist(v: unknown, key: string): WorklistConfig {
  const o = obj(v, key, ['administrators', 'maxWaitSeconds']);
  return {
    administrators: o.administrators === null ? null : strList(o.administrators, `${key}.administrators`),
    maxWaitSeconds: num(o.maxWaitSeconds, `${key}.maxWaitSeconds`, 1, 86400),
  };
}

function bool(value: unknown, key: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(key, `must be true or false, got ${describe(value)}`);
  return value;
}

function speculation(v: unknown, key: string): SpeculationConfig {
  const o = obj(v, key, ['enabled', 'cacheMegabytes', 'queueBound']);
  return {
    enabled: bool(o.enabled, `${key}.enabled`),
    cacheMegabytes: num(o.cacheMegabytes, `${key}.cacheMegabytes`, 1, 1048576, true),
    queueBound: num(o.queueBound, `${key}.queueBound`, 1, 1000000, true),
  };
}

function deployment(v: unknown, key: string): DeploymentConfig {
  const o = obj(v, key, ['production', 'allowDemonstrationModels']);
  return {
    production: bool(o.production, `${key}.production`),
    allowDemonstrationModels: bool(o.allowDemonstrationModels, `${key}.allowDemonstrationModels`),
  };
}

function coordination(v: unknown, key: string): CoordinationConfig {
  const o = obj(v, key, ['mode', 'workerId', 'quietMs', 'leaseMs']);
  const workerId = str(o.workerId, `${key}.workerId`);
  if (!/^[A-Za-z0-9._:-]{0,128}$/.test(workerId)) throw new ConfigError(`${key}.workerId`, `may hold only letters, digits and . _ : - (at most 128), got ${describe(workerId)}`);
  const quietMs = num(o.quietMs, `${key}.quietMs`, 1000, 3600000, true);
  const leaseMs = num(o.leaseMs, `${key}.leaseMs`, 1000, 3600000, true);
  return { mode: oneOf(o.mode, `${key}.mode`, ['single', 'shared'] as const), workerId, quietMs, leaseMs };
}

/**
 * Checks a complete configuration object (defaults already merged in) and returns a typed copy.
 * Throws ConfigError whose key is the dotted path of the bad value, e.g. `T3.batching.batchSize`; when several values
 * are bad, a ConfigErrorList naming every one (each section, each rule, each token is checked).
 */
export function validateSidecarConfig(raw: unknown, root: string = CONFIG_ROOT): SidecarConfig {
  const c = new ConfigErrorCollector();
  const o = c.check(() => obj(raw, root, ['deployment', 'orthanc', 'follower', 'bundles', 'routing', 'batching', 'inference', 'triage', 'retry', 'grpc', 'plugin', 'worklist', 'metrics', 'speculation', 'coordination']))
    // Unknown top-level keys are reported with the rest; the known sections are still checked.
    ?? (isRecord(raw) ? raw : null);
  if (o === null) {
    c.throwIfAny();
    throw new ConfigError(root, 'must be an object');
  }
  const b = c.check(() => {
    const list = bundles(o.bundles, `${root}.bundles`);
    if (list.length === 0) throw new ConfigError(`${root}.bundles`, 'must list at least one bundle');
    return list;
  });
  const config = {
    deployment: c.check(() => deployment(o.deployment, `${root}.deployment`)),
    orthanc: c.check(() => orthanc(o.orthanc, `${root}.orthanc`)),
    follower: c.check(() => follower(o.follower, `${root}.follower`)),
    bundles: b,
    // Without valid bundles the routing rules cannot be checked against their names.
    routing: b ? c.check(() => routing(o.routing, `${root}.routing`, b.map((x) => x.name))) : undefined,
    batching: c.check(() => batching(o.batching, `${root}.batching`)),
    inference: c.check(() => inference(o.inference, `${root}.inference`)),
    triage: c.check(() => triage(o.triage, `${root}.triage`)),
    retry: c.check(() => retry(o.retry, `${root}.retry`)),
    grpc: c.check(() => grpc(o.grpc, `${root}.grpc`)),
    plugin: c.check(() => plugin(o.plugin, `${root}.plugin`)),
    worklist: c.check(() => worklist(o.worklist, `${root}.worklist`)),
    metrics: c.check(() => metrics(o.metrics, `${root}.metrics`)),
    speculation: c.check(() => speculation(o.speculation, `${root}.speculation`)),
    coordination: c.check(() => coordination(o.coordination, `${root}.coordination`)),
  };
  c.throwIfAny();
  // Every check passed, so no section is undefined.
  return config as SidecarConfig;
}
