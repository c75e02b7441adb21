import type { ValidateFunction } from 'ajv';
import { compileRoutePattern, RoutePatternError } from '../pipeline/routing/route-pattern';
import { ConfigError, ConfigErrorCollector } from './config-error';
import { configErrorsFromSchema } from './schema-errors';
import { describeValue } from '../util/schema-failures';
import { compileSchema } from '../util/schema-kit';
import { SidecarConfigSchema } from './t3-schema';
import { ROLE_NAMES } from '../grpc/backend';
import type { PluginConfig, PluginTlsConfig, RoutingConfig, SidecarConfig, TriageSetting } from './sidecar-config';
import type { Static } from '@sinclair/typebox';

/** The root name used in error keys: the section name in Orthanc's configuration. */
export const CONFIG_ROOT = 'T3';

/** What passes the schema: the types of t3-schema.ts, before validation fills in the optional values. */
type SchemaValid = Static<typeof SidecarConfigSchema>;
type Section = keyof SchemaValid;

const SECTIONS = Object.keys(SidecarConfigSchema.properties) as Section[];

let compiled: ValidateFunction | null = null;

/** One Ajv for the section schema, compiled on first use; `verbose` keeps each failure's schema and value for its message. */
function schemaValidator(): ValidateFunction {
  compiled ??= compileSchema(SidecarConfigSchema);
  return compiled;
}

