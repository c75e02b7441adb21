/**
 * Provider start-up says in one short line which provider runs and why the others did not: ONNX Runtime's errors
 * shortened, and WebGPU left untried where Linux has no Vulkan loader, so Dawn's native stack never reaches stderr.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { shortProviderError } from '../../src/engine/execution-providers';
import { missingPrerequisite, REAL_MACHINE, vulkanLoaderFound, type MachineProbe } from '../../src/engine/provider-prerequisites';
import { demoDir, repoRoot } from './onnx-test-helpers';

function machine(overrides: Partial<MachineProbe> = {}): MachineProbe {
  return { platform: 'linux', libraryPath: undefined, readLoaderCache: () => Buffer.from('libc.so.6\0/lib/libc.so.6\0'),
    fileExists: () => false, ...overrides };
}

describe('the Vulkan loader check', () => {
  test('found through LD_LIBRARY_PATH, found or not in the loader cache, unknown without a cache', () => {
    expect(vulkanLoaderFound(machine({ libraryPath: '/opt/a:/opt/vk', fileExists: (f) => f === '/opt/vk/libvulkan.so.1' }))).toBe(true);
    expect(vulkanLoaderFound(machine({ readLoaderCache: () => Buffer.from('x\0libvulkan.so.1\0/usr/lib/x86_64-linux-gnu/libvulkan.so.1\0') })))
      .toBe(true);
    expect(vulkanLoaderFound(machine())).toBe(false);
    expect(vulkanLoaderFound(machine({ readLoaderCache: () => undefined }))).toBeUndefined();
  });

  test('only WebGPU on Linux is held back, and only when the loader is known to be missing', () => {
    expect(missingPrerequisite('webgpu', machine())).toBe('no Vulkan loader (libvulkan.so.1), which WebGPU needs on Linux');
    expect(missingPrerequisite('webgpu', machine({ readLoaderCache: () => undefined }))).toBeUndefined();
    expect(missingPrerequisite('webgpu', machine({ platform: 'win32' }))).toBeUndefined();
    expect(missingPrerequisite('cuda', machine())).toBeUndefined();
    expect(missingPrerequisite('cpu', machine())).toBeUndefined();
  });
});

test("ONNX Runtime's start errors are cut to the reason", () => {
  expect(shortProviderError('/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 '
    + 'onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> '
    + 'adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters'))
    .toBe('Failed to get a WebGPU adapter: No supported adapters');
  expect(shortProviderError('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library')).toBe('Failed to load shared library');
  expect(shortProviderError(`first line\n${'x'.repeat(500)}`)).toBe('first line');
  expect(shortProviderError('y'.repeat(500))).toHaveLength(120);
});

interface ChildStart {
  provider: string;
  failures: { provider: string; error: string }[];
  /** Everything the process wrote to file descriptor 2, native code included. */
  stderr: string;
}

/** Starts a session in a fresh process, as the inference worker does (ONNX Runtime's own log level fatal). */
function startInChild(providers: string[], pretendVulkan: boolean): ChildStart {
  const script = `
    const ort = require('onnxruntime-node');
    ort.env.logLevel = 'fatal';
    const { createSessionWithFallback } = require('./src/engine/execution-providers');
    const { REAL_MACHINE } = require('./src/engine/provider-prerequisites');
    const machine = ${pretendVulkan} ? { ...REAL_MACHINE, readLoaderCache: () => Buffer.from('libvulkan.so.1\\0') } : REAL_MACHINE;
    createSessionWithFallback(ort, ${JSON.stringify(path.join(demoDir, 'generalist.onnx'))}, ${JSON.stringify(providers)}, 1, machine)
      .then((s) => process.stdout.write(JSON.stringify({ provider: s.executionProvider, failures: s.failures })));`;
  const result = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`child failed: ${result.stderr}`);
  return { ...(JSON.parse(result.stdout) as Omit<ChildStart, 'stderr'>), stderr: result.stderr };
}

const noVulkanHere = vulkanLoaderFound(REAL_MACHINE) === false && process.platform === 'linux';

(noVulkanHere ? test : test.skip)('without a Vulkan loader WebGPU is not tried: CPU runs and nothing reaches stderr', () => {
  const quiet = startInChild(['webgpu', 'cpu'], false);
  expect(quiet.provider).toBe('cpu');
  expect(quiet.failures).toEqual([{ provider: 'webgpu', error: 'no Vulkan loader (libvulkan.so.1), which WebGPU needs on Linux' }]);
  expect(quiet.stderr).toBe('');
  // Tried anyway, Dawn prints its Vulkan stack: the noise the check keeps away.
  const tried = startInChild(['webgpu', 'cpu'], true);
  expect(tried.provider).toBe('cpu');
  expect(tried.stderr).toContain('Vulkan');
});
