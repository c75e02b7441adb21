import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { providersOption } from './providers-option';
import { optionNumber, optionString, parseArgs } from './parse-args';
import { demoBundleDir, loadBundle, T3Engine } from '../engine';
import { ClassifyCall } from '../pipeline';
import { parsePolicyName, type PolicyName } from '../t3';
import {
  loadT3Protos,
  PipelineBackend,
  POLICY_ENUM,
  startGrpcServer,
  TokenTable,
  type RunningGrpcServer,
} from '../grpc';
import type { ClassifyRequest } from '../grpc/generated/t3/v1/ClassifyRequest';

const HELP = `usage: orthanc-t3 load-test [options]

Runs concurrent Classify clients against a TriageService on loopback for a bounded time (and optionally a bounded
number of requests) and prints one JSON summary: requests/s, latency p50/p95/p99 (ms), error counts by status code,
peak RSS of this process.

options:
  --clients N          concurrent clients, each on its own connection (default 32)
  --duration S         seconds to run (default 60)
  --max-requests N     stop earlier after N requests in total
  --file F             DICOM file sent by every request (repeat with commas; default the package's
                       samples/dicom/pydicom_CT_small.dcm)
  --images N           images per request (the file repeated; default 1)
  --address HOST:PORT  an already running server (loopback only); default: start one in this process with the
                       demo bundle on 127.0.0.1 and a random token
  --token T            bearer token for --address
  --policy NAME        policy sent with each request (default t3b)
  --providers LIST     execution providers for the in-process server, e.g. cpu (default cuda,webgpu,cpu)
`;

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export interface LoadTestOptions {
  address: string;
  token: string;
  clients: number;
  durationMs: number;
  maxRequests: number | null;
  images: { name: string; dicom: Buffer }[];
  policy: PolicyName;
}

export interface LoadTestSummary {
  clients: number;
  durationS: number;
  requests: number;
  ok: number;
  requestsPerSecond: number;
  imagesPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  errorsByCode: Record<string, number>;
  peakRssMiB: number;
  serverInProcess: boolean;
}

/** Drives `clients` closed-loop clients (each sends its next request when the previous one answered). */
export async function runLoad(options: LoadTestOptions): Promise<Omit<LoadTestSummary, 'peakRssMiB' | 'serverInProcess'>> {
  const { triageService } = loadT3Protos();
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${options.token}`);
  const request: ClassifyRequest = { images: options.images, policy: POLICY_ENUM[options.policy] };
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let sent = 0;
  const started = performance.now();
  const stopAt = started + options.durationMs;
  const more = () => performance.now() < stopAt && (options.maxRequests === null || sent < options.maxRequests);
  const clients = Array.from({ length: options.clients }, () =>
    // A local subchannel pool gives every client its own connection, as separate middleware processes would have.
    new triageService(options.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  await Promise.all(clients.map(async (client) => {
    while (more()) {
      sent++;
      const t0 = performance.now();
      const code = await new Promise<grpc.status>((resolve) => {
        client.Classify(request, metadata, { deadline: Date.now() + 120000 }, (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK));
      });
      if (code === grpc.status.OK) latencies.push(performance.now() - t0);
      else errors[grpc.status[code]] = (errors[grpc.status[code]] ?? 0) + 1;
    }
  }));
  const elapsedS = (performance.now() - started) / 1000;
  for (const client of clients) client.close();
  latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    clients: options.clients,
    durationS: round(elapsedS),
    requests: sent,
    ok: latencies.length,
    requestsPerSecond: round(latencies.length / elapsedS),
    imagesPerSecond: round((latencies.length * options.images.length) / elapsedS),
    latencyMs: {
      p50: round(percentile(latencies, 50)),
      p95: round(percentile(latencies, 95)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies[latencies.length - 1] ?? Number.NaN),
    },
    errorsByCode: errors,
  };
}

export const loadTestCommand: CliCommand = {
  name: 'load-test',
  summary: 'concurrent Classify clients against a TriageService on loopback (req/s, latency, errors, RSS)',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, {
      values: ['clients', 'duration', 'max-requests', 'file', 'images', 'address', 'token', 'policy', 'providers'],
      flags: ['help'],
    });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    const clients = optionNumber(args, 'clients', (n) => Number.isInteger(n) && n >= 1 && n <= 1024, 'an integer in [1, 1024]') ?? 32;
    const durationS = optionNumber(args, 'duration', (n) => n > 0 && n <= 3600, 'seconds in (0, 3600]') ?? 60;
    const maxRequests = optionNumber(args, 'max-requests', (n) => Number.isInteger(n) && n >= 1, 'a positive integer') ?? null;
    const imagesPerRequest = optionNumber(args, 'images', (n) => Number.isInteger(n) && n >= 1 && n <= 256, 'an integer in [1, 256]') ?? 1;
    const policy = parsePolicyName(optionString(args, 'policy') ?? 't3b');
    // The package's own sample, found from this file (src/cli or dist/cli), not from the working directory.
    const repoRoot = path.resolve(__dirname, '..', '..');
    const files = (optionString(args, 'file') ?? path.join(repoRoot, 'samples', 'dicom', 'pydicom_CT_small.dcm')).split(',');
    const loaded = await Promise.all(files.map(async (f) => ({ name: path.basename(f), dicom: await readFile(f) })));
    const images = Array.from({ length: imagesPerRequest }, (_, i) => loaded[i % loaded.length]);

    let address = optionString(args, 'address');
    let token = optionString(args, 'token');
    let server: RunningGrpcServer | null = null;
    let engine: T3Engine | null = null;
    if (address) {
      const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      if (!['127.0.0.1', '::1', 'localhost'].includes(host)) throw new UsageError('--address must be a loopback address: the load test never leaves this machine');
      if (!token) throw new UsageError('--address needs --token');
    } else {
      const opened = await T3Engine.open(await loadBundle(demoBundleDir()), { executionProviders: providersOption(args) });
      engine = opened;
      token = randomBytes(24).toString('hex');
      const classifier = new ClassifyCall({
        engines: () => new Map([[opened.bundle.manifest.name, opened]]),
        settings: () => ({ batchSize: 32, defaultPolicy: 't3b', defaultWiseAlpha: 0.5, defaultFrames: 'middle', triage: { rules: [], disagreement: {} } }),
      });
      server = await startGrpcServer({
        listen: '127.0.0.1:0',
        security: { kind: 'plaintext' },
        tokens: new TokenTable([{ token, roles: ['triage'] }]),
        backend: new PipelineBackend({ classifier, studies: null, version: 'load-test' }),
      });
      address = `127.0.0.1:${server.port}`;
    }
    try {
      io.stderr.write(`load test: ${clients} clients, ${durationS} s, ${images.length} image(s)/request on ${address}\n`);
      const result = await runLoad({ address, token, clients, durationMs: durationS * 1000, maxRequests, images, policy });
      const summary: LoadTestSummary = {
        ...result,
        // maxRSS is in KiB; it covers the in-process server (engine worker threads included) and the clients.
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        serverInProcess: server !== null,
      };
      io.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      const onlyAllowed = Object.keys(summary.errorsByCode).every((code) => code === 'RESOURCE_EXHAUSTED');
      return onlyAllowed ? ExitCode.ok : ExitCode.partialFailure;
    } finally {
      await server?.close(2000);
      await engine?.close();
    }
  },
};
