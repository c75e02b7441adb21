/**
 * Orthanc 1.10.1 with the shipped configuration folder and plugin, and the sidecar as `serve` runs it, wired together
 * on loopback: gRPC in plaintext (the plugin allows it towards a loopback address), the plugin's token in a token
 * file, the login an administrator of the plugin's routes. The sidecar starts first (its gRPC port is bound on port 0).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadSidecarConfig, type SidecarConfig } from '../../src/config';
import { startServeRuntime, type ServeRuntime } from '../../src/cli/serve';
import { freePort, repoRoot, startOrthanc, type OrthancServer } from '../helpers/orthanc-server';
import { makeTempDir } from './harness';

export interface PluginPair {
  orthanc: OrthancServer;
  runtime: ServeRuntime;
  config: SidecarConfig;
  /** A temp folder of the test's own (removed by removeTempDirs). */
  work: string;
  logs: { event: string; fields: Record<string, unknown> }[];
}

export async function startPluginPair(options: {
  credentials: { username: string; password: string };
  token: string;
  /** Sidecar settings on top of the pair's (e.g. retry, inference). */
  sidecar?: Record<string, unknown>;
  /** Top-level Orthanc keys on top of the pair's (e.g. LuaScripts); `T3` is merged into the plugin's section. */
  orthanc?: (work: string) => Record<string, unknown>;
}): Promise<PluginPair> {
  const gen = spawnSync(path.join(repoRoot, 'orthanc-config', 'generate-stubs.sh'), [], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`generate-stubs.sh failed: ${gen.stderr}`);
  const work = makeTempDir('t3-pair-');
  fs.writeFileSync(path.join(work, 'plugin-token'), options.token + '\n');
  const httpPort = await freePort();
  const { username, password } = options.credentials;
  const config = loadSidecarConfig({
    overrides: {
      orthanc: { url: `http://127.0.0.1:${httpPort}`, username, password, timeoutMs: 5000 },
      follower: { checkpointPath: path.join(work, 'checkpoint.json'), pollIntervalMs: 150, maxBackoffMs: 500 },
      inference: { executionProviders: ['cpu'] },
      grpc: { listen: '127.0.0.1:0', tokens: [{ token: options.token, roles: ['admin', 'triage'] }] },
      metrics: { listen: '127.0.0.1:0' },
      ...(options.sidecar ?? {}),
    },
  }).config;
  const logs: PluginPair['logs'] = [];
  const runtime = await startServeRuntime(config, { log: (event, fields) => logs.push({ event, fields }) });
  const { T3: t3, ...extra } = options.orthanc?.(work) ?? {};
  const orthanc = await startOrthanc({
    configDir: path.join(repoRoot, 'orthanc-config'),
    httpPort,
    stableAge: 1,
    credentials: options.credentials,
    overrides: {
      ...extra,
      T3: {
        plugin: { sidecarAddress: `127.0.0.1:${runtime.grpc!.port}`, tokenFile: path.join(work, 'plugin-token'), deadlineSeconds: 10 },
        // The test's login changes rules and re-runs studies: an administrator.
        worklist: { administrators: [username] },
        ...((t3 as Record<string, unknown> | undefined) ?? {}),
      },
    },
  });
  return { orthanc, runtime, config, work, logs };
}
