/**
 * The one schema of the `T3` section (t3.json): the TypeScript types (sidecar-config.ts), the checks
 * (validate-config.ts) and the JSON Schema published for administrators' editors (schemas/t3.schema.json, written by
 * `npx tsx scripts/generate-schemas.ts`) all come from here.
 *
 * Why TypeBox + Ajv (and not zod): a TypeBox schema *is* a JSON Schema object, so the file we publish is byte for byte
 * the schema the sidecar checks with; no converter sits between them whose output could drift (zod needs
 * zod-to-json-schema or its own converter, and refinements written in code do not convert at all). Ajv reports every
 * failure with its JSON pointer and the failed keyword's parameters, from which schema-errors.ts writes the messages
 * administrators already know (`T3.batching.batchSize: must be between 1 and 1024, got 0`).
 *
 * The schema holds what one value can be checked for alone (type, range, allowed words, pattern, unknown keys).
 * Rules that span several values (queueBound ≥ batchSize, username with password, routing rules naming configured
 * bundles) and checks that need code (URL parsing, RE2 pattern compilation) stay in validate-config.ts. Defaults stay
 * in defaultSidecarConfig() (merged in before validation); the published schema shows them as `default` annotations.
 * Names other modules own are imported, never restated.
 */
import { Type } from '@sinclair/typebox';
import { POLICY_NAMES } from '../t3/policy';
import { TRIAGE_PRIORITIES } from '../report/triage';
import { FIXED_PASS_SESSIONS_SETTINGS } from '../engine/fixed-pass-sessions';
import { EXECUTION_PROVIDER_NAMES } from '../engine/execution-providers';
import { MAX_PROBLEM_REPEAT_MS } from '../orthanc/problem-reporter';
import { ROLE_NAMES } from '../grpc/backend';
import { LOG_LEVELS } from '../util/log-levels';
import { closedObject, integerIn, nonEmptyArray, nonEmptyString, nullable, numberIn, patternString, stringEnum } from '../util/schema-kit';

/** host:port (IPv6 in brackets), or "" to disable the server. */
const LISTEN_PATTERN = '^$|^(\\[[0-9a-fA-F:]+\\]|[^:\\s]+):\\d{1,5}$';
const listenAddress = (description: string) => patternString(LISTEN_PATTERN, 'must be host:port (or "" to disable)', { description });

export const DeploymentSchema = closedObject({
  production: Type.Boolean({ description: 'A production configuration refuses a bundle that declares itself a demonstration model.' }),
  allowDemonstrationModels: Type.Boolean({ description: 'Lets a production configuration use a demonstration model anyway.' }),
}, { description: 'What the configuration is for.' });

export const OrthancConnectionSchema = closedObject({
  url: nonEmptyString({ description: "Base URL of Orthanc's REST API, e.g. http://127.0.0.1:8042 (http or https, no credentials in it)." }),
  username: nullable(Type.String()),
  password: nullable(Type.String()),
  timeoutMs: integerIn(100, 600000, { description: 'Per-request timeout.' }),
});

export const FollowerSchema = closedObject({
  checkpointPath: nonEmptyString({ description: 'Where the change-feed checkpoint is saved (relative: against the configuration file).' }),
  pollIntervalMs: integerIn(10, 600000),
  changesLimit: integerIn(1, 4000, { description: '`limit` of each GET /changes.' }),
  maxBackoffMs: integerIn(10, 3600000, { description: 'Backoff ceiling while Orthanc is unreachable.' }),
  problemRepeatMs: integerIn(1000, MAX_PROBLEM_REPEAT_MS, { description: 'While Orthanc stays unusable, the warning is logged again this often.' }),
});

export const BundleEntrySchema = closedObject({
  name: nonEmptyString({ description: 'Name routing rules refer to.' }),
  dir: nonEmptyString({ description: 'Bundle folder; the word `demo` means the repository\'s demo bundle.' }),
});

