import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand } from './command';
import { optionNumber, optionString, parseArgs } from './parse-args';

const HELP = `usage: orthanc-t3 bench [--reps N] [--vit-reps N] [--batch-sizes 1,8,32] [--max-seconds S]
                       [--threads N] [--skip-vit] [--skip-demo] [--vit-dir DIR] [--out FILE]

Engine benchmark on the demo bundle and on a ViT-B/16-sized pair generated into the OS temp dir with
/usr/bin/python3 (python3-torch, python3-onnx). Prints one JSON summary on stdout, progress on stderr.
  --reps N          timed repetitions per measurement on the demo bundle (default 5)
  --vit-reps N      timed repetitions per measurement on the ViT-B pair (default 1)
  --max-seconds S   stop repeating a measurement after S seconds (default 60)
  --vit-dir DIR     reuse a pair (generalist.onnx, expert.onnx) instead of generating one`;

/** Shape of bench/engine-bench.ts's options (declared here: bench/ is outside the compiled src/ tree). */
interface EngineBenchModule {
  DEFAULT_ENGINE_BENCH_OPTIONS: { batchSizes: number[]; reps: number; vitReps: number; maxSecondsPerMeasure: number };
  runEngineBench(options: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** The benchmark lives in bench/ (beside src/, not compiled into dist/), so it is loaded through tsx at run time. */
function loadBench(): EngineBenchModule {
  require('tsx/cjs');
  return require(path.resolve(__dirname, '..', '..', 'bench', 'engine-bench.ts')) as EngineBenchModule;
}

export const benchCommand: CliCommand = {
  name: 'bench',
  summary: 'engine benchmark (images/s, RSS, session start)',
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['reps', 'vit-reps', 'batch-sizes', 'max-seconds', 'threads', 'vit-dir', 'out'], flags: ['skip-vit', 'skip-demo', 'help'] });
    if (args.options.get('help')) {
      io.stdout.write(HELP + '\n');
      return ExitCode.ok;
    }
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
    const batchText = optionString(args, 'batch-sizes');
    const batchSizes = batchText?.split(',').map((t) => {
      const n = Number(t.trim());
      if (!positiveInt(n)) throw new UsageError(`--batch-sizes must list positive integers, got "${batchText}"`);
      return n;
    });
    const bench = loadBench();
    const defaults = bench.DEFAULT_ENGINE_BENCH_OPTIONS;
    const summary = await bench.runEngineBench({
      ...defaults,
      batchSizes: batchSizes ?? defaults.batchSizes,
      reps: optionNumber(args, 'reps', positiveInt, 'a positive integer') ?? defaults.reps,
      vitReps: optionNumber(args, 'vit-reps', positiveInt, 'a positive integer') ?? defaults.vitReps,
      maxSecondsPerMeasure: optionNumber(args, 'max-seconds', (n) => n > 0, 'a positive number') ?? defaults.maxSecondsPerMeasure,
      intraOpThreads: optionNumber(args, 'threads', positiveInt, 'a positive integer'),
      skipVit: args.options.get('skip-vit') === true,
      skipDemo: args.options.get('skip-demo') === true,
      vitDir: optionString(args, 'vit-dir'),
      log: (line: string) => io.stderr.write(`bench: ${line}\n`),
    });
    const text = JSON.stringify(summary, null, 2);
    const out = optionString(args, 'out');
    if (out) {
      await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
      await fs.writeFile(out, text + '\n');
    }
    io.stdout.write(text + '\n');
    return ExitCode.ok;
  },
};
