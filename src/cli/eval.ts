import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { providersOption } from './providers-option';
import { optionNumber, optionString, parseArgs, type ParsedArgs } from './parse-args';
import { demoBundleDir, loadBundle, policyForBundle, T3Engine, type ModelBundle } from '../engine';
import { loadModelInputs } from '../dicom';
import type { T3Hyperparameters } from '../t3';
import {
  checkSplitNames,
  CORRUPTION_NAMES,
  DEFAULT_BOOTSTRAP,
  DEFAULT_T3B_BATCH_SIZES,
  DEFAULT_WISE_ALPHAS,
  discoverSplits,
  T3B_ESTIMATORS,
  type T3bEstimatorName,
  evaluationMarkdown,
  evaluationPolicies,
  evaluationSvg,
  EvaluationInputError,
  fromModelTensor,
  loadLabelledSplit,
  parseCorruptionName,
  POOLED_SPLIT,
  runEvaluation,
  selectPolicies,
  SEVERITIES,
  type CorruptionName,
  type DicomImageReader,
  type EvaluationResult,
  type LabelledSplit,
} from '../evaluation';

const HELP = `usage: orthanc-t3 eval --data DIR [options]

Evaluates a model bundle on labelled images: top-1 accuracy of every policy (generalist, expert, WiSE-FT α sweep,
ensemble, DaWin, T3, T3B at several batch sizes) on each clean split, on corrupted copies of one split
(Gaussian noise, blur, contrast, brightness, JPEG, pixelation at severities 1-5), mCE with the generalist as
reference, and λ against corruption severity. Prints the Markdown tables; --out also writes JSON and an SVG plot.

DIR is a labelled folder (labels.csv with "file,label" columns + PNG or DICOM files), or a folder of such folders
(one split each, e.g. in-domain/ and shifted/). Labels are bundle class labels or their code values. A split may
not be called "${POOLED_SPLIT}" or "corrupted (mean)": eval reserves those names for its own streams.

options:
  --bundle DIR            model bundle (default: the demo bundle, bundles/demo-trained)
  --data DIR              labelled data (required)
  --out DIR               write evaluation.json, evaluation.md and evaluation.svg there
  --limit N               use the first N images of each clean split
  --corrupted-limit N     images per corrupted split (default: as --limit)
  --corrupt SPLIT         the split to corrupt (default: in-domain, else the first split)
  --corruptions LIST      comma-separated subset of ${CORRUPTION_NAMES.join(', ')}, or "none"
  --severities LIST       comma-separated severities (default 1,2,3,4,5)
  --batch-sizes LIST      T3B batch sizes (default ${DEFAULT_T3B_BATCH_SIZES.join(',')})
  --coefficient-samples LIST  also T3B at the largest batch size with λ_B from k images per batch, for each k
  --lambda-estimators LIST  also T3B at every batch size with λ_B from an estimator (docs/LAMBDA-ESTIMATORS.md):
                          ${T3B_ESTIMATORS.join(', ')} (rows t3b-<estimator>-<B>; the bundle's t3.estimators settings)
  --wise-alphas LIST      WiSE-FT α values (default ${DEFAULT_WISE_ALPHAS.join(',')})
  --policies LIST         run and report only these: policy names (generalist, expert, wise, ensemble, dawin, t3,
                          t3b; a name keeps all its rows) or row ids (wise-0.5, t3b-32, ...). The comparison with
                          the better single model needs generalist and expert; mCE needs the generalist
  --exclude LIST          subfolders that are not test splits (default calibration)
  --no-pooled             do not add the "${POOLED_SPLIT}" stream (every clean split's images shuffled into one
                          stream, so T3B batches mix domains; its images are those of the other splits, so it is
                          not independent evidence). --no-mixed is the same (its former name)
  --oracle-lambdas LIST   fixed λ of the oracle-λ curve (default -0.2 to 1.2 by 0.1; "none" to skip)
  --bootstrap N           replicates of the paired bootstrap intervals (default 2000; blocks of 32 images)
  --title TEXT            heading of the Markdown and the plot
  --providers LIST        execution providers to try in order (default cuda,webgpu,cpu)
  --quick                 a smoke run in seconds: 16 images per clean split, 8 per corrupted split,
                          severities 1,3,5, T3B batch sizes 1,8, WiSE α 0.5
`;