const nonEmptyStrings = () => Type.Array(nonEmptyString());

export const RoutingRuleSchema = closedObject({
  bundle: nonEmptyString(),
  modality: Type.Optional(nonEmptyStrings()),
  sopClassUid: Type.Optional(nonEmptyStrings()),
  bodyPartExamined: Type.Optional(nonEmptyStrings()),
  studyDescription: Type.Optional(Type.String({ description: 'RE2 pattern: linear-time, no backreferences or lookaround.' })),
  seriesDescription: Type.Optional(Type.String({ description: 'RE2 pattern: linear-time, no backreferences or lookaround.' })),
  callingAet: Type.Optional(nonEmptyStrings()),
}, { description: 'Every present field must match; lists are compared case-insensitively.' });

export const RoutingSchema = closedObject({
  rules: Type.Array(RoutingRuleSchema),
  defaultBundle: nullable(Type.String({ description: 'Bundle for images no rule matches; null skips them.' })),
});

export const BatchingSchema = closedObject({
  batchSize: integerIn(1, 1024),
  maxDelayMs: integerIn(0, 600000),
  scope: stringEnum(['study', 'stream'] as const),
  queueBound: integerIn(1, 1000000, { description: 'Most images waiting per bundle before the follower pauses (at least batchSize).' }),
  // A sample as large as the batch is the paper's T3B; larger is allowed (it is capped by each batch's size).
  coefficientSample: integerIn(0, 1024, { description: 'T3B λ_B from this many images per batch; 0: every image.' }),
});

export const InferenceSchema = closedObject({
  policy: stringEnum(POLICY_NAMES),
  wiseAlpha: numberIn(0, 1),
  framePolicy: Type.Union([stringEnum(['first', 'middle', 'all'] as const), integerIn(0, 100000)], { description: "'first' | 'middle' | 'all' or a 0-based frame index." }),
  pixelSource: stringEnum(['local', 'orthanc'] as const),
  onBadImage: stringEnum(['skip', 'fail-study'] as const),
  executionProviders: nonEmptyArray(stringEnum(EXECUTION_PROVIDER_NAMES), 'must name at least one provider'),
  decodeConcurrency: integerIn(1, 64, { description: 'Studies decoded concurrently while batches run.' }),
  fixedPassSessions: stringEnum(FIXED_PASS_SESSIONS_SETTINGS, { description: 'Sessions of the fixed passes (λ=0, λ=1); read when bundles are (re)loaded.' }),
  intraOpThreads: Type.Union([Type.Literal('auto'), integerIn(1, 1024)], { description: 'ONNX Runtime intra-op threads per session: "auto" or a count.' }),
  // At least 1 MiB (a 512×512 16-bit frame is 0.5 MiB); at most 64 GiB, far past any memory a sidecar is given.
  maxDecodedImageBytes: integerIn(1024 * 1024, 64 * 1024 ** 3, { description: 'Largest decoded size an image may declare for the frames used.' }),
});

export const TriageRuleSchema = closedObject({
  code: nonEmptyString({ description: 'SNOMED CT code of the finding (docs/SR.md).' }),
  threshold: numberIn(0, 1),
  // Most urgent first, as administrators read them.
  priority: stringEnum([...TRIAGE_PRIORITIES].reverse()),
});

export const TriageSchema = closedObject({
  rules: Type.Array(TriageRuleSchema),
  disagreement: closedObject({
    jsThreshold: Type.Optional(nullable(numberIn(0, 1))),
    lambdaDistanceThreshold: Type.Optional(nullable(numberIn(0, 10))),
  }),
});

export const RetrySchema = closedObject({
  maxAttempts: integerIn(1, 100, { description: 'Attempts before a job is parked.' }),
  initialDelayMs: integerIn(0, 3600000),
  maxDelayMs: integerIn(0, 86400000, { description: 'At least initialDelayMs.' }),
});

