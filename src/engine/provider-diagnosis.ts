import fs from 'node:fs';
import path from 'node:path';
import { CUDA_PROVIDER_MARKER, CUDA_PROVIDER_PACKAGES, cudaProviderPackageFor, type CudaProviderMarker } from './cuda-provider-package';
import type { ExecutionProviderName } from './execution-providers';
import { REAL_MACHINE, type MachineProbe } from './provider-prerequisites';

/**
 * What an execution provider needs on this machine, piece by piece, found without starting it: the first piece that
 * is missing, and how to get it. `orthanc-t3 doctor` prints it; the device check reads it.
 */
export interface MissingPiece {
  /** Its short name, e.g. "libcublasLt.so.13", "provider files". */
  name: string;
  /** What is missing, e.g. "libcublasLt.so.13 (cuBLAS 13)". */
  what: string;
  /** How to get it: the package (apt, npm) or the command. */
  how: string;
}

export interface ProviderPrerequisites {
  provider: ExecutionProviderName;
  /** Every missing piece, in the order they must be put in place; empty when nothing visible is missing. */
  missing: MissingPiece[];
}

/** What the diagnosis reads beyond the loader: onnxruntime-node's binding folder and version, the environment. */
export interface RuntimeProbe extends MachineProbe {
  /** Folder of onnxruntime-node's native binding (where ONNX Runtime looks for provider libraries). */
  bindingDir: string;
  /** Version of the installed onnxruntime-node (= its ONNX Runtime release). */
  onnxruntimeVersion: string;
  env: NodeJS.ProcessEnv;
  readFile(file: string): string | undefined;
  listDir(dir: string): string[];
}

/** Where onnxruntime-node keeps its native binding on this platform (onnxruntime-node/bin/napi-v6/<platform>/<arch>). */
export function onnxruntimeBindingDir(): string {
  const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
}