/** The oracle-λ curve's default: −0.2 to 1.2 by 0.1 (extrapolation on both sides). */
const DEFAULT_ORACLE_LAMBDAS = Array.from({ length: 15 }, (_, i) => Number((-0.2 + 0.1 * i).toFixed(1)));

function numberList(args: ParsedArgs, name: string, check: (n: number) => boolean, what: string): number[] | undefined {
  const raw = optionString(args, name);
  if (raw === undefined) return undefined;
  const values = raw.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || !check(v))) {
    throw new UsageError(`--${name} must be a comma-separated list of ${what}, got "${raw}"`);
  }
  return values;
}

/** Reads a labelled DICOM image as the model sees it (middle frame, the bundle's preprocessing). */
export function dicomReader(bundle: ModelBundle): DicomImageReader {
  const spec = bundle.manifest.input;
  return async (bytes, source) => {
    const { frames } = await loadModelInputs(bytes, spec, { framePolicy: 'middle', source });
    return fromModelTensor(frames[0].tensor, spec);
  };
}

/** JSON replacer keeping 6 significant digits: the report stays readable and diffs stay small. */
function roundNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && Number.isFinite(value) && !Number.isInteger(value) ? Number(value.toPrecision(6)) : value;
}

/** Indented JSON with arrays of plain numbers on one line (the per-batch λ lists would otherwise take a line each). */
function reportJson(report: unknown): string {
  return JSON.stringify(report, roundNumbers, 2).replace(/\[\s+(-?[\d.e+-]+(?:,\s+-?[\d.e+-]+)*)\s+\]/g,
    (_match, inner: string) => `[${inner.split(/,\s+/).join(', ')}]`) + '\n';
}

export interface EvalOutputs {
  json: string;
  markdown: string;
  svg: string;
}

/** Writes the three report files; returns their paths. */
export async function writeEvaluationOutputs(outDir: string, outputs: EvalOutputs): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  const files = [
    [path.join(outDir, 'evaluation.json'), outputs.json],
    [path.join(outDir, 'evaluation.md'), outputs.markdown],
    [path.join(outDir, 'evaluation.svg'), outputs.svg],
  ] as const;
  for (const [file, text] of files) await fs.writeFile(file, text);
  return files.map(([file]) => file);
}

/** --corruptions: the names given, "none", or every corruption when left out. */
function corruptionsOption(text: string | undefined): CorruptionName[] {
  if (text === undefined) return [...CORRUPTION_NAMES];
  if (text.trim() === 'none') return [];
  try {
    return text.split(',').filter((s) => s.trim()).map(parseCorruptionName);
  } catch (err) {
    throw new UsageError(`--corruptions: ${(err as Error).message}`);
  }
}

/** Runs `check`; an EvaluationInputError (a name the user typed) becomes a UsageError prefixed with `what`. */
function asUsageError<T>(what: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof EvaluationInputError) throw new UsageError(`${what}: ${err.message}`);
    throw err;
  }
}

/** Reads every split found; each file that cannot be used is reported on stderr and left out. */
async function loadSplits(
  found: readonly { name: string; dir: string }[],
  classes: ModelBundle['manifest']['classes'],
  options: Parameters<typeof loadLabelledSplit>[3],
  io: CliIo,
): Promise<LabelledSplit[]> {
  const splits: LabelledSplit[] = [];
  for (const s of found) {
    const split = await loadLabelledSplit(s.dir, s.name, classes, options);
    for (const failure of split.failures) io.stderr.write(`eval: ${s.name}/${failure.file}: ${failure.error}\n`);
    splits.push(split);
  }
  return splits;
}

