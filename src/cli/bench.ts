import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand } from './command';
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
`;

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
