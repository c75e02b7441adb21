// The device check: one run on a machine with an accelerator (or here, --dry, on the CPU). It says which execution
// providers start (orthanc-t3 doctor's report), then on each provider that starts measures the ratios that matter:
// T3B (plain fixed passes) over the single plain model at batch 1, 8 and 32, and one merged-graph pass over one
// plain pass. Prints a table and writes a JSON. Runs from the repository's TypeScript (tsx) or bundled
// (scripts/device-check/pack.ts), so it must not depend on where src/ is: paths come from the command line.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  diagnoseProviders,
  formatProviderReport,
  installedOnnxruntimeVersion,
  InferenceWorker,
  T3Engine,
  loadBundle,
  peakResidentSetMB,
  spreadCoefficientSample,
  type ExecutionProviderName,
  type ProviderReport,
} from '../src/engine';
import { defaultPolicyConfig } from '../src/t3';

export interface DeviceCheckOptions {
  /** Bundle folders to measure (bundle.json + generalist.onnx + expert.onnx). */
  bundles: string[];
  /** CPU only, few repetitions: proves the script end to end where no accelerator is. */
  dry: boolean;
  batchSizes: number[];
  reps: number;
  out: string | null;
  log: (line: string) => void;
}

interface RatioRow {
  provider: ExecutionProviderName;
  bundle: string;
  batch: number;
  singleImagesPerSecond: number;
  t3bImagesPerSecond: number;
  t3bSampled4ImagesPerSecond: number;
  t3bOverSingle: number;
  t3bSampled4OverSingle: number;
  mergedPassOverPlainPass: number;
}

export interface DeviceCheckResult {
  date: string;
  dry: boolean;
  machine: { cpus: number; cpuModel: string; memoryMB: number; node: string; onnxruntimeNode: string };
  providers: ProviderReport[];
  measured: ExecutionProviderName[];
  ratios: RatioRow[];
  peakRssMB: number;
  wallSeconds: number;
}

