// Packs the device check for a machine that has none of this repository's dependencies: node itself, onnxruntime-node
// (its linux-x64 binding and JavaScript only) and the check bundled into two JavaScript files, in one xz tarball under
// .device-check/ (git-ignored; the device runner carries it). It must stay under 64 MiB: the CUDA provider (230 MB)
// cannot travel, so on the device CUDA is used only if ONNX Runtime's provider is found there (run.sh).
//   npx tsx scripts/device-check/pack.ts
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';

const repo = path.resolve(__dirname, '..', '..');
const outDir = path.join(repo, '.device-check');
const LIMIT_BYTES = 64 * 2 ** 20;

function run(command: string, args: string[], cwd = repo): void {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status})`);
}

async function main(): Promise<void> {
  const stage = path.join(outDir, 'stage');
  await fs.rm(outDir, { recursive: true, force: true });
  await fs.mkdir(stage, { recursive: true });
  // The check and the inference worker as plain CommonJS; onnxruntime-node stays a package (native binding).
  const esbuild = require('esbuild') as typeof import('esbuild');
  await esbuild.build({
    entryPoints: { 'device-check': path.join(repo, 'bench', 'device-check.ts'), 'inference-worker': path.join(repo, 'src', 'engine', 'inference-worker.ts') },
    outdir: stage, bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['onnxruntime-node', 'onnxruntime-common'], logLevel: 'warning',
  });
  const ortRoot = path.dirname(require.resolve('onnxruntime-node/package.json'));
  // onnxruntime-common's "exports" hide its package.json: find its folder from its entry point.
  const commonEntry = require.resolve('onnxruntime-common', { paths: [ortRoot] });
  const commonRoot = commonEntry.slice(0, commonEntry.lastIndexOf(`${path.sep}onnxruntime-common${path.sep}`) + `${path.sep}onnxruntime-common`.length);
  const modules = path.join(stage, 'node_modules');
  await fs.mkdir(path.join(modules, 'onnxruntime-node', 'bin', 'napi-v6', 'linux'), { recursive: true });
  for (const part of ['package.json', 'dist', 'lib']) {
    await fs.cp(path.join(ortRoot, part), path.join(modules, 'onnxruntime-node', part), { recursive: true }).catch(() => undefined);
  }
  // The linux-x64 binding only (the package carries every platform's); never a CUDA provider installed here.
  const binding = path.join(ortRoot, 'bin', 'napi-v6', 'linux', 'x64');
  const bindingOut = path.join(modules, 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
  await fs.mkdir(bindingOut, { recursive: true });
  for (const file of ['libonnxruntime.so.1', 'onnxruntime_binding.node']) await fs.copyFile(path.join(binding, file), path.join(bindingOut, file));
  await fs.cp(commonRoot, path.join(modules, 'onnxruntime-common'), { recursive: true });
  await fs.copyFile(process.execPath, path.join(stage, 'node'));
  run('tar', ['-cJf', path.join(outDir, 'payload.tar.xz'), '-C', stage, '.']);
  await fs.rm(stage, { recursive: true, force: true });
  const size = (await fs.stat(path.join(outDir, 'payload.tar.xz'))).size;
  process.stdout.write(`wrote .device-check/payload.tar.xz (${(size / 2 ** 20).toFixed(1)} MiB of ${LIMIT_BYTES / 2 ** 20} MiB)\n`);
  if (size > LIMIT_BYTES) throw new Error('the payload is over 64 MiB');
}

main().catch((error: unknown) => {
  process.stderr.write(`pack: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