export const GrpcTlsSchema = closedObject({
  certFile: nonEmptyString(),
  keyFile: nonEmptyString(),
  clientCaFile: Type.Optional(nullable(Type.String({ description: 'CA that client certificates must chain to; set it to require mTLS.' }))),
});

export const GrpcTokenSchema = closedObject({
  token: nonEmptyString(),
  role: Type.Optional(stringEnum(ROLE_NAMES)),
  roles: Type.Optional(Type.Array(stringEnum(ROLE_NAMES))),
}, { description: 'A bearer token and what it may call: `role` (one) or `roles` (several).' });

export const GrpcSchema = closedObject({
  listen: listenAddress('host:port; port 0 picks a free port; "" disables the server.'),
  tls: nullable(GrpcTlsSchema),
  tokens: Type.Array(GrpcTokenSchema),
});

export const PluginTlsSchema = closedObject({
  caFile: Type.Optional(nullable(Type.String({ description: "CA bundle (PEM) the sidecar's certificate must chain to." }))),
  certFile: Type.Optional(nullable(Type.String({ description: 'Client certificate chain (PEM) for mutual TLS; with keyFile.' }))),
  keyFile: Type.Optional(nullable(Type.String())),
  serverName: Type.Optional(nullable(Type.String({ description: "The name to check the sidecar's certificate against." }))),
});

export const PluginSchema = closedObject({
  sidecarAddress: nonEmptyString({ description: "host:port of the sidecar's gRPC server as the plugin reaches it." }),
  token: nullable(Type.String({ description: 'Bearer token the plugin sends (prefer tokenFile).' })),
  tokenFile: Type.Optional(nullable(Type.String({ description: 'File holding the bearer token, read on every call.' }))),
  deadlineSeconds: numberIn(0.1, 600),
  tls: Type.Optional(nullable(PluginTlsSchema)),
  auditFile: Type.Optional(nullable(Type.String({ description: "The plugin's audit trail (JSON lines); null: t3-audit.jsonl in Orthanc's StorageDirectory." }))),
}, { description: 'Read by the Orthanc plugin; relative paths are taken against its folder.' });

export const WorklistSchema = closedObject({
  administrators: nullable(nonEmptyStrings()),
  maxWaitSeconds: numberIn(1, 86400),
});

export const MetricsSchema = closedObject({
  listen: listenAddress('host:port of the HTTP server with /metrics, /livez and /readyz; "" disables it.'),
});

export const SpeculationSchema = closedObject({
  enabled: Type.Boolean(),
  cacheMegabytes: integerIn(1, 1048576),
  queueBound: integerIn(1, 1000000),
});

export const CoordinationSchema = closedObject({
  mode: stringEnum(['single', 'shared'] as const),
  workerId: patternString('^[A-Za-z0-9._:-]{0,128}$', 'may hold only letters, digits and . _ : - (at most 128)', { description: 'This sidecar\'s name in claims; "" = <hostname>-<pid>.' }),
  quietMs: integerIn(1000, 3600000),
  leaseMs: integerIn(1000, 3600000),
});

export const LoggingSchema = closedObject({
  level: stringEnum(LOG_LEVELS, { description: 'Lines below this level are not written (debug, info, warn, error; silent: none). Also T3_LOG_LEVEL or serve --log-level.' }),
});

/** The whole `T3` section once the defaults are merged in: every section present. */
export const SidecarConfigSchema = closedObject({
  deployment: DeploymentSchema,
  orthanc: OrthancConnectionSchema,
  follower: FollowerSchema,
  bundles: nonEmptyArray(BundleEntrySchema, 'must list at least one bundle'),
  routing: RoutingSchema,
  batching: BatchingSchema,
  inference: InferenceSchema,
  triage: TriageSchema,
  retry: RetrySchema,
  grpc: GrpcSchema,
  plugin: PluginSchema,
  worklist: WorklistSchema,
  metrics: MetricsSchema,
  speculation: SpeculationSchema,
  coordination: CoordinationSchema,
  logging: LoggingSchema,
});
