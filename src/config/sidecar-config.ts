import type { Static } from '@sinclair/typebox';
import { DEFAULT_MAX_DECODED_IMAGE_BYTES } from '../dicom/decoded-size';
import { DEFAULT_LOG_LEVEL } from '../util/log-levels';
import type {
  BatchingSchema,
  BundleEntrySchema,
  CoordinationSchema,
  DeploymentSchema,
  FollowerSchema,
  GrpcSchema,
  GrpcTlsSchema,
  InferenceSchema,
  LoggingSchema,
  MetricsSchema,
  OrthancConnectionSchema,
  PluginSchema,
  PluginTlsSchema,
  RetrySchema,
  RoutingSchema,
  SpeculationSchema,
  TriageSchema,
  WorklistSchema,
} from './t3-schema';

/**
 * The sidecar's whole configuration as one typed object, as validateSidecarConfig returns it. Every type is the one
 * its schema in t3-schema.ts accepts (Static<…>); where validation fills in a value the file may leave out (an
 * optional path becomes null, a null threshold is dropped) the type says what the rest of the sidecar receives. The
 * names other modules define (policies, triage priorities, execution providers, roles) come into the schema from
 * those modules; the shapes the pipeline reads (routing, triage) are checked assignable where they are handed over.
 */

export type DeploymentConfig = Static<typeof DeploymentSchema>;
export type OrthancConnectionConfig = Static<typeof OrthancConnectionSchema>;
export type FollowerConfig = Static<typeof FollowerSchema>;
export type BundleEntry = Static<typeof BundleEntrySchema>;
/** Routing rules are the pipeline's (pipeline/routing/routing.ts RouteTable); description patterns are RE2 patterns. */
export type RoutingConfig = Static<typeof RoutingSchema>;
export type BatchingConfig = Static<typeof BatchingSchema>;
export type InferenceConfig = Static<typeof InferenceSchema>;
/** A threshold left out or null in the file is absent here. */
export type TriageSetting = Omit<Static<typeof TriageSchema>, 'disagreement'> & {
  disagreement: { jsThreshold?: number; lambdaDistanceThreshold?: number };
};
export type RetryConfig = Static<typeof RetrySchema>;
/** clientCaFile may be left out of the file; it is null here then. */
export type GrpcTlsConfig = Omit<Static<typeof GrpcTlsSchema>, 'clientCaFile'> & { clientCaFile: string | null };
/** The gRPC layer owns the meaning of these fields; config only checks their shape. */
export type GrpcConfig = Omit<Static<typeof GrpcSchema>, 'tls'> & { tls: GrpcTlsConfig | null };
/** Each path may be left out of the file; it is null here then. */
export type PluginTlsConfig = { [K in keyof Static<typeof PluginTlsSchema>]-?: string | null };
/** Read by the Orthanc plugin (orthanc-config/plugin/t3_sidecar_channel.py); optional paths are null here when left out. */
export type PluginConfig = Omit<Static<typeof PluginSchema>, 'tokenFile' | 'tls' | 'auditFile'> & {
  tokenFile: string | null;
  tls: PluginTlsConfig | null;
  auditFile: string | null;
};
export type WorklistConfig = Static<typeof WorklistSchema>;
export type MetricsConfig = Static<typeof MetricsSchema>;
export type SpeculationConfig = Static<typeof SpeculationSchema>;
export type CoordinationConfig = Static<typeof CoordinationSchema>;
export type LoggingConfig = Static<typeof LoggingSchema>;

export interface SidecarConfig {
  deployment: DeploymentConfig;
  orthanc: OrthancConnectionConfig;
  follower: FollowerConfig;
  bundles: BundleEntry[];
  routing: RoutingConfig;
  batching: BatchingConfig;
  inference: InferenceConfig;
  triage: TriageSetting;
  retry: RetryConfig;
  grpc: GrpcConfig;
  plugin: PluginConfig;
  worklist: WorklistConfig;
  metrics: MetricsConfig;
  speculation: SpeculationConfig;
  coordination: CoordinationConfig;
  logging: LoggingConfig;
}

export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends (infer U)[] ? U[] : T[K] extends object | null ? DeepPartial<NonNullable<T[K]>> | null : T[K];
};

/** Where the change-feed checkpoint is kept when nothing else is configured. */
export const DEFAULT_CHECKPOINT_PATH = 'state/t3-checkpoint.json';

/** Defaults: a local Orthanc on its standard port and the demo bundle for every image. */
export function defaultSidecarConfig(): SidecarConfig {
  return {
    // The built-in defaults run the demo (no configuration file); orthanc-config/t3.json, the template for a real
    // installation, says production.
    deployment: { production: false, allowDemonstrationModels: false },
    orthanc: { url: 'http://127.0.0.1:8042', username: null, password: null, timeoutMs: 30000 },
    // Relative to the working directory, inside state/ (git-ignored), so a run from a clone leaves nothing git sees.
    // Not beside the configuration: that folder is often read-only (/etc/orthanc, a Kubernetes ConfigMap).
    follower: { checkpointPath: DEFAULT_CHECKPOINT_PATH, pollIntervalMs: 500, changesLimit: 100, maxBackoffMs: 10000, problemRepeatMs: 30000 },
    bundles: [{ name: 'demo', dir: 'demo' }],
    routing: { rules: [], defaultBundle: 'demo' },
    batching: { batchSize: 32, maxDelayMs: 200, scope: 'study', queueBound: 512, coefficientSample: 0 },
    inference: {
      policy: 't3b',
      wiseAlpha: 0.5,
      framePolicy: 'middle',
      pixelSource: 'local',
      onBadImage: 'skip',
      executionProviders: ['cuda', 'cpu'],
      decodeConcurrency: 2,
      fixedPassSessions: 'auto',
      intraOpThreads: 'auto',
      maxDecodedImageBytes: DEFAULT_MAX_DECODED_IMAGE_BYTES,
    },
    triage: {
      // SNOMED CT codes from docs/SR.md; thresholds are probabilities in [0,1].
      rules: [
        { code: '36118008', threshold: 0.5, priority: 'emergency' }, // pneumothorax
        { code: '19242006', threshold: 0.5, priority: 'urgent' }, // pulmonary edema
        { code: '60046008', threshold: 0.6, priority: 'urgent' }, // pleural effusion
      ],
      disagreement: { jsThreshold: 0.3 },
    },
    retry: { maxAttempts: 3, initialDelayMs: 1000, maxDelayMs: 30000 },
    grpc: { listen: '127.0.0.1:50051', tls: null, tokens: [] },
    plugin: { sidecarAddress: '127.0.0.1:50051', token: null, tokenFile: null, deadlineSeconds: 5, tls: null, auditFile: null },
    worklist: { administrators: null, maxWaitSeconds: 600 },
    metrics: { listen: '' },
    speculation: { enabled: false, cacheMegabytes: 256, queueBound: 512 },
    coordination: { mode: 'single', workerId: '', quietMs: 3000, leaseMs: 30000 },
    logging: { level: DEFAULT_LOG_LEVEL },
  };
}
