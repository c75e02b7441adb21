/**
 * Where a CUDA execution provider for onnxruntime-node comes from. onnxruntime-node ships the CPU (and WebGPU)
 * runtime only; its install script would download the CUDA provider from NuGet, which `.npmrc` skips and offline
 * machines cannot do. The provider libraries are also published on the npm registry inside a Unity package
 * (com.github.asus4.onnxruntime.linux-x64-gpu), one ONNX Runtime release per package version. A provider library is
 * bound to the exact ONNX Runtime release it was built with, so only a package of the installed release may be used.
 */
export interface CudaProviderPackage {
  /** ONNX Runtime release the provider libraries were built for (= onnxruntime-node's version). */
  onnxruntimeVersion: string;
  npmPackage: string;
  npmVersion: string;
  /** Folder of the libraries inside the package tarball. */
  folder: string;
  /** The libraries copied next to onnxruntime-node's binding, with the sha256 the package held when it was vetted. */
  files: { name: string; sha256: string; bytes: number }[];
  /** What the provider loads: the CUDA major version and cuDNN major version it was built against. */
  cudaMajor: number;
  cudnnMajor: number;
}

/** The packages vetted with this project (measured: ONNX Runtime 1.29.0's provider, CUDA 13, cuDNN 9; 179 MB). */
export const CUDA_PROVIDER_PACKAGES: readonly CudaProviderPackage[] = [
  {
    onnxruntimeVersion: '1.29.0',
    npmPackage: 'com.github.asus4.onnxruntime.linux-x64-gpu',
    npmVersion: '0.4.9',
    folder: 'package/Plugins/Linux/x64',
    files: [
      { name: 'libonnxruntime_providers_shared.so', sha256: 'c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772', bytes: 14632 },
      { name: 'libonnxruntime_providers_cuda.so', sha256: '56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037', bytes: 229780440 },
    ],
    cudaMajor: 13,
    cudnnMajor: 9,
  },
];

/** The vetted package for an ONNX Runtime release, or undefined when the npm registry has none. */
export function cudaProviderPackageFor(onnxruntimeVersion: string): CudaProviderPackage | undefined {
  return CUDA_PROVIDER_PACKAGES.find((p) => p.onnxruntimeVersion === onnxruntimeVersion);
}

/** Written next to the provider libraries by the install step: which package they came from. */
export const CUDA_PROVIDER_MARKER = 'orthanc-t3-cuda-provider.json';

export interface CudaProviderMarker {
  onnxruntimeVersion: string;
  npmPackage: string;
  npmVersion: string;
  installedAt: string;
}
