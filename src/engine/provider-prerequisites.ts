import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionProviderName } from './execution-providers';

/**
 * Why an execution provider cannot start on this machine, found without starting it.
 *
 * ONNX Runtime's WebGPU provider runs on Dawn, which on Linux reaches the GPU through Vulkan. Without a Vulkan loader
 * Dawn prints a multi-line warning with a source location straight to the process's stderr (native code: no log
 * level of ONNX Runtime or Node stops it) before the provider fails. Checking for the loader first leaves the
 * provider untried and the user one short reason.
 */

/** The facts about the machine the check reads; the real ones by default, others in tests. */
export interface MachineProbe {
  platform: NodeJS.Platform;
  /** Directories in LD_LIBRARY_PATH, which the dynamic loader searches first. */
  libraryPath: string | undefined;
  /** The dynamic loader's cache of libraries in system directories, or undefined where there is none (musl). */
  readLoaderCache(): Buffer | undefined;
  fileExists(file: string): boolean;
}

export const REAL_MACHINE: MachineProbe = {
  platform: process.platform,
  libraryPath: process.env.LD_LIBRARY_PATH,
  readLoaderCache: () => {
    try {
      return fs.readFileSync('/etc/ld.so.cache');
    } catch {
      return undefined;
    }
  },
  fileExists: (file) => fs.existsSync(file),
};

const VULKAN_LOADER = 'libvulkan.so.1';

/**
 * Whether the dynamic loader would find the Vulkan loader: true or false, or undefined where this cannot be told
 * (no loader cache), in which case the provider is simply tried.
 */
export function vulkanLoaderFound(machine: MachineProbe): boolean | undefined {
  const dirs = (machine.libraryPath ?? '').split(':').filter(Boolean);
  if (dirs.some((dir) => machine.fileExists(path.join(dir, VULKAN_LOADER)))) return true;
  const cache = machine.readLoaderCache();
  if (cache === undefined) return undefined;
  // The cache stores each library's soname as a NUL-terminated string.
  return cache.includes(`${VULKAN_LOADER}\0`, 0, 'latin1');
}

/** A short reason the provider cannot start here, or undefined when it may start and should be tried. */
export function missingPrerequisite(provider: ExecutionProviderName, machine: MachineProbe = REAL_MACHINE): string | undefined {
  if (provider === 'webgpu' && machine.platform === 'linux' && vulkanLoaderFound(machine) === false) {
    return `no Vulkan loader (${VULKAN_LOADER}), which WebGPU needs on Linux`;
  }
  return undefined;
}
