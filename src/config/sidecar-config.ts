import type { PolicyName } from '../t3/policy';
import type { TriagePriority } from '../report/triage';
import type { RouteRule, RouteTable } from '../pipeline/routing';
import { DEFAULT_MAX_DECODED_IMAGE_BYTES } from '../dicom/decoded-size';

/**
 * The sidecar's whole configuration as one typed object. The names other modules define (policies in t3/, triage
 * priorities in report/) are imported from those pure modules, never restated; the shapes that the pipeline reads
 * (TriageConfig and others) are declared here and TypeScript checks they stay assignable where they are handed over.
 */

export type BatchScope = 'study' | 'stream';
export type PixelSource = 'local' | 'orthanc';
export type BadImageHandling = 'skip' | 'fail-study';
export type ExecutionProviderSetting = 'cuda' | 'webgpu' | 'cpu';

export interface OrthancConnectionConfig {
  /** Base URL of Orthanc's REST API, e.g. http://127.0.0.1:8042 */
  url: string;
  username: string | null;
  password: string | null;
  /** Per-request timeout. */
  timeoutMs: number;
}

export interface FollowerConfig {
  /** Where the change-feed checkpoint is saved (written to a temp file then renamed). */
  checkpointPath: string;
  pollIntervalMs: number;
  /** `limit` of each GET /changes. */
  changesLimit: number;
  /** Backoff ceiling while Orthanc is unreachable. */
  maxBackoffMs: number;
  /** While Orthanc stays unusable (down, wrong password, wrong URL), the warning is logged again this often (≤ 60 s). */
  problemRepeatMs: number;
}

export interface BundleEntry {
  /** Name routing rules refer to. */
  name: string;
  /** Bundle folder; the word `demo` means the repository's demo bundle. */
  dir: string;
}

/**
 * Routing rules are the pipeline's (pipeline/routing.ts): every present field must match; description patterns are
 * RE2 patterns (pipeline/route-pattern.ts: linear-time, no backreferences or lookaround).
 */
export type RoutingRule = RouteRule;
/** Bundle for images no rule matches in `defaultBundle`; null skips them. */
export type RoutingConfig = RouteTable;

export interface BatchingConfig {
  batchSize: number;
  maxDelayMs: number;
  scope: BatchScope;
  /** Most images waiting per bundle before the follower pauses and gRPC answers RESOURCE_EXHAUSTED. */
  queueBound: number;
  /**
   * T3B with λ_B from a sample: the generalist and expert passes run on this many images of each batch, spread
   * across its series, and the merged pass on all of them (passes per image 1 + 2k/B instead of 3). The sample is
   * recorded in results and SRs. 0 (default): every image, the paper's T3B.
   */
  coefficientSample: number;
}

export interface TriageRuleSetting {
  code: string;
  threshold: number;
  priority: TriagePriority;
}

export interface TriageSetting {
  rules: TriageRuleSetting[];
  disagreement: { jsThreshold?: number; lambdaDistanceThreshold?: number };
}

export interface RetryConfig {
  /** Attempts before a job is parked. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface InferenceConfig {
  policy: PolicyName;
  wiseAlpha: number;
  /** 'first' | 'middle' | 'all' or a 0-based frame index. */
  framePolicy: 'first' | 'middle' | 'all' | number;
  pixelSource: PixelSource;
  onBadImage: BadImageHandling;
  executionProviders: ExecutionProviderSetting[];
  /** Studies decoded concurrently while batches run. */
  decodeConcurrency: number;
  /**
   * Sessions of the fixed passes (λ=0, λ=1): `plain` (one per model, pre-packed weights, full speed, two more
   * sessions' memory), `merged` (the merged graph serves them: one session) or `auto` (plain when free memory
   * allows). Read when bundles are (re)loaded.
   */
  fixedPassSessions: 'auto' | 'plain' | 'merged';
  /**
   * ONNX Runtime intra-op threads per session: `auto` (the CPUs this process may use, engine/intra-op-threads.ts) or a
   * count, e.g. to leave cores to Orthanc on a shared host. Read when bundles are (re)loaded.
   */
  intraOpThreads: 'auto' | number;
  /**
   * Largest decoded size, in bytes, an image may declare for the frames the frame policy uses (rows × columns ×
   * samples per pixel × bytes per sample × frames). A larger one fails as `image-too-large` before any decoding, so a
   * small file declaring a huge picture cannot take the sidecar's memory or a decoder's time.
   */
  maxDecodedImageBytes: number;
}

