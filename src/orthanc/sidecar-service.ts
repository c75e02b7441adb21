import os from 'node:os';
import type { Registry } from 'prom-client';
import { Sidecar, type PipelineConfig, type SidecarLog } from '../pipeline';
import { ChangeFollower, type FollowerOptions } from './change-follower';
import { CheckpointStore } from './checkpoint-store';
import { DriftMonitor } from './drift-monitor';
import { registerDriftMetrics } from './drift-metrics';
import { recordDriftFromFeed } from './drift-recorder';
import { OrthancClient, type OrthancConnection } from './orthanc-client';
import { registerFollowerMetrics, registerSharedModeMetrics } from './orthanc-metrics';
import { OrthancStudyStore } from './orthanc-study-store';
import { QuietStudyWatcher } from './quiet-study-watcher';
import { ClaimsUnsupportedError, StudyClaims } from './study-claims';

/** What the Orthanc side of the sidecar needs from the configuration (config/'s SidecarConfig has this shape). */
export interface OrthancSidecarConfig extends PipelineConfig {
  orthanc: OrthancConnection;
  follower: FollowerOptions & { checkpointPath: string };
  coordination: { mode: 'single' | 'shared'; workerId: string; quietMs: number; leaseMs: number };
}

export interface OrthancSidecar<C extends OrthancSidecarConfig> {
  sidecar: Sidecar<C>;
  follower: ChangeFollower;
  client: OrthancClient;
  /** This sidecar's name in claims. */
  workerId: string;
  /** Shared mode: LastUpdate readiness and claims; null in single mode. */
  watcher: QuietStudyWatcher | null;
  /** Per source of images, the finished studies' divergence over time (GetDrift, /metrics, the worklist). */
  drift: DriftMonitor;
  /** SIGTERM path: stop reading changes, finish what was handed over, save the checkpoint, close the engines. */
  stop(): Promise<void>;
}

/** The worker id in claims: the configured one, else `<hostname>-<pid>` (unique per live process). */
export function effectiveWorkerId(configured: string): string {
  return configured !== '' ? configured : `${os.hostname()}-${process.pid}`;
}

/**
 * Shared mode's claims and quiet-study watcher (not started yet). An Orthanc that cannot hold claims stops the sidecar
 * with ClaimsUnsupportedError; one that is not reachable yet is checked again before the first claim.
 */
async function sharedModeWatcher<C extends OrthancSidecarConfig>(
  client: OrthancClient,
  sidecar: Sidecar<C>,
  coordination: C['coordination'],
  workerId: string,
  log: SidecarLog,
): Promise<QuietStudyWatcher> {
  const claims = new StudyClaims(client, { workerId, leaseMs: coordination.leaseMs, log });
  try {
    await claims.verifySupport();
  } catch (err) {
    if (err instanceof ClaimsUnsupportedError) {
      await sidecar.stop();
      throw err;
    }
  }
  const watcher = new QuietStudyWatcher(client, claims, (id, claim) => sidecar.handleClaimedStudy(id, claim), { quietMs: coordination.quietMs, log });
  registerSharedModeMetrics(sidecar.metrics.registry, watcher);
  return watcher;
}

/**
 * Wires the main job: REST client → study store → Sidecar (engines, batchers) → change-feed follower. The follower
 * starts after the engines are open, and stops before them. Single mode acts on StableStudy; shared mode (several
 * sidecars, one PACS on PostgreSQL) notes every study a change touches and runs it once it is quiet and claimed.
 */
export async function startOrthancSidecar<C extends OrthancSidecarConfig>(options: {
  config: C;
  validateConfig: (raw: unknown) => C;
  mergeConfig: (base: C, partial: unknown) => unknown;
  version: string;
  log?: SidecarLog;
  /** false: only gRPC-requested analyses, no change feed. */
  follow?: boolean;
  /** The process's metrics registry (serve creates it); the Sidecar makes its own when not given. */
  metricsRegistry?: Registry;
}): Promise<OrthancSidecar<C>> {
  const log = options.log ?? (() => undefined);
  const client = new OrthancClient(options.config.orthanc);
  const store = new OrthancStudyStore(client);
  const sidecar = new Sidecar<C>({
    config: options.config, validateConfig: options.validateConfig, mergeConfig: options.mergeConfig, store, version: options.version, log,
    metricsRegistry: options.metricsRegistry,
  });
  const speculating = options.config.speculation.enabled;
  let watcher: QuietStudyWatcher | null = null;
  const follower = new ChangeFollower(client, new CheckpointStore(options.config.follower.checkpointPath), options.config.follower, {
    // Shared mode: "stable" is per Orthanc process, so it is only a hint to look at the study.
    onStableStudy: (id) => (watcher ? watcher.note(id) : sidecar.handleStableStudy(id)),
    ...(options.config.coordination.mode === 'shared' || speculating
      ? {
          onNewInstance: async (id: string) => {
            if (speculating) sidecar.speculate(id);
            if (watcher) await watcher.noteInstance(id);
          },
        }
      : {}),
    isBusy: () => sidecar.isBusy(),
    log,
  });
  registerFollowerMetrics(sidecar.metrics.registry, follower, options.follow !== false);
  const drift = new DriftMonitor();
  const stopDrift = recordDriftFromFeed(sidecar.feed, client, drift, log);
  registerDriftMetrics(sidecar.metrics.registry, drift);
  // Said while the models load: a wrong URL or password shows within a second or two of the start.
  const probed = options.follow !== false ? follower.probe() : Promise.resolve(true);
  try {
    await sidecar.start();
  } finally {
    await probed;
  }
  const coordination = options.config.coordination;
  const workerId = effectiveWorkerId(coordination.workerId);
  if (coordination.mode === 'shared') watcher = await sharedModeWatcher(client, sidecar, coordination, workerId, log);
  if (options.follow !== false) {
    watcher?.start();
    await follower.start();
  }
  if (watcher) log('coordination', { mode: 'shared', workerId, quietMs: coordination.quietMs, leaseMs: coordination.leaseMs });
  let stopping: Promise<void> | null = null;
  return {
    sidecar,
    follower,
    client,
    workerId,
    watcher,
    drift,
    stop() {
      stopping ??= (async () => {
        stopDrift();
        await follower.stop();
        watcher?.stop();
        await sidecar.stop();
        await follower.flush();
      })();
      return stopping;
    },
  };
}
