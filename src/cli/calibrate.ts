import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { providersOption } from './providers-option';
import { optionNumber, optionString, parseArgs } from './parse-args';
import { demoBundleDir, loadBundle, T3Engine, type ModelBundle } from '../engine';
import { dicomReader } from './eval';
import { defaultPolicyConfig } from '../t3';
import {
  calibrationWarnings,
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

Nothing is written unless you say where: --bundle DIR names the bundle to rewrite, or --out FILE receives a copy
of bundle.json with the new temperatures. Without either, the shipped demo bundle is calibrated and the result only
printed. A fit at the edge of the search range or on fewer than 50 images is warned about.

options:
  --bundle DIR         model bundle to calibrate and rewrite (default: the demo bundle, bundles/demo-trained, not rewritten)
  --out FILE           write the calibrated bundle.json here instead (the bundle folder is left as it is)
  --data DIR           labelled calibration images (required)
  --limit N            use the first N images
  --dry-run            print the fitted temperatures without writing anything
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

/**
 * Writes bundle.json with only its "temperatures" changed, keeping every other field as written: into the bundle
 * folder itself, or to `outFile`.
 */
export async function writeBundleTemperatures(bundleDir: string, temperatures: { generalist: number; expert: number }, outFile?: string): Promise<string> {
  const file = path.join(bundleDir, 'bundle.json');
  const raw = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  raw.temperatures = temperatures;
  const target = outFile ?? file;
  const tmp = `${target}.tmp-${process.pid}`;
  await fs.writeFile(tmp, JSON.stringify(raw, null, 2) + '\n');
  await fs.rename(tmp, target);
  return target;
}

export const calibrateCommand: CliCommand = {
  name: 'calibrate',
  summary: "fit the generalist's and the expert's temperatures on labelled images and write them into bundle.json",
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['bundle', 'data', 'limit', 'providers', 'out'], flags: ['help', 'dry-run'] });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    const dataDir = optionString(args, 'data');
    if (!dataDir) throw new UsageError('--data DIR is required (orthanc-t3 calibrate --help)');
    if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const limit = optionNumber(args, 'limit', (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
    const executionProviders = providersOption(args);

    const namedBundle = optionString(args, 'bundle');
    const outFile = optionString(args, 'out');
    const bundle = await loadBundle(namedBundle ?? demoBundleDir());
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
    const warnings = calibrationWarnings(fits, split.images.length);
    for (const warning of warnings) io.stderr.write(`calibrate: warning: ${warning}\n`);
    // The shipped bundle is rewritten only when named explicitly; an output file is always an explicit choice.
    const writeTo = args.options.has('dry-run') ? null : outFile !== undefined ? path.resolve(outFile) : namedBundle !== undefined ? path.join(bundle.dir, 'bundle.json') : null;
    if (writeTo === null && !args.options.has('dry-run')) {
      io.stderr.write(`calibrate: nothing written: the demo bundle (${bundle.dir}) is rewritten only when named with --bundle; or give --out FILE\n`);
    }
    if (writeTo !== null) await writeBundleTemperatures(bundle.dir, temperatures, outFile !== undefined ? writeTo : undefined);
    io.stdout.write(JSON.stringify({
      bundle: bundle.dir, images: split.images.length, written: writeTo !== null, ...(writeTo !== null ? { writtenTo: writeTo } : {}), warnings,
      previous: bundle.manifest.temperatures,
      generalist: { temperature: fits.generalist.temperature, nll_before: fits.generalist.nllBefore, nll_after: fits.generalist.nllAfter },
      expert: { temperature: fits.expert.temperature, nll_before: fits.expert.nllBefore, nll_after: fits.expert.nllAfter },
    }) + '\n');
    return split.failures.length === 0 ? ExitCode.ok : ExitCode.partialFailure;
  },
};
