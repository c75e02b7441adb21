import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { optionString, parseArgs, type ParsedArgs } from './parse-args';
import {
  ConfigError, ENV_BINDINGS, liveOverridesOf, liveSettingsParticipant, liveSettingsPath, loadSidecarConfig, mergeConfig,
  readLiveSettings, validateSidecarConfig, valueSources, withLiveSettings, type ConfigLayers, type SidecarConfig,
} from '../config';
import { closeSharedFramePool } from '../dicom';
import { memoryAllocator } from '../engine';
import { isLoopbackHost, redactSecrets, startSidecarGrpcServer, type ExtraTokenSources, type RunningGrpcServer } from '../grpc';
import { startOrthancSidecar, type OrthancSidecar } from '../orthanc/sidecar-service';
import { exportFeedbackPage } from '../orthanc/feedback-export';
import type { SidecarLog } from '../pipeline';
import type { LogLevel } from '../util/log-levels';
import { structuredLog } from '../util/structured-log';

export const PACKAGE_VERSION: string = (require('../../package.json') as { version: string }).version;

/** Structured log lines (JSON, one per line, with a level: util/structured-log.ts). Fields carry Orthanc ids and counts, never patient data. */
export function jsonLog(stream: Writable, level?: LogLevel): SidecarLog {
  return structuredLog(stream, level);
}

export interface ServeRuntime {
  service: OrthancSidecar<SidecarConfig>;
  grpc: RunningGrpcServer | null;
  /** The /metrics, /livez, /readyz server, when metrics.listen is set. */
  metrics: { host: string; port: number; server: http.Server } | null;
  /** Drains and stops everything (SIGTERM path); safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The configuration to start on: `config` (files, environment, options) with the live settings kept beside the
 * checkpoint (live-settings.ts) applied, so the follower never triages a study under rules an administrator had
 * already changed. Kept settings that no longer fit (invalid, a bundle folder gone) are refused whole and logged; the
 * sidecar then starts on its files, as it would have without them.
 */
function startingConfig(config: SidecarConfig, log: SidecarLog): SidecarConfig {
  const file = liveSettingsPath(config.follower.checkpointPath);
  try {
    const kept = readLiveSettings(file);
    if (!kept) return config;
    const effective = withLiveSettings(config, kept, file);
    log('live-settings-loaded', { file, keys: Object.keys(liveOverridesOf(config, effective)).sort() });
    return effective;
  } catch (err) {
    log('live-settings-refused', { file, error: err instanceof Error ? err.message : String(err), using: 'the configuration files and environment only' });
    return config;
  }
}

/** The gRPC server on the runtime's Sidecar, when `grpc.listen` is set and some token can call it; null otherwise (logged). */
async function startGrpcIfConfigured(
  config: SidecarConfig,
  service: OrthancSidecar<SidecarConfig>,
  following: boolean,
  options: { log: SidecarLog; extraTokens?: ExtraTokenSources; layers?: ConfigLayers },
): Promise<RunningGrpcServer | null> {
  const extraTokens = options.extraTokens ?? {};
  if (config.grpc.listen === '') {
    options.log('grpc-disabled', { reason: 'grpc.listen is empty' });
    return null;
  }
  if (config.grpc.tokens.length === 0 && !extraTokens.tokenFile && !extraTokens.tokenList) {
    options.log('grpc-disabled', { reason: 'no gRPC tokens configured (grpc.tokens, T3_GRPC_TOKENS or T3_GRPC_TOKEN_FILE): every call would be refused; the change feed still runs' });
    return null;
  }
  const grpcServer = await startSidecarGrpcServer({
    sidecar: service.sidecar,
    grpc: config.grpc,
    extraTokens,
    follower: () => ({
      orthancUrl: config.orthanc.url,
      checkpoint: service.follower.position.lowWatermark,
      // Without the change feed, nothing polls Orthanc: say so rather than claim a connection.
      connected: following && service.follower.state !== 'orthanc-down',
      lastError: service.follower.lastError,
      paused: service.follower.state === 'paused',
    }),
    exportFeedback: (pageToken, pageSize) => exportFeedbackPage(service.client, pageToken, pageSize),
    drift: () => service.drift.view(),
    // Token changes by id (never the token): who can call the sidecar is an audited fact.
    audit: (event, fields) => options.log(event, fields),
    configSources: () => {
      const now = service.sidecar.getConfig();
      // Live changes are what differs from the configuration the runtime started with.
      const live = liveOverridesOf(config, now);
      return { values: valueSources(now, options.layers ?? null, live), live };
    },
    onInternalError: (method, err) => options.log('grpc-internal-error', { method, error: err instanceof Error ? err.message : String(err) }),
  });
  options.log('grpc-listening', { host: grpcServer.host, port: grpcServer.port, tls: config.grpc.tls !== null });
  return grpcServer;
}

/**
 * Starts the main job: engines, change-feed follower, and (when `grpc.listen` is set and tokens are configured) the
 * gRPC server sharing the same engines and Sidecar. Live settings kept by an earlier run are applied before the
 * follower starts, and every live change is kept again (live-settings.ts).
 */
export async function startServeRuntime(
  config: SidecarConfig,
  options: { log: SidecarLog; follow?: boolean; extraTokens?: ExtraTokenSources; layers?: ConfigLayers },
): Promise<ServeRuntime> {
  const base = config;
  const liveFile = liveSettingsPath(config.follower.checkpointPath);
  // This runtime's metrics (not prom-client's global registry: several runtimes in one process keep theirs apart),
  // with the process's own: CPU, memory, heap, event-loop lag, GC.
  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry });
  const service = await startOrthancSidecar({
    config: startingConfig(base, options.log),
    validateConfig: validateSidecarConfig,
    mergeConfig,
    version: PACKAGE_VERSION,
    log: options.log,
    follow: options.follow,
    metricsRegistry,
  });
  const following = options.follow !== false;
  service.sidecar.addConfigParticipant(liveSettingsParticipant(liveFile, base, (err) => {
    options.log('live-settings-not-saved', { file: liveFile, error: err instanceof Error ? err.message : String(err) });
  }));
  let grpcServer: RunningGrpcServer | null;
  try {
    grpcServer = await startGrpcIfConfigured(config, service, following, options);
  } catch (err) {
    await service.stop();
    throw err;
  }
  let metrics: ServeRuntime['metrics'] = null;
  try {
    if (config.metrics.listen !== '') metrics = await startMetricsServer(config.metrics.listen, service, following);
  } catch (err) {
    await grpcServer?.close(0);
    await service.stop();
    throw err;
  }
  if (metrics) {
    options.log('metrics-listening', { host: metrics.host, port: metrics.port });
    if (!isLoopbackHost(metrics.host)) {
      // /metrics has no TLS and no login: queue depths, study counts and model names are readable by whoever reaches it.
      options.log('configuration-warning', { message: `metrics.listen ${config.metrics.listen} is reachable beyond this machine over plain HTTP without authentication: bind it to 127.0.0.1, or restrict it with a firewall or a TLS proxy` });
    }
  }
  let stopping: Promise<void> | null = null;
  return {
    service,
    grpc: grpcServer,
    metrics,
    stop() {
      stopping ??= (async () => {
        if (metrics) await new Promise<void>((r) => metrics.server.close(() => r()));
        if (grpcServer) await grpcServer.close(5000);
        await service.stop();
      })();
      return stopping;
    },
  };
}

