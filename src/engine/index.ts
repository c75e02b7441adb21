export { BundleError } from './bundle-error';
export {
  parseBundleManifest,
  type BundleClass,
  type BundleClassCode,
  type BundleInputSpec,
  type BundleManifest,
  type BundleModelEntry,
  type T3FitRecord,
} from './bundle-manifest';
export { demoBundleDir, loadBundle, sha256Hex, type ModelBundle } from './bundle';
export { policyForBundle, type PolicyChoiceOptions } from './bundle-policy';
export { EngineError } from './engine-error';
export {
  DEFAULT_EXECUTION_PROVIDERS,
  EXECUTION_PROVIDER_NAMES,
  createSessionWithFallback,
  parseExecutionProviders,
  type ExecutionProviderName,
  type ProviderFailure,
  type StartedSession,
} from './execution-providers';
export { InferenceWorker, type WorkerSessionInfo } from './inference-worker-client';
export { MERGED_GRAPH_FORMAT, fallbackCacheDir, getMergedModelFile, type MergedCacheRequest, type MergedModelFile } from './merged-cache';
export { LAMBDA_INPUT_NAME, MergeError, buildMergedModel, moveConstantsToInitializers, type MergeSummary, type MergedGraphForm, type MergedModel } from './merged-graph';
export { decodeOnnxModel } from './onnx-model-file';
export { QUANTIZER_VERSION, QuantizeError, buildQuantizedModel, type QuantizeOptions, type QuantizeSummary, type QuantizedModel } from './quantized-model';
export { getQuantizedModelFile, quantizedCacheFileName, type QuantizedCacheRequest, type QuantizedModelFile } from './quantized-cache';
export { ESTIMATION_PRECISIONS, ESTIMATION_QUANTIZE_OPTIONS, fixedPassesOnlyEstimate, isEstimationPrecision, type EstimationPrecision } from './quantized-estimation';
export { T3Engine, type BatchInference, type EngineOptions, type ImageInference, type InferOptions } from './t3-engine';
export {
  chooseFixedPassSessions,
  plainSessionsExtraBytes,
  type FixedPassSessions,
  type FixedPassSessionsChoice,
  type FixedPassSessionsSetting,
  type MemoryProbe,
} from './fixed-pass-sessions';
export { cpuQuota, defaultIntraOpThreads, resolveIntraOpThreads } from './intra-op-threads';
export { memoryAllocator, peakResidentSetMB, residentSetMB } from './process-memory';
export { spreadCoefficientSample } from './coefficient-sample';
export { CUDA_PROVIDER_MARKER, CUDA_PROVIDER_PACKAGES, cudaProviderPackageFor, type CudaProviderMarker, type CudaProviderPackage } from './cuda-provider-package';
export { installCudaProvider, ProviderInstallError, type CudaProviderInstallOptions, type CudaProviderInstallResult } from './cuda-provider-install';
export {
  installedOnnxruntimeVersion,
  libraryFound,
  onnxruntimeBindingDir,
  providerPrerequisites,
  realRuntime,
  type MissingPiece,
  type ProviderPrerequisites,
  type RuntimeProbe,
} from './provider-diagnosis';
export { diagnoseProviders, formatProviderReport, type DoctorOptions, type ProviderReport } from './provider-doctor';
