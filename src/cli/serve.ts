import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { optionString, parseArgs, type ParsedArgs } from './parse-args';
import { ConfigError, loadSidecarConfig, validateSidecarConfig, type SidecarConfig } from '../config';
import { closeSharedFramePool } from '../dicom';
import {
  PipelineBackend,
  EngineClassifier,
  TokenTable,
  startGrpcServer,
  type RunningGrpcServer,
  type TransportSecurity,
} from '../grpc';
import { redactSecrets, sidecarOperations } from '../grpc/sidecar-operations';
import { startOrthancSidecar, type OrthancSidecar } from '../orthanc/sidecar-service';
import type { SidecarLog } from '../pipeline';

// eslint-disable-next-line @typescript-eslint/no-var-requires
export const PACKAGE_VERSION: string = (require('../../package.json') as { version: string }).version;

/** Structured log lines (JSON, one per line). Fields carry Orthanc ids and counts, never patient data. */
export function jsonLog(stream: Writable): SidecarLog {
  return (event, fields) => {
    stream.write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n');
  };
}

export interface ServeRuntime {
  service: OrthancSidecar<SidecarConfig>;
  grpc: RunningGrpcServer | null;
  /** The /metrics, /livez, /readyz server, when metrics.listen is set. */
  metrics: { host: string; port: number; server: http.Server } | null;
  /** Drains and stops everything (SIGTERM path); safe to call twice. */
  stop(): Promise<void>;
}

function transportSecurity(config: SidecarConfig): TransportSecurity {
  const tls = config.grpc.tls;
  if (!tls) return { kind: 'plaintext' };
  return {
    kind: 'tls',
    tls: {
      cert: fs.readFileSync(tls.certFile),
      key: fs.readFileSync(tls.keyFile),
      clientCa: tls.clientCaFile ? fs.readFileSync(tls.clientCaFile) : null,
    },
  };
}

/**
 * Starts the main job: engines, change-feed follower, and (when `grpc.listen` is set and tokens are configured) the
 * gRPC server sharing the same engines and Sidecar.
 */
export async function startServeRuntime(config: SidecarConfig, options: { log: SidecarLog; follow?: boolean }): Promise<ServeRuntime> {
  const service = await startOrthancSidecar({
    config,
    validateConfig: validateSidecarConfig,
    version: PACKAGE_VERSION,
    log: options.log,
    follow: options.follow,
  });
  let grpcServer: RunningGrpcServer | null = null;
  try {
    if (config.grpc.listen === '') {
      options.log('grpc-disabled', { reason: 'grpc.listen is empty' });
    } else if (config.grpc.tokens.length === 0) {
      options.log('grpc-disabled', { reason: 'no grpc.tokens configured (every call would be refused); the change feed still runs' });
    } else {
      const sidecar = service.sidecar;
      const classifier = new EngineClassifier({
        engines: () => sidecar.engines(),
        defaultBundle: sidecar.getConfig().routing.defaultBundle ?? undefined,
        // Read on every call, so AdminService.UpdateConfig applies to Classify at once.
        settings: () => {
          const c = sidecar.getConfig();
          return {
            batchSize: c.batching.batchSize,
            defaultPolicy: c.inference.policy,
            defaultWiseAlpha: c.inference.wiseAlpha,
            defaultFrames: c.inference.framePolicy,
            decodeConcurrency: c.inference.decodeConcurrency,
            triage: c.triage,
          };
        },
      });
      const studies = sidecarOperations(sidecar, {
        queueBound: () => sidecar.getConfig().batching.queueBound,
        follower: () => ({
          orthancUrl: config.orthanc.url,
          checkpoint: service.follower.position.lowWatermark,
          connected: service.follower.state !== 'orthanc-down',
          lastError: service.follower.lastError,
          paused: service.follower.state === 'paused',
        }),
      });
      grpcServer = await startGrpcServer({
        listen: config.grpc.listen,
        security: transportSecurity(config),
        tokens: new TokenTable(config.grpc.tokens, 'T3.grpc.tokens'),
        backend: new PipelineBackend({ classifier, studies, version: PACKAGE_VERSION }),
        onInternalError: (method, err) => options.log('grpc-internal-error', { method, error: err instanceof Error ? err.message : String(err) }),
      });
      options.log('grpc-listening', { host: grpcServer.host, port: grpcServer.port, tls: config.grpc.tls !== null });
    }
  } catch (err) {
    await service.stop();
    throw err;
  }
  let metrics: ServeRuntime['metrics'] = null;
  try {
    if (config.metrics.listen !== '') metrics = await startMetricsServer(config.metrics.listen, service, options.follow !== false);
  } catch (err) {
    await grpcServer?.close(0);
    await service.stop();
    throw err;
  }
  if (metrics) options.log('metrics-listening', { host: metrics.host, port: metrics.port });
  let stopping: Promise<void> | null = null;
  return {
    service,
    grpc: grpcServer,
    metrics,
    stop() {
      stopping ??= (async () => {
        if (metrics) await new Promise<void>((r) => metrics!.server.close(() => r()));
        if (grpcServer) await grpcServer.close(5000);
        await service.stop();
      })();
      return stopping;
    },
  };
}

