import type { PipelineConfig, Sidecar } from '../pipeline';
import { EngineClassifier, type ClassifyEngine } from './engine-classifier';
import { PipelineBackend } from './pipeline-backend';
import { startGrpcServer, type GrpcServerOptions, type RunningGrpcServer } from './server';
import { resolveGrpcSettings, type ExtraTokenSources, type GrpcSettings } from './server-settings';
import { sidecarOperations, type FollowerStatusSource } from './sidecar-operations';

export interface SidecarGrpcOptions<C extends PipelineConfig> {
  sidecar: Sidecar<C>;
  /** The configuration's `grpc` section (listen, tls, tokens). */
  grpc: GrpcSettings;
  /** A token file and/or the T3_GRPC_TOKENS value, read by the caller. */
  extraTokens?: ExtraTokenSources;
  /** The engines Classify runs on, by bundle name; default: the Sidecar's own (no second set is loaded). */
  engines?: () => ReadonlyMap<string, ClassifyEngine>;
  /** The change-feed follower's state for GetStatus, when one runs. */
  follower?: FollowerStatusSource;
  limits?: Pick<GrpcServerOptions, 'maxMessageBytes' | 'maxImagesPerCall' | 'classifyConcurrency' | 'classifyQueueLimit' | 'watchBufferLimit'>;
  onInternalError?: GrpcServerOptions['onInternalError'];
}

/**
 * The gRPC server of `orthanc-t3 serve`: TriageService and AdminService over the running Sidecar, with Classify
 * defaults (batch size, policy, frames, triage rules) read from the Sidecar's live configuration on every call.
 */
export async function startSidecarGrpcServer<C extends PipelineConfig>(options: SidecarGrpcOptions<C>): Promise<RunningGrpcServer> {
  const { listen, security, tokens } = await resolveGrpcSettings(options.grpc, options.extraTokens);
  const classifier = new EngineClassifier({
    engines: options.engines ?? (() => options.sidecar.engines()),
    // Classify without a bundle name uses the bundle the routing falls back to (else the first configured).
    defaultBundle: options.sidecar.getConfig().routing.defaultBundle ?? options.sidecar.getConfig().bundles[0]?.name,
    settings: () => {
      const config = options.sidecar.getConfig();
      return {
        batchSize: config.batching.batchSize,
        defaultPolicy: config.inference.policy,
        defaultWiseAlpha: config.inference.wiseAlpha,
        defaultFrames: config.inference.framePolicy,
        decodeConcurrency: config.inference.decodeConcurrency,
        triage: config.triage,
      };
    },
  });
  const studies = sidecarOperations(options.sidecar, {
    queueBound: () => options.sidecar.getConfig().batching.queueBound,
    follower: options.follower,
  });
  return startGrpcServer({
    listen,
    security,
    tokens,
    backend: new PipelineBackend({ classifier, studies, version: options.sidecar.version }),
    onInternalError: options.onInternalError,
    ...options.limits,
  });
}
