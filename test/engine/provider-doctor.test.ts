import path from 'node:path';
import { CUDA_PROVIDER_MARKER, providerPrerequisites, type RuntimeProbe } from '../../src/engine';
import { vulkanLoaderFound, REAL_MACHINE } from '../../src/engine/provider-prerequisites';
import { runCliCaptured } from '../helpers/cli-run';
import { runNodeEntry } from '../helpers/node-process';

const BINDING = '/nm/onnxruntime-node/bin/napi-v6/linux/x64';
const CUDA_LIBS = ['libcuda.so.1', 'libcudart.so.13', 'libcublasLt.so.13', 'libcublas.so.13', 'libcurand.so.10', 'libcudnn.so.9'];

/** A machine with these libraries in the loader cache and these files on disk. */
function runtime(opts: { libs?: string[]; files?: string[]; version?: string; marker?: string; icds?: string[]; env?: NodeJS.ProcessEnv } = {}): RuntimeProbe {
  const files = new Set(opts.files ?? []);
  return {
    platform: 'linux',
    libraryPath: undefined,
    readLoaderCache: () => Buffer.from((opts.libs ?? []).map((l) => `${l}\0/usr/lib/x86_64-linux-gnu/${l}\0`).join('')),
    fileExists: (f) => files.has(f),
    bindingDir: BINDING,
    onnxruntimeVersion: opts.version ?? '1.29.0',
    env: opts.env ?? {},
    readFile: (f) => (f === path.join(BINDING, CUDA_PROVIDER_MARKER) ? opts.marker : undefined),
    listDir: (d) => (d === '/usr/share/vulkan/icd.d' ? opts.icds ?? [] : []),
  };
}

const providerFiles = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'].map((f) => path.join(BINDING, f));

describe('what the CUDA provider needs, in order', () => {
  test('a machine without CUDA: the driver first, then each CUDA 13 library with the package that provides it', () => {
    const { missing } = providerPrerequisites('cuda', runtime());
    expect(missing.map((m) => m.name)).toEqual([...CUDA_LIBS, 'provider files']);
    expect(missing[0].what).toBe('libcuda.so.1 (the NVIDIA driver)');
    expect(missing.find((m) => m.name === 'libcublasLt.so.13')!.how).toMatch(/apt-get install libcublas-13-0 .*nvidia\/cuda:13\.0\.x-cudnn-runtime/);
    expect(missing.find((m) => m.name === 'libcudnn.so.9')!.how).toMatch(/libcudnn9-cuda-13/);
    expect(missing.find((m) => m.name === 'provider files')!.how).toMatch(/orthanc-t3 gpu-provider install.*com\.github\.asus4\.onnxruntime\.linux-x64-gpu@0\.4\.9/);
  });

  test('CUDA present, onnxruntime-node 1.30.0: no provider build on the npm registry, pin 1.29.0', () => {
    const { missing } = providerPrerequisites('cuda', runtime({ libs: CUDA_LIBS, version: '1.30.0' }));
    expect(missing).toHaveLength(1);
    expect(missing[0].what).toMatch(/a CUDA provider built for onnxruntime-node 1\.30\.0 \(the npm registry has one for 1\.29\.0 only\)/);
    expect(missing[0].how).toMatch(/pin onnxruntime-node 1\.29\.0/);
  });

  test('everything in place: nothing missing; a provider installed for another release is named', () => {
    expect(providerPrerequisites('cuda', runtime({ libs: CUDA_LIBS, files: providerFiles })).missing).toEqual([]);
    const stale = JSON.stringify({ onnxruntimeVersion: '1.28.0', npmPackage: 'x', npmVersion: '0', installedAt: '' });
    expect(providerPrerequisites('cuda', runtime({ libs: CUDA_LIBS, files: providerFiles, marker: stale })).missing.map((m) => m.name)).toEqual(['provider version']);
  });

  test('libraries in LD_LIBRARY_PATH count (a CUDA install outside the loader cache)', () => {
    const rt = runtime({ files: [...CUDA_LIBS.map((l) => `/opt/cuda/lib/${l}`), ...providerFiles] });
    expect(providerPrerequisites('cuda', { ...rt, libraryPath: '/opt/cuda/lib' }).missing).toEqual([]);
  });
});

test('WebGPU needs the Vulkan loader, then a Vulkan driver', () => {
  expect(providerPrerequisites('webgpu', runtime()).missing.map((m) => m.name)).toEqual(['libvulkan.so.1', 'Vulkan driver']);
  expect(providerPrerequisites('webgpu', runtime({ libs: ['libvulkan.so.1'] })).missing.map((m) => m.name)).toEqual(['Vulkan driver']);
  expect(providerPrerequisites('webgpu', runtime({ libs: ['libvulkan.so.1'], icds: ['nvidia_icd.json'] })).missing).toEqual([]);
  expect(providerPrerequisites('webgpu', runtime({ libs: ['libvulkan.so.1'], env: { VK_ICD_FILENAMES: '/x/icd.json' } })).missing).toEqual([]);
  expect(providerPrerequisites('cpu', runtime()).missing).toEqual([]);
});

// In a child process, as an operator runs it (and because it starts ONNX Runtime on the main thread: see runNodeEntry).
test('orthanc-t3 doctor on this machine: one line per provider; cuda and webgpu name what is missing, cpu starts', async () => {
  const { code, stdout } = await runNodeEntry('bin/orthanc-t3.js', ['doctor']);
  expect(code).toBe(0);
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^onnxruntime-node \d+\.\d+\.\d+ \(binding: .*onnxruntime-node\/bin\/napi-v6\/linux\/x64\)$/);
  expect(lines).toHaveLength(4);
  // This machine has no NVIDIA driver and no CUDA libraries.
  expect(lines[1]).toMatch(/^cuda {3}cannot start: no libcuda\.so\.1 \(the NVIDIA driver\) — install the NVIDIA driver/);
  if (vulkanLoaderFound(REAL_MACHINE) === false) {
    expect(lines[2]).toMatch(/^webgpu cannot start: no libvulkan\.so\.1 \(the Vulkan loader, which WebGPU needs on Linux\) — apt-get install libvulkan1/);
  } else {
    expect(lines[2]).toMatch(/^webgpu /);
  }
  expect(lines[3]).toMatch(/^cpu {4}starts \(a session on the probe model in \d+ ms\)$/);
  const json = await runNodeEntry('bin/orthanc-t3.js', ['doctor', '--json', '--no-start', '--providers', 'cuda']);
  const report = JSON.parse(json.stdout);
  expect(report.providers).toHaveLength(1);
  expect(report.providers[0].missing.length).toBeGreaterThan(0);
});

test('gpu-provider: a clear usage error without "install"', async () => {
  const { code, stderr } = await runCliCaptured(['gpu-provider']);
  expect(code).toBe(1);
  expect(stderr).toMatch(/expected "install"/);
});
