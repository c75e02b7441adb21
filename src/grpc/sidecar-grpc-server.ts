import { ClassifyCall, type PipelineConfig, type Sidecar } from '../pipeline';
import { PipelineBackend } from './pipeline-backend';
import { startGrpcServer, type GrpcServerOptions, type RunningGrpcServer } from './server';
import { LiveTokenTable, type TokenAudit } from './live-token-table';
import { resolveGrpcSettings, type ExtraTokenSources, type GrpcSettings } from './server-settings';
import { sidecarOperations, type FollowerStatusSource, type SidecarOperationsOptions } from './sidecar-operations';
import type { TokenEntry } from './token-table';

/** A configuration the gRPC server can take its live token list from (`grpc.tokens`). */
export type ConfigWithTokens = PipelineConfig & { grpc?: { tokens: TokenEntry[] } };

export interface SidecarGrpcOptions<C extends ConfigWithTokens> {
  sidecar: Sidecar<C>;
  /** The configuration's `grpc` section (listen, tls, tokens). */
  grpc: GrpcSettings;
  /** A token file and/or the T3_GRPC_TOKENS value, read by the caller. */
  extraTokens?: ExtraTokenSources;
  /** The change-feed follower's state for GetStatus, when one runs. */
  follower?: FollowerStatusSource;
  limits?: Pick<GrpcServerOptions, 'maxMessageBytes' | 'maxImagesPerCall' | 'classifyConcurrency' | 'classifyQueueLimit' | 'watchBufferLimit'>;
  onInternalError?: GrpcServerOptions['onInternalError'];
  /** Where token changes are audited (token ids only). */
  audit?: TokenAudit;
  /** Where each configuration value comes from and the live changes kept, for GetConfig. */
  configSources?: () => unknown;
  /** ExportFeedback and GetDrift, when the Orthanc side supplies them. */
  exportFeedback?: SidecarOperationsOptions['exportFeedback'];
  drift?: SidecarOperationsOptions['drift'];
}

/**
 * The gRPC server of `orthanc-t3 serve`, and the one the tests start: TriageService and AdminService over the running
 * Sidecar and its engines (no second set is loaded), with Classify defaults (batch size, policy, frames, triage
 * rules) read from the Sidecar's live configuration on every call. TLS files and token sources are read here, and
 * their errors name the setting.
 */
export async function startSidecarGrpcServer<C extends ConfigWithTokens>(options: SidecarGrpcOptions<C>): Promise<RunningGrpcServer> {
  const { listen, security, hostTokens } = await resolveGrpcSettings(options.grpc, options.extraTokens);
  const sidecar = options.sidecar;
  // `grpc.tokens` is a live setting: an UpdateConfig that changes it swaps the table before its answer is sent.
  const tokens = new LiveTokenTable(hostTokens, options.grpc.tokens, options.audit ?? (() => undefined));
  sidecar.addConfigParticipant({
    prepare: (next, current) => (next.grpc && JSON.stringify(next.grpc.tokens) !== JSON.stringify(current.grpc?.tokens)
      ? tokens.prepare(next.grpc.tokens)
      : () => undefined),
  });
  const classifier = new ClassifyCall({
    engines: () => sidecar.engines(),
    // Classify without a bundle name uses the bundle the routing falls back to (else the first configured).
    defaultBundle: sidecar.getConfig().routing.defaultBundle ?? sidecar.getConfig().bundles[0]?.name,
    // Classify's images count with the Sidecar's own (GetStatus images_total, /metrics), under the configured name.
    onClassified: (bundle, outcomes) => sidecar.recordClassifyCall(bundle, outcomes),
    settings: () => {
      const config = sidecar.getConfig();
      return {
        batchSize: config.batching.batchSize,
        defaultPolicy: config.inference.policy,
        defaultWiseAlpha: config.inference.wiseAlpha,
        defaultFrames: config.inference.framePolicy,
        maxDecodedImageBytes: config.inference.maxDecodedImageBytes,
        decodeConcurrency: config.inference.decodeConcurrency,
        coefficientSample: config.batching.coefficientSample,
        triage: config.triage,
      };
    },
  });
  const studies = sidecarOperations(sidecar, {
    queueBound: () => sidecar.getConfig().batching.queueBound,
    follower: options.follower,
    ...(options.configSources ? { configSources: options.configSources } : {}),
    ...(options.exportFeedback ? { exportFeedback: options.exportFeedback } : {}),
    ...(options.drift ? { drift: options.drift } : {}),
  });
  return startGrpcServer({
    listen,
    security,
    tokens: () => tokens.table,
    backend: new PipelineBackend({ classifier, studies, version: sidecar.version }),
    onInternalError: options.onInternalError,
    ...options.limits,
  });
}