/** /metrics (Prometheus text, from the runtime's registry), /livez (the process answers), /readyz (engines open and Orthanc reachable). */
async function startMetricsServer(listen: string, service: OrthancSidecar<SidecarConfig>, following: boolean): Promise<NonNullable<ServeRuntime['metrics']>> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(colon + 1));
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      const registry = service.sidecar.metrics.registry;
      registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics not available: ${err instanceof Error ? err.message : String(err)}\n`),
      );
    } else if (req.url === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (req.url === '/readyz') {
      const status = service.sidecar.status();
      const orthancDown = following && service.follower.state === 'orthanc-down';
      const ready = status.accepting && status.models.length > 0 && !orthancDown;
      // The same words GetStatus (and the plugin's /t3/status) give in follower.last_error.
      const why = orthancDown ? `not ready: ${service.follower.lastError ?? 'Orthanc is not usable'}` : 'not ready: not accepting work';
      res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ready ? 'ready\n' : `${why}\n`);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: /metrics /livez /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { host, port: (server.address() as AddressInfo).port, server };
}

/** Every environment variable serve reads, from the one list config/ applies (so the help cannot fall behind). */
function environmentHelp(): string {
  const lines = ENV_BINDINGS.map((b) => `  ${b.name.padEnd(30)} T3.${b.path.join('.')}`);
  lines.push(`  ${'T3_GRPC_TOKENS'.padEnd(30)} gRPC bearer tokens, token=role[+role],… (adds to T3.grpc.tokens)`);
  lines.push(`  ${'T3_GRPC_TOKEN_FILE'.padEnd(30)} JSON token file of the gRPC server (or --grpc-token-file)`);
  return lines.join('\n');
}

const HELP = `usage: orthanc-t3 serve [options]

Follows Orthanc's change feed and triages every study that becomes stable: SR and metadata written back into the
study. Also serves the gRPC TriageService/AdminService when grpc.listen and grpc.tokens are configured.
Configuration: defaults ← the "T3" section of --config (an Orthanc configuration file or folder) ← environment
← these options. When Orthanc cannot be used (wrong URL or password, not running, not Orthanc), serve says which and
names the setting to change, at once and then every T3.follower.problemRepeatMs (30 s) while it lasts.
SIGTERM or Ctrl-C: stop reading changes, finish the studies in flight, save the checkpoint, exit.