function pixels(count: number, size: number, seed: number): Float32Array {
  const out = new Float32Array(count * 3 * size * size);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/** Median milliseconds of `reps` runs of each flow, interleaved so machine load falls on all alike. */
async function medians<K extends string>(flows: Record<K, () => Promise<unknown>>, reps: number): Promise<Record<K, number>> {
  const names = Object.keys(flows) as K[];
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (const name of names) await flows[name](); // warm-up: first runs at a shape allocate
  for (let rep = 0; rep < reps; rep++) {
    for (const name of names) {
      const started = performance.now();
      await flows[name]();
      times[name].push(performance.now() - started);
    }
  }
  return Object.fromEntries(names.map((n) => {
    const sorted = [...times[n]].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return [n, sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2];
  })) as Record<K, number>;
}

async function measure(provider: ExecutionProviderName, bundleDir: string, options: DeviceCheckOptions): Promise<RatioRow[]> {
  const bundle = await loadBundle(bundleDir);
  const { input } = bundle.manifest;
  const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-device-check-'));
  const single = new InferenceWorker({ modelPath: bundle.generalistPath, executionProviders: [provider], inputName: input.name, outputName: bundle.manifest.output.name, lambdaInputName: 'lambda' });
  const engine = await T3Engine.open(bundle, { executionProviders: [provider], cacheDir, fixedPassSessions: 'plain', log: options.log });
  try {
    await single.start();
    const rows: RatioRow[] = [];
    const t3b = defaultPolicyConfig('t3b');
    for (const batch of options.batchSizes) {
      const p = pixels(batch, input.width, batch);
      const dims = [batch, input.channels, input.height, input.width];
      const ms = await medians({
        single: () => single.run(p, dims, null),
        plainPass: () => engine.passLogits(p, batch, 0),
        mergedPass: () => engine.passLogits(p, batch, 0.5),
        t3b: () => engine.infer(p, batch, t3b),
        t3bSampled4: () => engine.infer(p, batch, t3b, { coefficientSample: spreadCoefficientSample(Array(batch).fill(''), 4) }),
      }, options.reps);
      const ips = (m: number) => batch / (m / 1000);
      const row: RatioRow = {
        provider, bundle: bundle.manifest.name, batch,
        singleImagesPerSecond: round(ips(ms.single)), t3bImagesPerSecond: round(ips(ms.t3b)), t3bSampled4ImagesPerSecond: round(ips(ms.t3bSampled4)),
        t3bOverSingle: round(ms.single / ms.t3b), t3bSampled4OverSingle: round(ms.single / ms.t3bSampled4),
        mergedPassOverPlainPass: round(ms.plainPass / ms.mergedPass),
      };
      options.log(`${provider} ${row.bundle} batch ${batch}: T3B/single ${row.t3bOverSingle}, T3B sampled k=4/single ${row.t3bSampled4OverSingle}, merged pass/plain pass ${row.mergedPassOverPlainPass} (single ${row.singleImagesPerSecond} img/s)`);
      rows.push(row);
    }
    return rows;
  } finally {
    await engine.close();
    await single.close();
    await fs.rm(cacheDir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export async function runDeviceCheck(options: DeviceCheckOptions): Promise<DeviceCheckResult> {
  const started = Date.now();
  const probeModel = path.join(options.bundles[0], 'generalist.onnx');
  const providers = await diagnoseProviders({ probeModel, providers: options.dry ? ['cpu'] : ['cuda', 'webgpu', 'cpu'] });
  for (const report of providers) options.log(formatProviderReport(report));
  // The CPU is measured too: the reference the accelerator's ratios are read against.
  const measured = providers.filter((r) => r.canStart).map((r) => r.provider);
  const ratios: RatioRow[] = [];
  for (const provider of measured) {
    for (const dir of options.bundles) ratios.push(...await measure(provider, dir, options));
  }
  const result: DeviceCheckResult = {
    date: new Date().toISOString(),
    dry: options.dry,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryMB: Math.round(os.totalmem() / 2 ** 20), node: process.version, onnxruntimeNode: installedOnnxruntimeVersion() },
    providers,
    measured,
    ratios,
    peakRssMB: peakResidentSetMB(),
    wallSeconds: Math.round((Date.now() - started) / 1000),
  };
  if (options.out) {
    await fs.mkdir(path.dirname(path.resolve(options.out)), { recursive: true });
    await fs.writeFile(options.out, JSON.stringify(result, null, 2) + '\n');
  }
  return result;
}

/** `device-check [--dry] [--out FILE] [--reps N] [--batch-sizes 1,8,32] BUNDLE_DIR...` */
export async function deviceCheckMain(argv: string[]): Promise<number> {
  const bundles: string[] = [];
  let dry = false;
  let out: string | null = null;
  let reps = 5;
  let batchSizes = [1, 8, 32];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--dry') dry = true;
    else if (arg === '--out') out = argv[++i];
    else if (arg === '--reps') reps = Number(argv[++i]);
    else if (arg === '--batch-sizes') batchSizes = argv[++i].split(',').map(Number);
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else bundles.push(arg);
  }
  if (bundles.length === 0) throw new Error('name at least one bundle folder');
  if (!Number.isInteger(reps) || reps < 1 || batchSizes.some((b) => !Number.isInteger(b) || b < 1)) throw new Error('--reps and --batch-sizes take positive integers');
  const log = (line: string) => process.stdout.write(`device-check: ${line}\n`);
  const result = await runDeviceCheck({ bundles, dry, batchSizes, reps: dry ? Math.min(reps, 2) : reps, out, log });
  process.stdout.write(`${'provider'.padEnd(8)} ${'bundle'.padEnd(22)} batch  T3B/single  sampled4/single  merged/plain pass\n`);
  for (const r of result.ratios) {
    process.stdout.write(`${r.provider.padEnd(8)} ${r.bundle.padEnd(22)} ${String(r.batch).padStart(5)}  ${String(r.t3bOverSingle).padStart(10)}  ${String(r.t3bSampled4OverSingle).padStart(15)}  ${String(r.mergedPassOverPlainPass).padStart(17)}\n`);
  }
  if (out) log(`wrote ${out}`);
  return 0;
}

if (require.main === module) {
  deviceCheckMain(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
    process.stderr.write(`device-check: ${(error as Error).message}\n`);
    process.exitCode = 1;
  });
}