/** The split --corrupt names (in-domain, else the first, by default); a UsageError if it is needed and missing. */
function corruptionBaseSplit(splits: LabelledSplit[], name: string | undefined, needed: boolean): LabelledSplit | undefined {
  const corruptName = name ?? (splits.some((s) => s.name === 'in-domain') ? 'in-domain' : splits[0].name);
  const split = splits.find((s) => s.name === corruptName);
  if (!split && needed) throw new UsageError(`--corrupt: no split named "${corruptName}" (found ${splits.map((s) => s.name).join(', ')})`);
  return split;
}

/** report.json: the bundle as evaluated, what the engine applied, the data read, and the evaluation's result. */
function evaluationReport(
  bundle: ModelBundle,
  hyperparameters: T3Hyperparameters,
  splits: LabelledSplit[],
  executionProvider: string,
  result: EvaluationResult,
) {
  return {
    bundle: {
      name: bundle.manifest.name, version: bundle.manifest.version,
      models: bundle.manifest.models, temperatures: bundle.manifest.temperatures, t3: bundle.manifest.t3,
      t3Fit: bundle.manifest.t3Fit,
    },
    // What the engine actually ran with: the bundle's map with its fitted temperatures on tPt and tFt, and every
    // pass softmaxed at T(λ) = T_pt^(1−λ)·T_ft^λ (src/t3/merged-temperature.ts).
    applied: {
      t3: { ...hyperparameters, tPt: bundle.manifest.temperatures.generalist, tFt: bundle.manifest.temperatures.expert },
      passTemperature: 'T(λ) = T_pt^(1−λ) · T_ft^λ: the generalist\'s at λ = 0, the expert\'s at λ = 1, log-interpolated between',
    },
    data: { splits: splits.map((s) => ({ name: s.name, images: s.images.length, failures: s.failures })) },
    executionProvider,
    ...result,
  };
}

