// How far λ_B and accuracy move when T3B's two estimation passes run on int8 copies of the models
// (InferOptions.estimationPrecision; src/engine/quantized-model.ts, quantized-cache.ts) instead of the models themselves, on every clean split
// of an evaluation folder and on their pooled stream (eval's "pooled" split: the same seeded order), at each batch
// size. Both precisions run on the same engine and the same batches, so every difference is the quantization's:
//   - |Δλ_B| per batch (mean, max, and how many batches moved by more than 0.01);
//   - top-1 accuracy of full T3B with its 95 % Wilson interval, int8 T3B's accuracy and whether it falls inside;
//   - the paired block bootstrap (blocks of one batch) of int8 − full accuracy, and the share of images whose
//     predicted class is the same.
// eval's runner compares each policy with the better single model, not with full T3B, and reports no λ_B pairs:
// hence this script.
//   npx tsx bench/int8-estimation-accuracy.ts [--bundle DIR] [--data DIR] [--batches 8,32] [--out FILE]
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { dicomReader } from '../src/cli/eval';
import { demoBundleDir, loadBundle, T3Engine, type EstimationPrecision } from '../src/engine';
import {
  DEFAULT_BOOTSTRAP,
  POOLED_SPLIT,
  argmax,
  discoverSplits,
  loadLabelledSplit,
  pairedBootstrap,
  pooledOrder,
  prepareSplit,
  type PreparedSplit,
} from '../src/evaluation';
import { wilsonInterval } from '../src/evaluation/accuracy-interval';
import { defaultPolicyConfig } from '../src/t3';

function option(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
}

interface Run { lambdas: number[]; predictions: number[]; seconds: number; }

async function runT3b(engine: T3Engine, split: PreparedSplit, batch: number, precision: EstimationPrecision): Promise<Run> {
  const t3b = { ...defaultPolicyConfig('t3b'), hyperparameters: { ...engine.bundle.manifest.t3 } };
  const count = split.labels.length;
  const perImage = split.tensors.length / count;
  const lambdas: number[] = [];
  const predictions: number[] = [];
  const started = performance.now();
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const result = await engine.infer(split.tensors.subarray(start * perImage, (start + n) * perImage), n, t3b, { estimationPrecision: precision });
    if (result.estimationPrecision !== precision) throw new Error(`asked for ${precision} estimation passes, the engine ran ${result.estimationPrecision}`);
    lambdas.push(result.batchLambda!);
    for (const image of result.images) predictions.push(argmax(image.probabilities));
  }
  return { lambdas, predictions, seconds: (performance.now() - started) / 1000 };
}

async function main(argv: string[]): Promise<void> {
  const bundleDir = option(argv, 'bundle') ?? demoBundleDir();
  const dataDir = option(argv, 'data') ?? path.join(bundleDir, 'eval');
  const batches = (option(argv, 'batches') ?? '8,32').split(',').map(Number);
  const bundle = await loadBundle(bundleDir);
  const labelled = [];
  for (const s of await discoverSplits(dataDir, ['calibration'])) {
    labelled.push(await loadLabelledSplit(s.dir, s.name, bundle.manifest.classes, { readDicom: dicomReader(bundle) }));
  }
  const usable = labelled.filter((s) => s.images.length > 0);
  const splits: PreparedSplit[] = usable.map((s) => prepareSplit(s.name, s.images, bundle.manifest.input));
  // The pooled stream exactly as eval builds it (evaluation.ts: seed name 'mixed', every clean split's images).
  const pool = pooledOrder(usable.map((s) => s.images.length), 'mixed').map(([s, i]) => usable[s].images[i]);
  splits.push(prepareSplit(POOLED_SPLIT, pool, bundle.manifest.input));

  const engine = await T3Engine.open(bundle, { executionProviders: ['cpu'], log: (line) => process.stderr.write(`${line}\n`) });
  const rows = [];
  try {
    for (const batch of batches) {
      for (const split of splits) {
        const full = await runT3b(engine, split, batch, 'float32');
        const quick = await runT3b(engine, split, batch, 'int8');
        const deltas = full.lambdas.map((l, i) => Math.abs(quick.lambdas[i] - l));
        const correct = (p: number[]) => Uint8Array.from(p, (c, i) => (c === split.labels[i] ? 1 : 0));
        const a = correct(quick.predictions);
        const b = correct(full.predictions);
        const n = split.labels.length;
        const fullAccuracy = b.reduce((s, v) => s + v, 0) / n;
        const int8Accuracy = a.reduce((s, v) => s + v, 0) / n;
        const interval = wilsonInterval(Math.round(fullAccuracy * n), n);
        const bootstrap = pairedBootstrap([{ a, b }], { ...DEFAULT_BOOTSTRAP, blockSize: batch });
        const row = {
          split: split.name, batch, images: n, batches: deltas.length,
          meanAbsDeltaLambda: deltas.reduce((s, d) => s + d, 0) / deltas.length,
          maxAbsDeltaLambda: Math.max(...deltas),
          batchesMovedOver001: deltas.filter((d) => d > 0.01).length,
          fullAccuracy, fullInterval: interval, int8Accuracy,
          withinFullInterval: int8Accuracy >= interval.low && int8Accuracy <= interval.high,
          difference: bootstrap,
          samePrediction: quick.predictions.filter((p, i) => p === full.predictions[i]).length / n,
          seconds: { full: full.seconds, int8: quick.seconds },
        };
        rows.push(row);
        process.stderr.write(`int8-estimation-accuracy: ${split.name} batch ${batch}: mean |Δλ_B| ${row.meanAbsDeltaLambda.toExponential(2)}, max ${row.maxAbsDeltaLambda.toExponential(2)}\n`);
      }
    }
  } finally {
    await engine.close();
  }
  const pct = (x: number) => (100 * x).toFixed(2);
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`;
  const header = ['split', 'batch', 'n', 'mean abs Δλ_B', 'max abs Δλ_B', 'batches with abs Δλ_B > 0.01', 'full T3B top-1 [95 % CI]', 'int8 T3B top-1', 'int8 − full [95 % paired bootstrap]', 'same prediction'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(`| ${r.split} | ${r.batch} | ${r.images} | ${r.meanAbsDeltaLambda.toExponential(2)} | ${r.maxAbsDeltaLambda.toExponential(2)} | ${r.batchesMovedOver001}/${r.batches} | `
      + `${pct(r.fullAccuracy)} [${pct(r.fullInterval.low)}, ${pct(r.fullInterval.high)}] | ${pct(r.int8Accuracy)}${r.withinFullInterval ? '' : ' **outside**'} | `
      + `${signed(r.difference.difference)} [${signed(r.difference.low)}, ${signed(r.difference.high)}] | ${pct(r.samePrediction)} % |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  const out = option(argv, 'out');
  if (out) await fs.writeFile(out, JSON.stringify({ bundle: bundle.manifest.name, dataDir, batches, rows }, null, 2) + '\n');
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`int8-estimation-accuracy: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
