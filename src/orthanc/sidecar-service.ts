import { Sidecar, type PipelineConfig, type SidecarLog } from '../pipeline';
import { ChangeFollower, type FollowerOptions } from './change-follower';
import { CheckpointStore } from './checkpoint-store';
import { OrthancClient, type OrthancConnection } from './orthanc-client';
import { OrthancStudyStore } from './orthanc-study-store';

/** What the Orthanc side of the sidecar needs from the configuration (config/'s SidecarConfig has this shape). */
export interface OrthancSidecarConfig extends PipelineConfig {
  orthanc: OrthancConnection;
  follower: FollowerOptions & { checkpointPath: string };
}

export interface OrthancSidecar<C extends OrthancSidecarConfig> {
  sidecar: Sidecar<C>;
  follower: ChangeFollower;
  client: OrthancClient;
  /** SIGTERM path: stop reading changes, finish what was handed over, save the checkpoint, close the engines. */
  stop(): Promise<void>;
}

/**
 * Wires the main job: REST client → study store → Sidecar (engines, batchers) → change-feed follower. The follower
 * starts after the engines are open, and stops before them.
 */
export async function startOrthancSidecar<C extends OrthancSidecarConfig>(options: {
  config: C;
  validateConfig: (raw: unknown) => C;
  version: string;
  log?: SidecarLog;
  /** false: only gRPC-requested analyses, no change feed. */
  follow?: boolean;
}): Promise<OrthancSidecar<C>> {
  const log = options.log ?? (() => undefined);
  const client = new OrthancClient(options.config.orthanc);
  const store = new OrthancStudyStore(client);
  const sidecar = new Sidecar<C>({ config: options.config, validateConfig: options.validateConfig, store, version: options.version, log });
  await sidecar.start();
  const follower = new ChangeFollower(client, new CheckpointStore(options.config.follower.checkpointPath), options.config.follower, {
    onStableStudy: (id) => sidecar.handleStableStudy(id),
    isBusy: () => sidecar.isBusy(),
    log,
  });
  if (options.follow !== false) await follower.start();
  let stopping: Promise<void> | null = null;
  return {
    sidecar,
    follower,
    client,
    stop() {
      stopping ??= (async () => {
        await follower.stop();
        await sidecar.stop();
        await follower.flush();
      })();
      return stopping;
    },
  };
}
