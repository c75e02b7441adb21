// Command-line handling shared by the accuracy benches (estimator-accuracy.ts, sampled-accuracy.ts): `--name value`
// flags, and the bundle and labelled splits that --bundle and --data name.
import path from 'node:path';
import { dicomReader } from '../src/cli/eval';
import { demoBundleDir, loadBundle, type ModelBundle } from '../src/engine';
import { discoverSplits, loadLabelledSplit, type LabelledSplit } from '../src/evaluation';

/** The value after `--name` on the command line, or undefined when the flag is absent. */
export function option(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
}

/**
 * The bundle of --bundle (default: the demo bundle) and every labelled split under --data (default: the bundle's
 * eval/ folder), DICOM files read as the bundle's evaluation reads them. The calibration split is left out: the
 * temperatures were fitted on it, so an accuracy measured there would flatter the model.
 */
export async function loadBundleAndSplits(argv: string[]): Promise<{ bundle: ModelBundle; splits: LabelledSplit[] }> {
  const bundleDir = option(argv, 'bundle') ?? demoBundleDir();
  const dataDir = option(argv, 'data') ?? path.join(bundleDir, 'eval');
  const bundle = await loadBundle(bundleDir);
  const splits: LabelledSplit[] = [];
  for (const s of await discoverSplits(dataDir, ['calibration'])) {
    splits.push(await loadLabelledSplit(s.dir, s.name, bundle.manifest.classes, { readDicom: dicomReader(bundle) }));
  }
  return { bundle, splits };
}
