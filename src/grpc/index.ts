export * from './backend';
export { AdmissionQueue } from './admission';
export { authorize } from './authorize';
export { PipelineBackend, type PipelineBackendOptions, type StudyOperations } from './pipeline-backend';
export {
  ADMIN_SERVICE_NAME,
  PROTO_LOADER_OPTIONS,
  T3_PROTO_FILES,
  TRIAGE_SERVICE_NAME,
  loadT3Protos,
  protoRoot,
  type T3Protos,
} from './proto-definition';
export { DEFAULT_MAX_MESSAGE_BYTES, startGrpcServer, type GrpcServerOptions, type RunningGrpcServer } from './server';
export {
  ListenConfigError,
  isLoopbackHost,
  parseListenAddress,
  serverCredentials,
  type TlsMaterial,
  type TransportSecurity,
} from './server-security';
export { CallError, CATEGORY_STATUS, statusFor } from './status-mapping';
export { MIN_TOKEN_LENGTH, TokenConfigError, TokenTable, clientTokenOf, parseTokenFile, parseTokenList, type TokenEntry } from './token-table';
export {
  REDACTED,
  redactSecrets,
  sidecarOperations,
  withoutRedacted,
  type FollowerStatusSource,
  type SidecarOperationsOptions,
} from './sidecar-operations';
export { resolveGrpcSettings, type ExtraTokenSources, type GrpcSettings } from './server-settings';
export { startSidecarGrpcServer, type SidecarGrpcOptions } from './sidecar-grpc-server';
