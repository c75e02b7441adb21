import { computeBatchCoefficients, entropyFromLogProbabilities, logSoftmax, type T3Hyperparameters } from '../t3';
import type { FitBatch, FitImage, FitSplit } from './coefficient-fit';
import type { PreparedSplit } from './evaluation-runner';
import { correctnessOnGrid, gridValue, nearestIndex, type LambdaGrid } from './lambda-grid';

/** What the fit needs from the engine (T3Engine satisfies it): the logits of one pass at a given λ. */
export interface LogitPassRunner {
  passLogits(pixels: Float32Array, count: number, lambda: number): Promise<Float32Array>;
}

/** Images per engine call while sweeping (results do not depend on it: every pass treats images independently). */
const SWEEP_CHUNK = 256;

/** The merged model's logits at every λ of `sweep`, for every image of the split (row-major [images × classes]). */
export async function sweepLogits(runner: LogitPassRunner, split: PreparedSplit, sweep: LambdaGrid, classes: number): Promise<Float32Array[]> {
  const count = split.labels.length;
  const perImage = split.tensors.length / count;
  const tables: Float32Array[] = [];
  for (let g = 0; g < sweep.count; g++) {
    const lambda = gridValue(sweep, g);
    const table = new Float32Array(count * classes);
    for (let start = 0; start < count; start += SWEEP_CHUNK) {
      const n = Math.min(SWEEP_CHUNK, count - start);
      table.set(await runner.passLogits(split.tensors.subarray(start * perImage, (start + n) * perImage), n, lambda), start * classes);
    }
    tables.push(table);
  }
  return tables;
}

function rows(table: Float32Array, count: number, classes: number): Float32Array[] {
  return Array.from({ length: count }, (_, i) => table.subarray(i * classes, (i + 1) * classes));
}

function sweepIndexOf(sweep: LambdaGrid, lambda: number): number {
  const i = nearestIndex(sweep, lambda);
  if (Math.abs(gridValue(sweep, i) - lambda) > 1e-9) throw new RangeError(`the sweep must contain λ = ${lambda} exactly`);
  return i;
}

/**
 * One validation split as the fit sees it: consecutive batches of `batchSize` images (the last one may be smaller,
 * as in deployment), each image's JS at the bundle's temperatures (`hp`, exactly as the engine computes it), its
 * entropies at the guard's temperature, and how many images of each batch the merged model gets right at every
 * point of `fine`.
 */
export function buildFitSplit(options: {
  name: string;
  labels: readonly number[];
  classes: number;
  sweep: LambdaGrid;
  sweepTables: readonly Float32Array[];
  fine: LambdaGrid;
  batchSize: number;
  hp: T3Hyperparameters;
  guardTemperature: number;
}): FitSplit {
  const { labels, classes, sweep, sweepTables, fine, batchSize, hp } = options;
  const count = labels.length;
  const pt = rows(sweepTables[sweepIndexOf(sweep, 0)], count, classes);
  const ft = rows(sweepTables[sweepIndexOf(sweep, 1)], count, classes);
  const correct = correctnessOnGrid(sweep, sweepTables, labels, classes, fine);
  const argmaxRight = (row: Float32Array, label: number) => {
    let best = 0;
    for (let c = 1; c < row.length; c++) if (row[c] > row[best]) best = c;
    return best === label;
  };
  const batches: FitBatch[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(start + batchSize, count);
    const coefficients = computeBatchCoefficients(pt.slice(start, end), ft.slice(start, end), hp);
    const images: FitImage[] = [];
    for (let i = start; i < end; i++) {
      images.push({
        js: coefficients.images[i - start].js,
        guardEntropyPt: entropyFromLogProbabilities(logSoftmax(pt[i], options.guardTemperature)),
        guardEntropyFt: entropyFromLogProbabilities(logSoftmax(ft[i], options.guardTemperature)),
        generalistRight: argmaxRight(pt[i], labels[i]),
        expertRight: argmaxRight(ft[i], labels[i]),
      });
    }
    const correctAt = new Uint16Array(fine.count);
    for (let f = 0; f < fine.count; f++) {
      let n = 0;
      for (let i = start; i < end; i++) n += correct[f][i];
      correctAt[f] = n;
    }
    batches.push({ images, correctAt });
  }
  return { name: options.name, batches };
}
