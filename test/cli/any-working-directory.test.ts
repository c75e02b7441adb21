/**
 * Every command that runs a model works from a working directory outside the repository, as a service manager or a
 * user with their own data folder runs it: the worker threads (inference, frame decoding, SR building) must find
 * their code and tsx from the package, not from the current folder. Checked through the `orthanc-t3` command (the
 * sources through tsx) and through the compiled dist/ that deployments run.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { samplesDir } from '../helpers/samples';

const run = promisify(execFile);
const repoRoot = path.resolve(__dirname, '..', '..');
const command = path.join(repoRoot, 'bin', 'orthanc-t3');
const evalDir = path.join(repoRoot, 'bundles', 'demo-trained', 'eval');

let cwd: string;

beforeAll(() => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'orthanc-t3-cwd-'));
  // Relative paths below are the user's own folder: a few labelled images of the committed evaluation split.
  const data = path.join(cwd, 'data');
  fs.mkdirSync(data);
  const lines = fs.readFileSync(path.join(evalDir, 'in-domain', 'labels.csv'), 'utf8').trim().split('\n');
  for (const row of lines.slice(1, 5)) fs.copyFileSync(path.join(evalDir, 'in-domain', row.split(',')[0]), path.join(data, row.split(',')[0]));
  fs.writeFileSync(path.join(data, 'labels.csv'), lines.slice(0, 5).join('\n') + '\n');
});

afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));

/** Runs argv with the working directory outside the repository; never throws, so failures show their output. */
async function inCwd(file: string, argv: string[], timeout = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(file, argv, { cwd, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, T3_EXECUTION_PROVIDERS: 'cpu' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Starts `serve` without Orthanc or gRPC and waits until its models are loaded and it serves; then stops it. */
async function serveStarts(argv0: string, argvPrefix: string[]): Promise<{ events: string[]; code: number | null; text: string }> {
  const child = spawn(argv0, [...argvPrefix, 'serve', '--no-follow', '--grpc-listen', '', '--metrics-listen', ''], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, T3_EXECUTION_PROVIDERS: 'cpu', T3_CHECKPOINT_PATH: path.join(cwd, 'checkpoint.json') },
  });
  let text = '';
  const events: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 120_000);
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      for (const line of text.split('\n')) {
        try {
          const event = (JSON.parse(line) as { event?: string }).event;
          if (event && !events.includes(event)) events.push(event);
        } catch {
          // not a complete JSON line yet
        }
      }
      if (events.includes('serving')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  child.kill('SIGTERM');
  return { events, code: await exited, text };
}

describe('from the sources (bin/orthanc-t3), working directory outside the repository', () => {
  test('classify (inference, frame and SR workers) with a relative --sr-out', async () => {
    const r = await inCwd(command, ['classify', '--frames', 'all', '--sr-out', 'sr', path.join(samplesDir, 'pydicom_SC_rgb_rle_2frame.dcm'), path.join(samplesDir, 'pydicom_MR_small.dcm')]);
    expect(r.stderr).not.toMatch(/Cannot find module/);
    expect(r.code).toBe(0);
    const ok = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.ok === true);
    expect(ok).toHaveLength(2);
    expect(ok[0].frames).toHaveLength(2); // both frames of the RLE file decoded by the frame workers
    expect(fs.readdirSync(path.join(cwd, 'sr')).filter((f) => f.endsWith('.dcm')).length).toBeGreaterThan(0);
  });

  test('eval on a relative data folder', async () => {
    const bundle = path.join(repoRoot, 'bundles', 'demo-trained');
    const r = await inCwd(command, ['eval', '--bundle', bundle, '--data', 'data', '--corruptions', 'none', '--batch-sizes', '2', '--wise-alphas', '0.5', '--out', 'eval-out']);
    expect(r.stderr).not.toMatch(/Cannot find module/);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(cwd, 'eval-out', 'evaluation.json'))).toBe(true);
  });

  test('fit (4 batches per split)', async () => {
    const r = await inCwd(command, ['fit', '--bundle', path.join(repoRoot, 'bundles', 'demo-trained'), '--data', evalDir, '--limit', '128']);
    expect(r.stderr).not.toMatch(/Cannot find module/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!).written).toBeNull();
  });

  test('serve --help, and serve loads its models and serves', async () => {
    const help = await inCwd(command, ['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: orthanc-t3 serve/);
    const served = await serveStarts(command, []);
    expect(served.text).not.toMatch(/Cannot find module/);
    expect(served.events).toEqual(expect.arrayContaining(['engine', 'serving']));
    expect(served.code).toBe(0);
  });
});

describe('from the compiled dist/ (npm run build), working directory outside the repository', () => {
  // The build goes into a scratch copy of the package layout (dist/ beside links to what it reads at run time), so
  // the test never writes into the checkout.
  let pkg: string;

  beforeAll(async () => {
    pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'orthanc-t3-dist-'));
    for (const entry of ['package.json', 'node_modules', 'proto', 'bundles', 'orthanc-config', 'samples']) {
      fs.symlinkSync(path.join(repoRoot, entry), path.join(pkg, entry));
    }
    // Type errors are the type check's business (npm test runs it first); this only needs the emitted JavaScript.
    await run(path.join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', path.join(repoRoot, 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist')], { cwd: repoRoot, timeout: 240_000 })
      .catch(() => undefined);
  }, 300_000);

  afterAll(() => fs.rmSync(pkg, { recursive: true, force: true }));

  test('classify runs every worker from JavaScript, with no tsx', async () => {
    const main = path.join(pkg, 'dist', 'cli', 'main.js');
    expect(fs.existsSync(path.join(pkg, 'dist', 'worker-script.js'))).toBe(true);
    const r = await inCwd(process.execPath, [main, 'classify', '--frames', 'all', '--sr-out', 'sr-dist', path.join(samplesDir, 'pydicom_SC_rgb_rle_2frame.dcm')]);
    expect(r.stderr).not.toMatch(/Cannot find module/);
    expect(r.code).toBe(0);
    const ok = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.ok === true);
    expect(ok).toHaveLength(1);
    expect(ok[0].frames).toHaveLength(2);
    expect(fs.readdirSync(path.join(cwd, 'sr-dist')).length).toBeGreaterThan(0);
  });

  test('serve loads its models and serves', async () => {
    const served = await serveStarts(process.execPath, [path.join(pkg, 'dist', 'cli', 'main.js')]);
    expect(served.text).not.toMatch(/Cannot find module/);
    expect(served.events).toEqual(expect.arrayContaining(['engine', 'serving']));
    expect(served.code).toBe(0);
  });
});