options:
  --config PATH        Orthanc configuration file or folder holding the T3 section (e.g. orthanc-config/)
  --orthanc-url URL    Orthanc REST base URL (overrides T3.orthanc.url)
  --checkpoint FILE    change-feed checkpoint file (overrides T3.follower.checkpointPath)
  --grpc-listen ADDR   host:port of the gRPC server, "" to disable (overrides T3.grpc.listen)
  --grpc-token-file F  JSON token file of the gRPC server (adds to T3.grpc.tokens; or T3_GRPC_TOKEN_FILE)
  --metrics-listen A   host:port of /metrics, /livez, /readyz, "" to disable (overrides T3.metrics.listen)
  --log-level LEVEL    debug, info, warn, error or silent (overrides T3.logging.level; default info)
  --no-follow          do not follow the change feed (gRPC requests only)
  --print-config       print the effective configuration (secrets shown as ***) and exit

environment (each overrides the configuration file):
${environmentHelp()}
`;

/** The config overlay from command-line options. */
function cliOverrides(args: ParsedArgs): Record<string, unknown> {
  const o: Record<string, Record<string, unknown>> = {};
  const url = optionString(args, 'orthanc-url');
  if (url !== undefined) o.orthanc = { url };
  const checkpoint = optionString(args, 'checkpoint');
  if (checkpoint !== undefined) o.follower = { checkpointPath: path.resolve(checkpoint) };
  const listen = optionString(args, 'grpc-listen');
  if (listen !== undefined) o.grpc = { listen };
  const metricsListen = optionString(args, 'metrics-listen');
  if (metricsListen !== undefined) o.metrics = { listen: metricsListen };
  const logLevel = optionString(args, 'log-level');
  if (logLevel !== undefined) o.logging = { level: logLevel };
  return o;
}

/** Resolves when SIGTERM or SIGINT arrives. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'follow Orthanc and triage every study that becomes stable',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['config', 'orthanc-url', 'checkpoint', 'grpc-listen', 'grpc-token-file', 'metrics-listen', 'log-level'], flags: ['help', 'no-follow', 'print-config'] });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}" (orthanc-t3 serve --help)`);
    let config: SidecarConfig;
    let warnings: string[];
    let layers: ConfigLayers;
    try {
      ({ config, warnings, layers } = loadSidecarConfig({ configPath: optionString(args, 'config'), env: process.env, overrides: cliOverrides(args) }));
    } catch (err) {
      // Every bad value at once, one per line, so an administrator fixes them in one go.
      if (err instanceof ConfigError) throw new UsageError(`configuration:\n  ${err.message.split('\n').join('\n  ')}`);
      throw err;
    }
    if (args.options.has('print-config')) {
      for (const message of warnings) io.stderr.write(`warning: ${message}\n`);
      io.stdout.write(JSON.stringify(redactSecrets(config), null, 2) + '\n');
      return ExitCode.ok;
    }
    const log = jsonLog(io.stderr, config.logging.level);
    log('starting', { version: PACKAGE_VERSION, orthanc: config.orthanc.url, production: config.deployment.production, allocator: memoryAllocator() });
    if (memoryAllocator() === 'glibc') {
      log('configuration-warning', { message: 'running on glibc malloc: memory freed after a burst of large gRPC requests stays resident; start serve through bin/orthanc-t3 with Debian\'s libjemalloc2 installed (SECURITY.md, "Memory")' });
    }
    for (const message of warnings) log('configuration-warning', { message });
    const extraTokens = {
      tokenFile: optionString(args, 'grpc-token-file') ?? process.env.T3_GRPC_TOKEN_FILE ?? null,
      tokenList: process.env.T3_GRPC_TOKENS ?? null,
    };
    // The handlers go in before anything starts: a SIGTERM that arrives while the models load, or just after
    // `serving` is written (a supervisor that stops the sidecar as soon as it is up), is then a graceful stop, never
    // the default action that kills the process without saving the checkpoint.
    const signalled = untilSignal();
    const runtime = await startServeRuntime(config, { log, follow: !args.options.has('no-follow'), extraTokens, layers });
    log('serving', { orthanc: config.orthanc.url, checkpoint: config.follower.checkpointPath, bundles: config.bundles.map((b) => b.name) });
    const signal = await signalled;
    log('stopping', { signal });
    await runtime.stop();
    await closeSharedFramePool();
    log('stopped', { checkpoint: runtime.service.follower.position.lowWatermark });
    return ExitCode.ok;
  },
};