export interface GrpcTlsConfig {
  certFile: string;
  keyFile: string;
  /** CA that client certificates must chain to; set it to require mTLS. */
  clientCaFile: string | null;
}

/** A bearer token and what it may call: `role` (one) or `roles` (several): "triage", "admin". */
export interface GrpcTokenConfig {
  token: string;
  role?: string;
  roles?: string[];
}

/** The gRPC layer owns the meaning of these fields; config only checks their shape. */
export interface GrpcConfig {
  /** host:port; port 0 picks a free port. Empty string disables the server. */
  listen: string;
  tls: GrpcTlsConfig | null;
  tokens: GrpcTokenConfig[];
}

/** How the plugin reaches a sidecar that serves TLS: the CA to trust and, for mutual TLS, its own certificate. */
export interface PluginTlsConfig {
  /** CA bundle (PEM) the sidecar's certificate must chain to. */
  caFile: string | null;
  /** Client certificate chain and key (PEM) for mutual TLS; both or neither. */
  certFile: string | null;
  keyFile: string | null;
  /** The name to check the sidecar's certificate against when it differs from the address's host. */
  serverName: string | null;
}

/**
 * Read by the Orthanc plugin (it runs inside Orthanc and calls the sidecar's AdminService); orthanc-config/plugin/
 * t3_sidecar_channel.py uses these. Relative paths are taken against the plugin's folder.
 */
export interface PluginConfig {
  /** host:port of the sidecar's gRPC server as the plugin reaches it. */
  sidecarAddress: string;
  /** Bearer token the plugin sends, or null (prefer tokenFile: it keeps the token out of Orthanc's configuration). */
  token: string | null;
  /** File holding the bearer token, read on every call (a rotated file applies at once). */
  tokenFile: string | null;
  deadlineSeconds: number;
  /** null: plaintext, which the plugin uses only towards a loopback address. */
  tls: PluginTlsConfig | null;
  /** The plugin's audit trail (JSON lines); null: t3-audit.jsonl in Orthanc's StorageDirectory. */
  auditFile: string | null;
}

/** Read by the Orthanc plugin's triage worklist (orthanc-config/plugin/t3_worklist.py). */
export interface WorklistConfig {
  /**
   * Orthanc user names (RegisteredUsers) allowed to re-run a study from the worklist; null: every user Orthanc lets in
   * (Orthanc 1.10.1's own authentication has no roles).
   */
  administrators: string[] | null;
  /**
   * The worklist warns (a banner) when a study not yet triaged has waited longer than this since it arrived: the AI
   * is behind or down, and the radiologists must not take its silence for "routine".
   */
  maxWaitSeconds: number;
}

export interface MetricsConfig {
  /** host:port of the HTTP server with /metrics (Prometheus), /livez and /readyz; "" disables it. */
  listen: string;
}

/**
 * Speculative fixed-weight passes: the generalist (λ=0) and expert (λ=1) passes run as instances arrive, so only λ_B
 * and the merged pass remain when the study is ready. Off by default.
 */
export interface SpeculationConfig {
  enabled: boolean;
  /** Memory bound of the per-instance cache (tensors and both passes' logits), in MiB. */
  cacheMegabytes: number;
  /** Most instances waiting for a speculative pass; beyond it new arrivals are not speculated (they run at readiness). */
  queueBound: number;
}

export type CoordinationMode = 'single' | 'shared';

/**
 * How work is shared. `single` (default): one sidecar, StableStudy events, SQLite is fine. `shared`: several sidecars
 * on Orthancs sharing a PostgreSQL index; readiness from the study's LastUpdate quiet time and a claim (study metadata
 * with revisions, Orthanc `CheckRevisions: true`) per study.
 */
export interface CoordinationConfig {
  mode: CoordinationMode;
  /** This sidecar's name in claims; "" = <hostname>-<pid>. */
  workerId: string;
  /** A study is ready when its LastUpdate is at least this old. */
  quietMs: number;
  /** How long a claim holds without renewal; renewed every third of it. Must exceed clock skew between hosts. */
  leaseMs: number;
}

/**
 * What the configuration is for. A production configuration refuses a bundle that declares itself a demonstration
 * model (bundle.json `demonstration: true`) unless `allowDemonstrationModels` says so explicitly.
 */
export interface DeploymentConfig {
  production: boolean;
  allowDemonstrationModels: boolean;
}

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
  };
}