export function installedOnnxruntimeVersion(): string {
  return (JSON.parse(fs.readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
}

export function realRuntime(): RuntimeProbe {
  return {
    ...REAL_MACHINE,
    bindingDir: onnxruntimeBindingDir(),
    onnxruntimeVersion: installedOnnxruntimeVersion(),
    env: process.env,
    readFile: (file) => {
      try {
        return fs.readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    },
    listDir: (dir) => {
      try {
        return fs.readdirSync(dir);
      } catch {
        return [];
      }
    },
  };
}

/** Directories the dynamic loader searches by default after LD_LIBRARY_PATH and its cache (glibc, x86_64). */
const DEFAULT_LIBRARY_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'];

/**
 * Whether the dynamic loader would find a library by its soname: in LD_LIBRARY_PATH, in its cache, or in the default
 * folders. Undefined where this cannot be told (no loader cache: musl), so the provider is simply tried.
 */
export function libraryFound(machine: MachineProbe, soname: string): boolean | undefined {
  const dirs = (machine.libraryPath ?? '').split(':').filter(Boolean);
  if (dirs.some((dir) => machine.fileExists(path.join(dir, soname)))) return true;
  const cache = machine.readLoaderCache();
  if (cache !== undefined && cache.includes(`${soname}\0`, 0, 'latin1')) return true;
  if (DEFAULT_LIBRARY_DIRS.some((dir) => machine.fileExists(path.join(dir, soname)))) return true;
  return cache === undefined ? undefined : false;
}

const NVIDIA_APT = "NVIDIA's CUDA apt repository (developer.download.nvidia.com/compute/cuda/repos)";

/** The libraries the CUDA provider loads, in the order to put them in place, with the package that provides each. */
function cudaLibraries(cudaMajor: number, cudnnMajor: number): { soname: string; what: string; how: string }[] {
  const apt = (pkg: string) => `apt-get install ${pkg} from ${NVIDIA_APT}, or use the nvidia/cuda:${cudaMajor}.0.x-cudnn-runtime base image`;
  return [
    { soname: 'libcuda.so.1', what: 'libcuda.so.1 (the NVIDIA driver)', how: 'install the NVIDIA driver on the host (in a container: NVIDIA Container Toolkit and `--gpus all`)' },
    { soname: `libcudart.so.${cudaMajor}`, what: `libcudart.so.${cudaMajor} (CUDA ${cudaMajor} runtime)`, how: apt(`cuda-cudart-${cudaMajor}-0`) },
    { soname: `libcublasLt.so.${cudaMajor}`, what: `libcublasLt.so.${cudaMajor} (cuBLAS ${cudaMajor})`, how: apt(`libcublas-${cudaMajor}-0`) },
    { soname: `libcublas.so.${cudaMajor}`, what: `libcublas.so.${cudaMajor} (cuBLAS ${cudaMajor})`, how: apt(`libcublas-${cudaMajor}-0`) },
    { soname: 'libcurand.so.10', what: `libcurand.so.10 (cuRAND, CUDA ${cudaMajor})`, how: apt(`libcurand-${cudaMajor}-0`) },
    { soname: `libcudnn.so.${cudnnMajor}`, what: `libcudnn.so.${cudnnMajor} (cuDNN ${cudnnMajor} for CUDA ${cudaMajor})`, how: apt(`libcudnn${cudnnMajor}-cuda-${cudaMajor}`) },
  ];
}

function cudaPrerequisites(rt: RuntimeProbe): MissingPiece[] {
  if (rt.platform !== 'linux' || process.arch !== 'x64') {
    return [{ name: 'provider build', what: `a CUDA provider for ${rt.platform}-${process.arch}`, how: 'the npm registry carries one for linux-x64 only; use ONNX Runtime\'s GPU release for this platform' }];
  }
  const missing: MissingPiece[] = [];
  const vetted = cudaProviderPackageFor(rt.onnxruntimeVersion);
  const known = CUDA_PROVIDER_PACKAGES[0];
  const libraries = cudaLibraries(vetted?.cudaMajor ?? known.cudaMajor, vetted?.cudnnMajor ?? known.cudnnMajor);
  for (const lib of libraries) {
    if (libraryFound(rt, lib.soname) === false) missing.push({ name: lib.soname, what: lib.what, how: lib.how });
  }
  if (!vetted) {
    const versions = CUDA_PROVIDER_PACKAGES.map((p) => p.onnxruntimeVersion).join(', ');
    missing.push({
      name: 'provider build',
      what: `a CUDA provider built for onnxruntime-node ${rt.onnxruntimeVersion} (the npm registry has one for ${versions} only)`,
      how: `pin onnxruntime-node ${known.onnxruntimeVersion} in package.json (docs/GPU.md), npm ci, then \`orthanc-t3 gpu-provider install\``,
    });
    return missing;
  }
  const present = (name: string) => rt.fileExists(path.join(rt.bindingDir, name));
  const absent = vetted.files.filter((f) => !present(f.name)).map((f) => f.name);
  const install = `\`orthanc-t3 gpu-provider install\` (npm package ${vetted.npmPackage}@${vetted.npmVersion})`;
  if (absent.length > 0) {
    missing.push({ name: 'provider files', what: `${absent.join(' and ')} next to onnxruntime-node's binding (${rt.bindingDir})`, how: install });
    return missing;
  }
  const markerText = rt.readFile(path.join(rt.bindingDir, CUDA_PROVIDER_MARKER));
  if (markerText !== undefined) {
    const marker = JSON.parse(markerText) as CudaProviderMarker;
    if (marker.onnxruntimeVersion !== rt.onnxruntimeVersion) {
      missing.push({ name: 'provider version', what: `a provider for onnxruntime-node ${rt.onnxruntimeVersion} (the installed one is for ${marker.onnxruntimeVersion})`, how: install });
    }
  }
  return missing;
}

/** Vulkan drivers (ICDs) are announced by JSON manifests in these folders, or named by VK_ICD_FILENAMES / VK_DRIVER_FILES. */
const VULKAN_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

function webgpuPrerequisites(rt: RuntimeProbe): MissingPiece[] {
  if (rt.platform !== 'linux') return [];
  const missing: MissingPiece[] = [];
  if (libraryFound(rt, 'libvulkan.so.1') === false) {
    missing.push({ name: 'libvulkan.so.1', what: 'libvulkan.so.1 (the Vulkan loader, which WebGPU needs on Linux)', how: 'apt-get install libvulkan1' });
  }
  const named = rt.env.VK_ICD_FILENAMES ?? rt.env.VK_DRIVER_FILES;
  const icds = named ? named.split(':').filter(Boolean) : VULKAN_ICD_DIRS.flatMap((dir) => rt.listDir(dir).filter((f) => f.endsWith('.json')));
  if (icds.length === 0) {
    missing.push({
      name: 'Vulkan driver',
      what: 'a Vulkan driver (no ICD manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d)',
      how: 'the NVIDIA driver\'s nvidia_icd.json (in a container: NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics), or apt-get install mesa-vulkan-drivers',
    });
  }
  return missing;
}

/** The missing pieces of one provider on this machine (none for the CPU, which ships with onnxruntime-node). */
export function providerPrerequisites(provider: ExecutionProviderName, rt: RuntimeProbe = realRuntime()): ProviderPrerequisites {
  const missing = provider === 'cuda' ? cudaPrerequisites(rt) : provider === 'webgpu' ? webgpuPrerequisites(rt) : [];
  return { provider, missing };
}
