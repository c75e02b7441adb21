export { BundleError } from './bundle-error';
export { parseBundleManifest, type BundleManifest, type T3FitRecord } from './bundle-manifest';
export { demoBundleDir, loadBundle, sha256Hex, type ModelBundle } from './bundle';
export { policyForBundle } from './bundle-policy';
export { EngineError } from './engine-error';
export { parseExecutionProviders, type ExecutionProviderName } from './execution-providers';
export { InferenceWorker } from './inference-worker-client';
export { getMergedModelFile } from './merged-cache';
export { LAMBDA_INPUT_NAME, MergeError, buildMergedModel, type MergedGraphForm } from './merged-graph';
export { decodeOnnxModel } from './onnx-model-file';
export { QuantizeError, buildQuantizedModel } from './quantized-model';
export { getQuantizedModelFile, quantizedCacheFileName } from './quantized-cache';
export { ESTIMATION_QUANTIZE_OPTIONS, type EstimationPrecision } from './quantized-estimation';
export { T3Engine, type BatchInference, type ImageInference, type InferOptions } from './t3-engine';
export { chooseFixedPassSessions } from './fixed-pass-sessions';
export { cpuQuota, defaultIntraOpThreads, resolveIntraOpThreads } from './intra-op-threads';
export { memoryAllocator, peakResidentSetMB, residentSetMB } from './process-memory';
export { spreadCoefficientSample } from './coefficient-sample';
export { CUDA_PROVIDER_MARKER, CUDA_PROVIDER_PACKAGES, type CudaProviderPackage } from './cuda-provider-package';
export { installCudaProvider, ProviderInstallError } from './cuda-provider-install';
export {
  installedOnnxruntimeVersion,
  onnxruntimeBindingDir,
  providerPrerequisites,
  type RuntimeProbe,
} from './provider-diagnosis';
export { diagnoseProviders, formatProviderReport, type ProviderReport } from './provider-doctor';