/** /metrics (Prometheus text), /livez (the process answers), /readyz (engines open and Orthanc reachable). */
async function startMetricsServer(listen: string, service: OrthancSidecar<SidecarConfig>, following: boolean): Promise<NonNullable<ServeRuntime['metrics']>> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(colon + 1));
  const server = http.createServer((req, res) => {
    const status = service.sidecar.status();
    if (req.url === '/metrics') {
      const follower = service.follower;
      const text =
        service.sidecar.metrics.render({
          queues: status.queues,
          jobs: status.jobs,
          models: status.models.map((m) => ({ name: m.name, version: m.version, executionProvider: m.executionProvider })),
        }) +
        '# HELP t3_follower_checkpoint Saved change-feed position (low-watermark of unfinished work).\n# TYPE t3_follower_checkpoint gauge\n' +
        `t3_follower_checkpoint ${follower.position.lowWatermark}\n` +
        '# HELP t3_follower_orthanc_up 1 when the last poll of Orthanc succeeded.\n# TYPE t3_follower_orthanc_up gauge\n' +
        `t3_follower_orthanc_up ${follower.state === 'orthanc-down' ? 0 : 1}\n`;
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(text);
    } else if (req.url === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (req.url === '/readyz') {
      const orthancDown = following && service.follower.state === 'orthanc-down';
      const ready = status.accepting && status.models.length > 0 && !orthancDown;
      res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ready ? 'ready\n' : orthancDown ? 'orthanc unreachable\n' : 'not accepting work\n');
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

const HELP = `usage: orthanc-t3 serve [options]

Follows Orthanc's change feed and triages every study that becomes stable: SR and metadata written back into the
study. Also serves the gRPC TriageService/AdminService when grpc.listen and grpc.tokens are configured.
Configuration: defaults ← the "T3" section of --config (an Orthanc configuration file or folder) ← environment
(T3_ORTHANC_URL, T3_ORTHANC_USERNAME, T3_ORTHANC_PASSWORD, T3_CHECKPOINT_PATH, T3_BATCH_SIZE, T3_MAX_DELAY_MS,
T3_BATCH_SCOPE, T3_QUEUE_BOUND, T3_POLICY, T3_PIXEL_SOURCE, T3_GRPC_LISTEN, …) ← these options.
SIGTERM or Ctrl-C: stop reading changes, finish the studies in flight, save the checkpoint, exit.

options:
  --config PATH        Orthanc configuration file or folder holding the T3 section (e.g. orthanc-config/)
  --orthanc-url URL    Orthanc REST base URL (overrides T3.orthanc.url)
  --checkpoint FILE    change-feed checkpoint file (overrides T3.follower.checkpointPath)
  --grpc-listen ADDR   host:port of the gRPC server, "" to disable (overrides T3.grpc.listen)
  --metrics-listen A   host:port of /metrics, /livez, /readyz, "" to disable (overrides T3.metrics.listen)
  --no-follow          do not follow the change feed (gRPC requests only)
  --print-config       print the effective configuration (secrets shown as ***) and exit
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
    const args = parseArgs(argv, { values: ['config', 'orthanc-url', 'checkpoint', 'grpc-listen', 'metrics-listen'], flags: ['help', 'no-follow', 'print-config'] });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}" (orthanc-t3 serve --help)`);
    let config: SidecarConfig;
    try {
      config = loadSidecarConfig({ configPath: optionString(args, 'config'), env: process.env, overrides: cliOverrides(args) }).config;
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(`configuration: ${err.message}`);
      throw err;
    }
    if (args.options.has('print-config')) {
      io.stdout.write(JSON.stringify(redactSecrets(config), null, 2) + '\n');
      return ExitCode.ok;
    }
    const log = jsonLog(io.stderr);
    const runtime = await startServeRuntime(config, { log, follow: !args.options.has('no-follow') });
    log('serving', { orthanc: config.orthanc.url, checkpoint: config.follower.checkpointPath, bundles: config.bundles.map((b) => b.name) });
    const signal = await untilSignal();
    log('stopping', { signal });
    await runtime.stop();
    await closeSharedFramePool();
    log('stopped', { checkpoint: runtime.service.follower.position.lowWatermark });
    return ExitCode.ok;
  },
};
