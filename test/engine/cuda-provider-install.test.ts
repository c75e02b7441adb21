import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CUDA_PROVIDER_MARKER, CUDA_PROVIDER_PACKAGES, installCudaProvider, ProviderInstallError, type CudaProviderPackage } from '../../src/engine';
import { removeTempDirs, tempDir } from './onnx-test-helpers';

afterAll(removeTempDirs);

const FOLDER = 'package/Plugins/Linux/x64';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A tarball shaped like the npm package (the real one is 179 MB), and a package entry vetting its two files. */
async function fakePackage(contents: { shared: string; cuda: string }): Promise<{ tarball: string; pkg: CudaProviderPackage }> {
  const dir = await tempDir('fake-gpu-package');
  await fs.mkdir(path.join(dir, FOLDER), { recursive: true });
  await fs.writeFile(path.join(dir, FOLDER, 'libonnxruntime_providers_shared.so'), contents.shared);
  await fs.writeFile(path.join(dir, FOLDER, 'libonnxruntime_providers_cuda.so'), contents.cuda);
  await fs.writeFile(path.join(dir, 'package', 'README.md'), 'not extracted');
  const tarball = path.join(dir, 'pkg.tgz');
  expect(spawnSync('tar', ['-czf', tarball, '-C', dir, 'package']).status).toBe(0);
  const pkg: CudaProviderPackage = {
    ...CUDA_PROVIDER_PACKAGES[0],
    files: [
      { name: 'libonnxruntime_providers_shared.so', sha256: sha('shared-v1'), bytes: 9 },
      { name: 'libonnxruntime_providers_cuda.so', sha256: sha('cuda-v1'), bytes: 7 },
    ],
  };
  return { tarball, pkg };
}

test('installs the two provider libraries next to the binding, with a marker naming the package', async () => {
  const { tarball, pkg } = await fakePackage({ shared: 'shared-v1', cuda: 'cuda-v1' });
  const bindingDir = await tempDir('binding');
  const log: string[] = [];
  const result = await installCudaProvider({ bindingDir, onnxruntimeVersion: '1.29.0', from: tarball, pkg, log: (l) => log.push(l) });
  expect(result.installed.map((f) => path.basename(f))).toEqual(['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']);
  expect(await fs.readFile(path.join(bindingDir, 'libonnxruntime_providers_cuda.so'), 'utf8')).toBe('cuda-v1');
  expect((await fs.readdir(bindingDir)).sort()).toEqual(['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', CUDA_PROVIDER_MARKER]);
  const marker = JSON.parse(await fs.readFile(path.join(bindingDir, CUDA_PROVIDER_MARKER), 'utf8'));
  expect(marker).toMatchObject({ onnxruntimeVersion: '1.29.0', npmPackage: 'com.github.asus4.onnxruntime.linux-x64-gpu', npmVersion: '0.4.9' });
  expect(log.some((l) => l.startsWith('extracting libonnxruntime_providers_shared.so'))).toBe(true);
});

test('refuses libraries whose sha256 is not the vetted one, and leaves the binding folder untouched', async () => {
  const { tarball, pkg } = await fakePackage({ shared: 'shared-v1', cuda: 'tampered' });
  const bindingDir = await tempDir('binding');
  await expect(installCudaProvider({ bindingDir, onnxruntimeVersion: '1.29.0', from: tarball, pkg, log: () => undefined }))
    .rejects.toThrow(/libonnxruntime_providers_cuda\.so from .* has sha256 [0-9a-f]{64}, not the vetted/);
  expect(await fs.readdir(bindingDir)).toEqual([]);
});

test('refuses an onnxruntime-node without a provider build on the npm registry, naming the pin', async () => {
  const bindingDir = await tempDir('binding');
  const attempt = installCudaProvider({ bindingDir, onnxruntimeVersion: '1.30.0', log: () => undefined });
  await expect(attempt).rejects.toThrow(ProviderInstallError);
  await expect(installCudaProvider({ bindingDir, onnxruntimeVersion: '1.30.0', log: () => undefined })).rejects.toThrow(/no CUDA provider for onnxruntime-node 1\.30\.0; pin onnxruntime-node 1\.29\.0/);
  await expect(installCudaProvider({ bindingDir, onnxruntimeVersion: '1.28.0', pkg: CUDA_PROVIDER_PACKAGES[0], log: () => undefined }))
    .rejects.toThrow(/carries ONNX Runtime 1\.29\.0's provider, but onnxruntime-node is 1\.28\.0/);
});
