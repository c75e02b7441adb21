import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { providersOption } from './providers-option';
import { optionNumber, optionString, parseArgs } from './parse-args';
import { demoBundleDir, loadBundle, T3Engine, type ModelBundle } from '../engine';
import { dicomReader } from './eval';
import { defaultPolicyConfig } from '../t3';
import {
  fitTemperature,
  LABELS_FILE,
  loadLabelledSplit,
  prepareSplit,
  type TemperatureFit,
} from '../evaluation';

const HELP = `usage: orthanc-t3 calibrate --data DIR [options]

Fits the temperatures of the bundle's generalist and expert (temperature scaling: the T minimising the negative
log-likelihood of softmax(logits / T) on labelled images) and writes them into bundle.json "temperatures"; nothing
else in the bundle changes. T3 compares the two models' output distributions, so aligning their calibration is
part of the method (docs/T3.md, output distribution alignment).

DIR is a labelled folder (labels.csv + PNG or DICOM files), or a folder with a calibration/ subfolder. Use images
that are not in your test splits.

options:
  --bundle DIR         model bundle to calibrate (default: the demo bundle, bundles/demo-trained)
  --data DIR           labelled calibration images (required)
  --limit N            use the first N images
  --dry-run            print the fitted temperatures without writing bundle.json
  --providers LIST     execution providers to try in order (default cuda,webgpu,cpu)
`;

const BATCH = 64;

async function calibrationFolder(dataDir: string): Promise<string> {
  const has = async (dir: string) => (await fs.stat(path.join(dir, LABELS_FILE)).catch(() => null))?.isFile() ?? false;
  if (await has(dataDir)) return dataDir;
  const sub = path.join(dataDir, 'calibration');
  if (await has(sub)) return sub;
  throw new UsageError(`--data ${dataDir}: neither it nor its calibration/ subfolder holds ${LABELS_FILE}`);
}

/** The bundle with temperatures 1, so the engine's generalist and expert outputs are the models' own softmax. */
function withUnitTemperatures(bundle: ModelBundle): ModelBundle {
  return { ...bundle, manifest: { ...bundle.manifest, temperatures: { generalist: 1, expert: 1 } } };
}

/** Rewrites only the "temperatures" field of bundle.json, keeping every other field as written. */
export async function writeBundleTemperatures(bundleDir: string, temperatures: { generalist: number; expert: number }): Promise<void> {
  const file = path.join(bundleDir, 'bundle.json');
  const raw = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  raw.temperatures = temperatures;
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, JSON.stringify(raw, null, 2) + '\n');
  await fs.rename(tmp, file);
}

export const calibrateCommand: CliCommand = {
  name: 'calibrate',
  summary: "fit the generalist's and the expert's temperatures on labelled images and write them into bundle.json",
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['bundle', 'data', 'limit', 'providers'], flags: ['help', 'dry-run'] });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    const dataDir = optionString(args, 'data');
    if (!dataDir) throw new UsageError('--data DIR is required (orthanc-t3 calibrate --help)');
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const limit = optionNumber(args, 'limit', (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
    const executionProviders = providersOption(args);

    const bundle = await loadBundle(optionString(args, 'bundle') ?? demoBundleDir());
    const spec = bundle.manifest.input;
    const readDicom = dicomReader(bundle);
    const folder = await calibrationFolder(dataDir);
    const split = await loadLabelledSplit(folder, path.basename(folder), bundle.manifest.classes, { limit, readDicom });
    for (const failure of split.failures) io.stderr.write(`calibrate: ${failure.file}: ${failure.error}\n`);
    if (split.images.length === 0) throw new UsageError(`${folder}: no readable labelled images`);
    const prepared = prepareSplit(split.name, split.images, spec);
    const perImage = spec.channels * spec.width * spec.height;

    const engine = await T3Engine.open(withUnitTemperatures(bundle), { executionProviders, log: (line) => io.stderr.write(line + '\n') });
    const fits: Record<'generalist' | 'expert', TemperatureFit> = {} as Record<'generalist' | 'expert', TemperatureFit>;
    try {
      for (const role of ['generalist', 'expert'] as const) {
        const logProbabilities: number[][] = [];
        for (let start = 0; start < prepared.labels.length; start += BATCH) {
          const n = Math.min(BATCH, prepared.labels.length - start);
          const result = await engine.infer(prepared.tensors.subarray(start * perImage, (start + n) * perImage), n, defaultPolicyConfig(role));
          // ln softmax(z) differs from z by a per-image constant, which temperature scaling ignores.
          for (const image of result.images) logProbabilities.push(image.probabilities.map((p) => Math.log(Math.max(p, 1e-300))));
        }
        fits[role] = fitTemperature(logProbabilities, prepared.labels);
      }
    } finally {
      await engine.close();
    }
    const temperatures = { generalist: fits.generalist.temperature, expert: fits.expert.temperature };
    const dryRun = args.options.has('dry-run');
    if (!dryRun) await writeBundleTemperatures(bundle.dir, temperatures);
    io.stdout.write(JSON.stringify({
      bundle: bundle.dir, images: split.images.length, written: !dryRun,
      previous: bundle.manifest.temperatures,
      generalist: { temperature: fits.generalist.temperature, nll_before: fits.generalist.nllBefore, nll_after: fits.generalist.nllAfter },
      expert: { temperature: fits.expert.temperature, nll_before: fits.expert.nllBefore, nll_after: fits.expert.nllAfter },
    }) + '\n');
    return split.failures.length === 0 ? ExitCode.ok : ExitCode.partialFailure;
  },
};
