// Accuracy of the λ_B estimators beside full T3B (docs/LAMBDA-ESTIMATORS.md): sequential sampling, series reuse and
// both, at each batch size, on the clean splits, eval's pooled stream and two streams of whole series (homogeneous,
// and mixed: series of different domains interleaved batch by batch), with the paired bootstrap interval against
// full T3B, full T3B's 95 % Wilson interval, passes per image actually run and the λ_B moved.
//   npx tsx bench/estimator-accuracy.ts [--bundle DIR] [--data DIR] [--batch-sizes 8,32] [--series-length 128]
//     [--estimators sequential,series,series-sequential] [--bootstrap 1000] [--pooled-series by-split|one]
//     [--confidence C] [--min-images N] [--max-images N] [--step N] [--check-images K] [--tolerance T] [--out FILE]
//     [--estimation-precision int8]
// The estimators' settings are the bundle's t3.estimators (or the defaults), with any of these flags applied.
// --estimation-precision int8 runs the estimators on a second engine whose estimation passes are int8 (the references,
// full T3B and grouped T3B, stay float32 on the first): the two combined, against full precision.
import { promises as fs } from 'node:fs';
import { T3Engine } from '../src/engine';
import {
  compareEstimators, estimatorComparisonMarkdown, prepareSplit, T3B_ESTIMATORS, type EstimatorRow, type PooledSeries, type T3bEstimatorName,
} from '../src/evaluation';
import { defaultLambdaEstimatorSettings, validateLambdaEstimatorSettings } from '../src/t3';
import { loadBundleAndSplits, option } from './labelled-splits-args';

async function main(argv: string[]): Promise<void> {
  const batchSizes = (option(argv, 'batch-sizes') ?? '8,32').split(',').map(Number);
  const seriesLength = Number(option(argv, 'series-length') ?? 128);
  const estimators = (option(argv, 'estimators') ?? T3B_ESTIMATORS.join(',')).split(',') as T3bEstimatorName[];
  const replicates = Number(option(argv, 'bootstrap') ?? 1000);
  const pooledSeries = (option(argv, 'pooled-series') ?? 'by-split') as PooledSeries;
  const { bundle, splits: labelled } = await loadBundleAndSplits(argv);
  const settings = bundle.manifest.lambdaEstimators ?? defaultLambdaEstimatorSettings();
  const numeric = (name: string): number | undefined => (option(argv, name) === undefined ? undefined : Number(option(argv, name)));
  const sequentialFlags = { confidence: numeric('confidence'), minImages: numeric('min-images'), maxImages: numeric('max-images'), step: numeric('step'), lambdaTolerance: numeric('tolerance') };
  for (const [key, value] of Object.entries(sequentialFlags)) if (value !== undefined) (settings.sequential as unknown as Record<string, number>)[key] = value;
  if (numeric('check-images') !== undefined) settings.seriesReuse.checkImages = numeric('check-images')!;
  if (numeric('tolerance') !== undefined) settings.seriesReuse.lambdaTolerance = numeric('tolerance')!;
  validateLambdaEstimatorSettings(settings, 'settings');
  const splits = labelled.map((s) => prepareSplit(s.name, s.images, bundle.manifest.input));
  const engineOptions = { executionProviders: ['cpu' as const], log: (line: string) => { process.stderr.write(`${line}\n`); } };
  const engine = await T3Engine.open(bundle, engineOptions);
  const precision = option(argv, 'estimation-precision') ?? 'float32';
  if (precision !== 'float32' && precision !== 'int8') throw new Error(`--estimation-precision must be float32 or int8, got ${precision}`);
  const estimatorEngine = precision === 'int8' ? await T3Engine.open(bundle, { ...engineOptions, estimationPrecision: 'int8' }) : null;
  const started = performance.now();
  let rows;
  try {
    rows = await compareEstimators({
      runner: engine, ...(estimatorEngine ? { estimatorRunner: estimatorEngine } : {}), splits, batchSizes, estimators, hyperparameters: { ...bundle.manifest.t3 },
      estimatorSettings: settings, pooledSeries,
      // Chunks of the largest batch size: every batch of the mixed series stream holds one series.
      series: { seriesLength, chunk: Math.max(...batchSizes) },
      bootstrap: { replicates, seed: 1 },
      progress: (line) => process.stderr.write(`estimator-accuracy: ${line}\n`),
    });
  } finally {
    await engine.close();
    await estimatorEngine?.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const estimatorRows = rows.filter((r) => r.estimator !== 'full');
  const summary = estimators.map((name) => {
    const mine = estimatorRows.filter((r) => r.estimator === name);
    const outside = mine.filter((r) => !r.insideFullInterval);
    const below = mine.filter((r) => !r.notBelowFullInterval);
    const zeroOutside = mine.filter((r) => r.againstFull.low > 0 || r.againstFull.high < 0);
    const own = mine.filter((r) => r.againstGrouped);
    const ownText = own.length ? `; inside full grouped T3B's 95 % interval on ${own.filter((r) => r.againstGrouped!.inside).length}/${own.length}` : '';
    const where = (rows: EstimatorRow[]) => rows.map((r) => `${r.stream} B=${r.batchSize}`).join(', ');
    return `${name}: inside full T3B's 95 % interval on ${mine.length - outside.length}/${mine.length} (stream, B)${outside.length ? ` (outside: ${where(outside)}; below it: ${below.length ? where(below) : 'none'})` : ''}${ownText}; paired interval excludes 0 on ${zeroOutside.length}/${mine.length}; passes/image ${Math.min(...mine.map((r) => r.passesPerImage)).toFixed(2)}–${Math.max(...mine.map((r) => r.passesPerImage)).toFixed(2)}`;
  });
  process.stdout.write([`map (bundle t3): ${JSON.stringify(bundle.manifest.t3)}`, `settings: ${JSON.stringify(settings)}; pooled series: ${pooledSeries}; estimators' estimation passes: ${precision}`, '', estimatorComparisonMarkdown(rows), '', ...summary, `(${seconds.toFixed(0)} s)`].join('\n') + '\n');
  const out = option(argv, 'out');
  if (out) await fs.writeFile(out, JSON.stringify({ bundle: bundle.manifest.name, map: bundle.manifest.t3, estimationPrecision: precision, batchSizes, seriesLength, estimators, settings, pooledSeries, replicates, rows, summary, seconds }, null, 2) + '\n');
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`estimator-accuracy: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
