import type { PreparedSplit } from './evaluation-runner';

/**
 * Streams of whole series for the λ_B estimators' evaluation (docs/LAMBDA-ESTIMATORS.md). A PACS sends the images of
 * one series (one scanner, one protocol) together, and a large series as several batches in a row; series reuse
 * depends on exactly that. A series here is a run of `seriesLength` consecutive images of one split.
 * - homogeneous: each series whole, one after another, the splits' series alternating (A1, B1, A2, B2, …);
 * - mixed: two series of different splits open at once, interleaved `chunk` images at a time (A1 chunk 1, B1 chunk 1,
 *   A1 chunk 2, …), so series state must be kept per series and batches of different domains follow one another.
 * With `chunk` a multiple of the batch size every batch holds one series; the streams hold every image once.
 */
export interface SeriesStreamOptions {
  seriesLength: number;
  chunk: number;
}

interface SeriesRun { split: number; start: number; end: number; id: string; }

function seriesOf(splits: readonly PreparedSplit[], seriesLength: number): SeriesRun[][] {
  return splits.map((split, s) => {
    const runs: SeriesRun[] = [];
    for (let start = 0; start < split.labels.length; start += seriesLength) {
      runs.push({ split: s, start, end: Math.min(start + seriesLength, split.labels.length), id: `${split.name}#${runs.length}` });
    }
    return runs;
  });
}

/** [split, image, series id] of the homogeneous stream, in order. */
export function homogeneousSeriesOrder(splits: readonly PreparedSplit[], options: SeriesStreamOptions): [number, number, string][] {
  const runs = seriesOf(splits, options.seriesLength);
  const order: [number, number, string][] = [];
  for (let k = 0; k < Math.max(...runs.map((r) => r.length)); k++) {
    for (const perSplit of runs) {
      const run = perSplit[k];
      if (!run) continue;
      for (let i = run.start; i < run.end; i++) order.push([run.split, i, run.id]);
    }
  }
  return order;
}

/** [split, image, series id] of the mixed stream: the k-th series of every split interleaved chunk by chunk. */
export function mixedSeriesOrder(splits: readonly PreparedSplit[], options: SeriesStreamOptions): [number, number, string][] {
  const runs = seriesOf(splits, options.seriesLength);
  const order: [number, number, string][] = [];
  for (let k = 0; k < Math.max(...runs.map((r) => r.length)); k++) {
    const open = runs.map((perSplit) => perSplit[k]).filter((run): run is SeriesRun => run !== undefined);
    for (let offset = 0; open.some((run) => run.start + offset < run.end); offset += options.chunk) {
      for (const run of open) {
        for (let i = run.start + offset; i < Math.min(run.start + offset + options.chunk, run.end); i++) order.push([run.split, i, run.id]);
      }
    }
  }
  return order;
}

/** The images of `splits` in `order`, as one split named `name` whose images carry their series. */
export function seriesPreparedSplit(name: string, splits: readonly PreparedSplit[], order: readonly [number, number, string][]): PreparedSplit {
  const perImage = splits[0].tensors.length / Math.max(1, splits[0].labels.length);
  const tensors = new Float32Array(order.length * perImage);
  order.forEach(([s, i], k) => tensors.set(splits[s].tensors.subarray(i * perImage, (i + 1) * perImage), k * perImage));
  return { name, kind: 'clean', tensors, labels: order.map(([s, i]) => splits[s].labels[i]), series: order.map(([, , id]) => id) };
}
