import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoBundleDir } from '../engine';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { optionNumber, optionString, parseArgs } from './parse-args';

const HELP = `usage: orthanc-t3 bench [options]

Engine benchmark on the demo bundle and on a ViT-B/16-sized pair generated into the OS temp dir with
/usr/bin/python3 (python3-torch, python3-onnx). Prints one JSON summary on stdout, progress on stderr.

options:
  --reps N             timed repetitions per measurement on the demo bundle (default 5)
  --vit-reps N         timed repetitions per measurement on the ViT-B pair (default 1)
  --batch-sizes LIST   batch sizes to measure, comma-separated (default 1,8,32)
  --max-seconds S      stop repeating a measurement after S seconds (default 60)
  --threads N          ONNX Runtime intra-op threads (default: the CPUs this process may use, as the engine)
  --skip-vit           leave out the ViT-B pair
  --skip-demo          leave out the demo bundle
  --vit-dir DIR        reuse a pair (generalist.onnx, expert.onnx) instead of generating one
  --out FILE           also write the JSON summary to FILE
  --head-of-line       instead of the engine benchmark: time to flag a 1-image study sent 1 s after the last C-STORE
                       of a 200-image study, beside the same study alone (real Orthanc from the Debian package, storescu,
                       the sidecar; --reps runs per mode, default 10; --big-images N, default 200; --gap-ms MS, default 1000;
                       --verbose: the sidecar's log lines on stderr)
`;

/** Shape of bench/engine-bench.ts's options (declared here: bench/ is outside the compiled src/ tree). */
interface EngineBenchModule {
  DEFAULT_ENGINE_BENCH_OPTIONS: { batchSizes: number[]; reps: number; vitReps: number; maxSecondsPerMeasure: number };
  runEngineBench(options: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** Shape of bench/head-of-line-bench.ts's entry points. */
interface HeadOfLineBenchModule {
  runHeadOfLineBench(options: Record<string, unknown>): Promise<Record<string, unknown>>;
  writePairBundle(pairDir: string, into: string, size: number): Promise<string>;
}

/** The benchmarks live in bench/ (beside src/, not compiled into dist/), so they are loaded through tsx at run time. */
function loadBench<T>(file: string): T {
  require('tsx/cjs');
  return require(path.resolve(__dirname, '..', '..', 'bench', file)) as T;
}

/** The ViT-B pair's folder: --vit-dir, or the one the engine benchmark generates and keeps (made here if missing). */
async function vitPairDir(given: string | undefined, log: (line: string) => void): Promise<{ dir: string; remove: boolean }> {
  if (given) return { dir: given, remove: false };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-hol-vitb-'));
  log(`generating the ViT-B/16-sized pair into ${dir} (minutes)`);
  const script = path.resolve(__dirname, '..', '..', 'bench', 'make_vitb_pair.py');
  const r = spawnSync('/usr/bin/python3', [script, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed: ${(r.stderr ?? '').slice(-2000)}`);
  return { dir, remove: true };
}

/** `bench --head-of-line`: the demo pair and the ViT-B pair, each behind a large study and alone. */
async function runHeadOfLine(args: ReturnType<typeof parseArgs>, reps: number | undefined, log: (line: string) => void): Promise<Record<string, unknown>> {
  const bench = loadBench<HeadOfLineBenchModule>('head-of-line-bench.ts');
  const pairs: { name: string; bundleDir: string }[] = [];
  const cleanup: string[] = [];
  try {
    if (args.options.get('skip-demo') !== true) pairs.push({ name: 'demo-trained', bundleDir: demoBundleDir() });
    if (args.options.get('skip-vit') !== true) {
      const vit = await vitPairDir(optionString(args, 'vit-dir'), log);
      if (vit.remove) cleanup.push(vit.dir);
      const bundleDir = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-hol-bundle-'));
      cleanup.push(bundleDir);
      pairs.push({ name: 'vit-b16', bundleDir: await bench.writePairBundle(vit.dir, bundleDir, 224) });
    }
    return await bench.runHeadOfLineBench({
      reps: reps ?? 10,
      bigImages: optionNumber(args, 'big-images', (n) => Number.isInteger(n) && n > 0, 'a positive integer') ?? 200,
      gapMs: optionNumber(args, 'gap-ms', (n) => Number.isInteger(n) && n >= 0, 'a whole number of milliseconds') ?? 1000,
      pairs,
      log,
      verbose: args.options.get('verbose') === true,
    });
  } finally {
    for (const dir of cleanup) await fs.rm(dir, { recursive: true, force: true });
  }
}

export const benchCommand: CliCommand = {
  name: 'bench',
  summary: 'engine benchmark (images/s, RSS, session start)',
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['reps', 'vit-reps', 'batch-sizes', 'max-seconds', 'threads', 'vit-dir', 'out', 'big-images', 'gap-ms'], flags: ['skip-vit', 'skip-demo', 'help', 'head-of-line', 'verbose'] });
    if (args.options.get('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}" (orthanc-t3 bench --help)`);
    const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
    const batchText = optionString(args, 'batch-sizes');
    const batchSizes = batchText?.split(',').map((t) => {
      const n = Number(t.trim());
      if (!positiveInt(n)) throw new UsageError(`--batch-sizes must list positive integers, got "${batchText}"`);
      return n;
    });
    const log = (line: string) => io.stderr.write(`bench: ${line}\n`);
    const reps = optionNumber(args, 'reps', positiveInt, 'a positive integer');
    if (args.options.get('head-of-line') === true) {
      return writeSummary(await runHeadOfLine(args, reps, log), optionString(args, 'out'), io);
    }
    const bench = loadBench<EngineBenchModule>('engine-bench.ts');
    const defaults = bench.DEFAULT_ENGINE_BENCH_OPTIONS;
    const summary = await bench.runEngineBench({
      ...defaults,
      batchSizes: batchSizes ?? defaults.batchSizes,
      reps: reps ?? defaults.reps,
      vitReps: optionNumber(args, 'vit-reps', positiveInt, 'a positive integer') ?? defaults.vitReps,
      maxSecondsPerMeasure: optionNumber(args, 'max-seconds', (n) => n > 0, 'a positive number') ?? defaults.maxSecondsPerMeasure,
      intraOpThreads: optionNumber(args, 'threads', positiveInt, 'a positive integer'),
      skipVit: args.options.get('skip-vit') === true,
      skipDemo: args.options.get('skip-demo') === true,
      vitDir: optionString(args, 'vit-dir'),
      log,
    });
    return writeSummary(summary, optionString(args, 'out'), io);
  },
};

async function writeSummary(summary: Record<string, unknown>, out: string | undefined, io: CliIo): Promise<number> {
  const text = JSON.stringify(summary, null, 2);
  if (out) {
    await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
    await fs.writeFile(out, text + '\n');
  }
  io.stdout.write(text + '\n');
  return ExitCode.ok;
}