/** The section an error's key is in: `T3.triage.rules[0].code` → `triage`. */
function sectionOf(error: ConfigError, root: string): string {
  return error.key.slice(root.length + 1).split(/[.[]/)[0];
}

/** Errors in the order of the sections (as administrators read the file), each section's in the order found. */
function bySection(errors: readonly ConfigError[], root: string): ConfigError[] {
  const rank = (e: ConfigError) => {
    const i = SECTIONS.indexOf(sectionOf(e, root) as Section);
    return i < 0 ? SECTIONS.length : i;
  };
  return errors.map((e, i) => ({ e, i })).sort((a, b) => rank(a.e) - rank(b.e) || a.i - b.i).map(({ e }) => e);
}

// Rules the schema cannot say: they read code (URL parsing, RE2 compilation) or span several values. Each runs on a
// section that passed the schema, so its values have their types; each throws the ConfigError of the first problem.

function orthancRules(o: SchemaValid['orthanc'], key: string): void {
  let parsed: URL;
  try {
    parsed = new URL(o.url);
  } catch {
    throw new ConfigError(`${key}.url`, `is not a URL: ${describeValue(o.url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${key}.url`, 'must be http or https');
  if (parsed.username || parsed.password) throw new ConfigError(`${key}.url`, 'must not hold credentials: use username/password');
  if ((o.username === null) !== (o.password === null)) throw new ConfigError(`${key}.password`, 'username and password go together');
}

function bundleRules(list: SchemaValid['bundles'], key: string): void {
  const seen = new Set<string>();
  list.forEach((b, i) => {
    if (seen.has(b.name)) throw new ConfigError(`${key}[${i}].name`, `duplicate bundle name "${b.name}"`);
    seen.add(b.name);
  });
}

/** A routing pattern, compiled here by the one compiler routing uses (so it is compiled once, when it loads). */
function checkRoutePattern(source: string, key: string): void {
  try {
    compileRoutePattern(source);
  } catch (err) {
    if (err instanceof RoutePatternError) throw new ConfigError(key, err.message);
    throw err;
  }
}

function routingRules(o: RoutingConfig, key: string, bundleNames: string[]): void {
  const c = new ConfigErrorCollector();
  const checkBundle = (name: string, k: string) => {
    if (!bundleNames.includes(name)) throw new ConfigError(k, `names no configured bundle ("${name}"; have: ${bundleNames.join(', ')})`);
  };
  // Every bad field of every rule is reported, not only the first (both patterns of a rule may be refused).
  o.rules.forEach((rule, i) => {
    const k = `${key}.rules[${i}]`;
    c.check(() => checkBundle(rule.bundle, `${k}.bundle`));
    if (rule.studyDescription !== undefined) c.check(() => checkRoutePattern(rule.studyDescription!, `${k}.studyDescription`));
    if (rule.seriesDescription !== undefined) c.check(() => checkRoutePattern(rule.seriesDescription!, `${k}.seriesDescription`));
  });
  if (o.defaultBundle !== null) c.check(() => checkBundle(o.defaultBundle!, `${key}.defaultBundle`));
  c.throwIfAny();
}

function batchingRules(o: SchemaValid['batching'], key: string): void {
  if (o.queueBound < o.batchSize) throw new ConfigError(`${key}.queueBound`, `must be at least batchSize (${o.batchSize}), got ${o.queueBound}`);
}

function retryRules(o: SchemaValid['retry'], key: string): void {
  if (o.maxDelayMs < o.initialDelayMs) throw new ConfigError(`${key}.maxDelayMs`, `must be at least initialDelayMs (${o.initialDelayMs})`);
}

function grpcRules(o: SchemaValid['grpc'], key: string): void {
  const c = new ConfigErrorCollector();
  o.tokens.forEach((t, i) => {
    if (t.role === undefined && (t.roles === undefined || t.roles.length === 0)) {
      c.add(new ConfigError(`${key}.tokens[${i}]`, `needs "role" or "roles" (${ROLE_NAMES.join(', ')})`));
    }
  });
  c.throwIfAny();
}

function pluginRules(o: SchemaValid['plugin'], key: string): void {
  const certFile = o.tls?.certFile ?? null;
  const keyFile = o.tls?.keyFile ?? null;
  if (o.tls && (certFile === null) !== (keyFile === null)) throw new ConfigError(`${key}.tls.keyFile`, 'certFile and keyFile go together');
}

function sectionRules(config: SchemaValid, root: string, failed: ReadonlySet<string>): readonly ConfigError[] {
  const c = new ConfigErrorCollector();
  const run = (section: Section, rule: () => void) => {
    if (!failed.has(section)) c.check(rule);
  };
  run('orthanc', () => orthancRules(config.orthanc, `${root}.orthanc`));
  run('bundles', () => bundleRules(config.bundles, `${root}.bundles`));
  // Without valid bundles the routing rules cannot be checked against their names.
  if (!failed.has('bundles')) run('routing', () => routingRules(config.routing, `${root}.routing`, config.bundles.map((b) => b.name)));
  run('batching', () => batchingRules(config.batching, `${root}.batching`));
  run('retry', () => retryRules(config.retry, `${root}.retry`));
  run('grpc', () => grpcRules(config.grpc, `${root}.grpc`));
  run('plugin', () => pluginRules(config.plugin, `${root}.plugin`));
  return c.found;
}

/** The values a file may leave out, filled in, so the rest of the sidecar sees one shape. */
function completed(valid: SchemaValid): SidecarConfig {
  const config = structuredClone(valid);
  const disagreement: TriageSetting['disagreement'] = {};
  const { jsThreshold, lambdaDistanceThreshold } = config.triage.disagreement;
  if (jsThreshold !== undefined && jsThreshold !== null) disagreement.jsThreshold = jsThreshold;
  if (lambdaDistanceThreshold !== undefined && lambdaDistanceThreshold !== null) disagreement.lambdaDistanceThreshold = lambdaDistanceThreshold;
  const pluginTls: PluginTlsConfig | null = config.plugin.tls
    ? { caFile: config.plugin.tls.caFile ?? null, certFile: config.plugin.tls.certFile ?? null, keyFile: config.plugin.tls.keyFile ?? null, serverName: config.plugin.tls.serverName ?? null }
    : null;
  const plugin: PluginConfig = { ...config.plugin, tokenFile: config.plugin.tokenFile ?? null, tls: pluginTls, auditFile: config.plugin.auditFile ?? null };
  return {
    ...config,
    orthanc: { ...config.orthanc, url: config.orthanc.url.replace(/\/+$/, '') },
    triage: { ...config.triage, disagreement },
    grpc: { ...config.grpc, tls: config.grpc.tls ? { ...config.grpc.tls, clientCaFile: config.grpc.tls.clientCaFile ?? null } : null },
    plugin,
  };
}

/**
 * Checks a complete configuration object (defaults already merged in) and returns a typed copy.
 * Throws ConfigError whose key is the dotted path of the bad value, e.g. `T3.batching.batchSize`; when several values
 * are bad, a ConfigErrorList naming every one (each section, each rule, each token is checked).
 */
export function validateSidecarConfig(raw: unknown, root: string = CONFIG_ROOT): SidecarConfig {
  const validate = schemaValidator();
  const schemaErrors = validate(raw) ? [] : configErrorsFromSchema(validate.errors ?? [], raw, root);
  // Not an object at all: nothing below can be read.
  const whole = schemaErrors.find((e) => e.key === root);
  if (whole) throw whole;
  const failed = new Set(schemaErrors.map((e) => sectionOf(e, root)));
  // Sections that passed the schema have their types, whatever the others hold.
  const ruleErrors = sectionRules(raw as SchemaValid, root, failed);
  const c = new ConfigErrorCollector();
  for (const e of bySection([...schemaErrors, ...ruleErrors], root)) c.add(e);
  c.throwIfAny();
  return completed(raw as SchemaValid);
}