export const evalCommand: CliCommand = {
  name: 'eval',
  summary: 'evaluate a bundle: top-1, mCE and λ of every policy on clean, shifted and corrupted splits',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, {
      values: ['bundle', 'data', 'out', 'limit', 'corrupted-limit', 'corrupt', 'corruptions', 'severities', 'batch-sizes',
        'wise-alphas', 'exclude', 'title', 'providers', 'oracle-lambdas', 'bootstrap', 'coefficient-samples', 'policies',
        'lambda-estimators'],
      flags: ['help', 'quick', 'no-mixed', 'no-pooled'],
    });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    const dataDir = optionString(args, 'data');
    if (!dataDir) throw new UsageError('--data DIR is required (orthanc-t3 eval --help)');
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const quick = args.options.has('quick');
    const positiveInteger = (n: number) => Number.isInteger(n) && n >= 1;
    const limit = optionNumber(args, 'limit', positiveInteger, 'a positive integer') ?? (quick ? 16 : undefined);
    const corruptedLimit = optionNumber(args, 'corrupted-limit', positiveInteger, 'a positive integer') ?? (quick ? 8 : limit);
    const severities = numberList(args, 'severities', (n) => Number.isInteger(n) && n >= 1 && n <= 5, 'integers from 1 to 5')
      ?? (quick ? [1, 3, 5] : [...SEVERITIES]);
    const batchSizes = numberList(args, 'batch-sizes', positiveInteger, 'positive integers') ?? (quick ? [1, 8] : [...DEFAULT_T3B_BATCH_SIZES]);
    const coefficientSamples = numberList(args, 'coefficient-samples', positiveInteger, 'positive integers') ?? [];
    const estimatorNames = (optionString(args, 'lambda-estimators') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const unknownEstimator = estimatorNames.find((n) => !(T3B_ESTIMATORS as readonly string[]).includes(n));
    if (unknownEstimator !== undefined) throw new UsageError(`--lambda-estimators: unknown estimator "${unknownEstimator}"; expected ${T3B_ESTIMATORS.join(', ')}`);
    const wiseAlphas = numberList(args, 'wise-alphas', (n) => n >= 0 && n <= 1, 'numbers in [0, 1]') ?? (quick ? [0.5] : [...DEFAULT_WISE_ALPHAS]);
    const corruptions = corruptionsOption(optionString(args, 'corruptions'));
    const exclude = (optionString(args, 'exclude') ?? 'calibration').split(',').map((s) => s.trim()).filter(Boolean);
    const oracleLambdas = optionString(args, 'oracle-lambdas') === 'none' ? null
      : numberList(args, 'oracle-lambdas', Number.isFinite, 'numbers') ?? (quick ? [0, 0.5, 1] : DEFAULT_ORACLE_LAMBDAS);
    const replicates = optionNumber(args, 'bootstrap', positiveInteger, 'a positive integer') ?? DEFAULT_BOOTSTRAP.replicates;
    const executionProviders = providersOption(args);
    const policiesText = optionString(args, 'policies');
    const pooledStream = !args.options.has('no-mixed') && !args.options.has('no-pooled');

    const bundle = await loadBundle(optionString(args, 'bundle') ?? demoBundleDir());
    const classes = bundle.manifest.classes;
    const readDicom = dicomReader(bundle);
    const hyperparameters = policyForBundle(bundle, 't3b').hyperparameters;
    let policies = evaluationPolicies({ wiseAlphas, t3bBatchSizes: batchSizes, defaultBatchSize: 32, hyperparameters, t3bCoefficientSamples: coefficientSamples,
      t3bEstimators: estimatorNames as T3bEstimatorName[], ...(bundle.manifest.lambdaEstimators ? { estimatorSettings: bundle.manifest.lambdaEstimators } : {}) });
    const found = await discoverSplits(dataDir, exclude);
    // Both checks come before any image is read or any model is loaded: a typo should cost nothing.
    if (policiesText !== undefined) {
      policies = asUsageError('--policies', () => selectPolicies(policies, policiesText.split(',').map((s) => s.trim()).filter(Boolean)));
    }
    asUsageError(dataDir, () => checkSplitNames(found.map((s) => s.name)));
    const splits = await loadSplits(found, classes, { limit, readDicom }, io);
    const corruptSplit = corruptionBaseSplit(splits, optionString(args, 'corrupt'), corruptions.length > 0);

    const engine = await T3Engine.open(bundle, { executionProviders, log: (line) => io.stderr.write(line + '\n') });
    let result: EvaluationResult;
    try {
      result = await runEvaluation({
        runner: engine,
        spec: bundle.manifest.input,
        policies,
        splits,
        corruptionBase: corruptSplit && corruptions.length ? { split: corruptSplit, limit: corruptedLimit } : null,
        corruptions,
        severities,
        referencePolicyId: 'generalist',
        mixedSplit: pooledStream,
        ...(oracleLambdas ? { oracleLambdas } : {}),
        bootstrap: { ...DEFAULT_BOOTSTRAP, replicates },
        progress: (line) => io.stderr.write(`eval: ${line}\n`),
      });
    } finally {
      await engine.close();
    }
    const title = optionString(args, 'title') ?? `Evaluation of ${bundle.manifest.name} ${bundle.manifest.version}`;
    const markdown = evaluationMarkdown(result, title);
    const report = evaluationReport(bundle, hyperparameters, splits, engine.executionProvider, result);
    io.stdout.write(markdown + '\n');
    const outDir = optionString(args, 'out');
    if (outDir) {
      const files = await writeEvaluationOutputs(outDir, { json: reportJson(report), markdown: markdown + '\n', svg: evaluationSvg(result, title) });
      io.stderr.write(`eval: wrote ${files.join(', ')} (${result.seconds.toFixed(1)} s of evaluation)\n`);
    }
    const failures = splits.reduce((n, s) => n + s.failures.length, 0);
    return failures === 0 ? ExitCode.ok : ExitCode.partialFailure;
  },
};
