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

/** Every image of a split as the fit sees it, in the split's order: what the map reads (JS, entropies) and whether
 *  the merged model gets it right at each point of the fine grid (correct[f][i]). */
export interface FitImageTable {
  images: FitImage[];
  correct: Uint8Array[];
}

/**
 * The per-image table of one split: each image's JS at the bundle's temperatures (`hp`, exactly as the engine computes
 * it: per image, whatever its batch), its entropies at the guard's temperature, and whether the merged model gets it
 * right at every point of `fine`.
 */
export function fitImageTable(options: {
  labels: readonly number[];
  classes: number;
  sweep: LambdaGrid;
  sweepTables: readonly Float32Array[];
  fine: LambdaGrid;
  hp: T3Hyperparameters;
  guardTemperature: number;
}): FitImageTable {
  const { labels, classes, sweep, sweepTables, fine, hp } = options;
  const count = labels.length;
  const pt = rows(sweepTables[sweepIndexOf(sweep, 0)], count, classes);
  const ft = rows(sweepTables[sweepIndexOf(sweep, 1)], count, classes);
  const argmaxRight = (row: Float32Array, label: number) => {
    let best = 0;
    for (let c = 1; c < row.length; c++) if (row[c] > row[best]) best = c;
    return best === label;
  };
  const coefficients = computeBatchCoefficients(pt, ft, hp);
  const images = pt.map((_, i): FitImage => ({
    js: coefficients.images[i].js,
    guardEntropyPt: entropyFromLogProbabilities(logSoftmax(pt[i], options.guardTemperature)),
    guardEntropyFt: entropyFromLogProbabilities(logSoftmax(ft[i], options.guardTemperature)),
    generalistRight: argmaxRight(pt[i], labels[i]),
    expertRight: argmaxRight(ft[i], labels[i]),
  }));
  return { images, correct: correctnessOnGrid(sweep, sweepTables, labels, classes, fine) };
}

/** The images of several tables in `order` ([table index, image index], e.g. from pooledOrder) as one table. */
export function concatFitImageTables(tables: readonly FitImageTable[], order: readonly [number, number][]): FitImageTable {
  return {
    images: order.map(([t, i]) => tables[t].images[i]),
    correct: tables[0].correct.map((_, f) => Uint8Array.from(order, ([t, i]) => tables[t].correct[f][i])),
  };
}

/**
 * A table cut into consecutive batches of `batchSize` images (the last one may be smaller, as in deployment), each
 * with how many of its images the merged model gets right at every point of the fine grid. `pooledFrom` marks a
 * stream that repeats the images of those splits (see FitSplit).
 */
export function batchFitImages(name: string, table: FitImageTable, batchSize: number, pooledFrom?: readonly string[]): FitSplit {
  const count = table.images.length;
  const batches: FitBatch[] = [];
  for (let start = 0; start < count; start += batchSize) {
    batches.push(fitBatchOf(table, Array.from({ length: Math.min(batchSize, count - start) }, (_, k) => start + k)));
  }
  return { name, batches, ...(pooledFrom ? { pooledFrom: [...pooledFrom] } : {}) };
}

/** One batch of the fit from the table's images at `members`: their entries and how many are right at each grid point. */
export function fitBatchOf(table: FitImageTable, members: readonly number[]): FitBatch {
  const correctAt = Uint16Array.from(table.correct, (row) => members.reduce((n, i) => n + row[i], 0));
  return { images: members.map((i) => table.images[i]), correctAt };
}

