import { aggregateBatchLambda, applyExtrapolationGuard, groupBatch, t3Lambda, type GroupBy, type GroupingParameters, type T3Hyperparameters } from '../t3';
import type { FitImageTable } from './fit-data';
import { nearestIndex, onGrid, type LambdaGrid } from './lambda-grid';

/**
 * Choosing grouped T3B's parameters (groupBy, minGroupSize, maxGroups; docs/T3.md §4) on validation data, once the
 * coefficient map is fitted. groupBy is chosen with the sizes: by the map's step (`js-step`), by the images' source
 * (`series`: on validation data the split an image came from, as a PACS knows an image's series), or not at all. Grouping can only pay on batches that mix domains (the pooled stream), and it costs on a homogeneous
 * batch that it splits needlessly (a group's λ then rests on fewer images, and the minority side gets the other
 * model's λ). So the rule is a constrained choice: among the candidates that keep every homogeneous split within
 * `maxHomogeneousLoss` of plain T3B (maxGroups 1), take the one with the best objective over all streams (the map's
 * objective: equal weight per stream, accuracy averaged over λ ± smoothingSteps); keep plain T3B unless that
 * candidate beats it by at least `minGain`. Without a mixed stream nothing can gain, and plain T3B is chosen.
 * Accuracies are read from the fit's per-image tables (correctness of the merged model on the fine λ grid), with the
 * engine's own grouping (groupBatch), so the estimate groups exactly as the engine will.
 */

export interface GroupingStream {
  name: string;
  /** True for a validation split of one domain; false for the pooled stream, whose batches mix domains. */
  homogeneous: boolean;
  table: FitImageTable;
  /** For a pooled stream: the index of the split each image came from, what grouping by series groups by (in a PACS
   *  the image's series). Absent: every image's source is the stream itself (a homogeneous split is one source). */
  sourceOf?: readonly number[];
}

export interface GroupingSearch {
  /** The fine grid on which `table.correct` is given. */
  grid: LambdaGrid;
  batchSize: number;
  minGroupSizes: readonly number[];
  maxGroups: readonly number[];
  /** What grouping may split by (candidates of each mode are tried); absent: `js-step` only. */
  groupBys?: readonly GroupBy[];
  /** Accuracy is averaged over λ ± this many grid steps, as in the map's objective (coefficient-fit.ts says why). */
  smoothingSteps: number;
  /** Largest loss against plain T3B allowed on any homogeneous stream (fraction: 0.001 = 0.1 points). */
  maxHomogeneousLoss: number;
  /** Smallest gain of the objective over plain T3B for grouping to be chosen (fraction). */
  minGain: number;
}

export interface GroupingCandidate extends GroupingParameters {
  groupBy: GroupBy;
  /** Smoothed accuracy per stream (fraction), their mean (the objective), and per stream the batches that split. */
  perStream: Record<string, number>;
  objective: number;
  splitBatches: Record<string, number>;
  /** Every homogeneous stream within maxHomogeneousLoss of plain T3B. */
  admissible: boolean;
}

export interface GroupingFit {
  chosen: GroupingParameters & { groupBy: GroupBy };
  /** Why, in words (what the bundle's t3Fit records). */
  reason: string;
  /** Plain T3B (maxGroups 1) first, then each grouped candidate. */
  candidates: GroupingCandidate[];
  /**
   * Per pooled stream with sources: accuracy when every batch is split by the images' true source, each group with
   * the map's λ of its own images. No engine rule can know the source from JS: this is the bound that a perfect
   * grouping would reach with this map, to tell a weak separator (JS) from a map that cannot gain on mixed batches.
   */
  bySource: Record<string, number>;
}

type MapHyperparameters = Pick<T3Hyperparameters, 'lambdaMin' | 'lambdaMax' | 'gamma' | 'jsThreshold' | 'batchAggregation' | 'extTau' | 'extDelta'>;

const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(2)}`;

/** Per image, correctness averaged over the window of ±steps grid points around index f. */
function smoothedCorrect(correct: readonly Uint8Array[], image: number, f: number, steps: number): number {
  let sum = 0;
  let n = 0;
  for (let k = Math.max(f - steps, 0); k <= Math.min(f + steps, correct.length - 1); k++) {
    sum += correct[k][image];
    n++;
  }
  return sum / n;
}

type Coefficients = { js: number; lambda: number; lambdaFinal: number };
type BatchGrouper = (batch: Coefficients[], start: number) => { groupOf: number[]; lambdas: number[] };

/** Each image's source for grouping by series: its split's index in a pooled stream, else the stream's own name. */
function streamSources(stream: GroupingStream): string[] {
  const sourceOf = stream.sourceOf;
  return sourceOf ? sourceOf.map((s) => `split ${s}`) : stream.table.images.map(() => stream.name);
}

function scoreStream(stream: GroupingStream, hp: MapHyperparameters, group: BatchGrouper, search: GroupingSearch): { accuracy: number; splitBatches: number } {
  const { images, correct } = stream.table;
  const coefficients = images.map((im): Coefficients => {
    const lambda = t3Lambda(im.js, hp);
    return { js: im.js, lambda, lambdaFinal: applyExtrapolationGuard(lambda, im.guardEntropyPt, im.guardEntropyFt, hp).lambdaFinal };
  });
  let sum = 0;
  let splitBatches = 0;
  for (let start = 0; start < images.length; start += search.batchSize) {
    const end = Math.min(start + search.batchSize, images.length);
    const groups = group(coefficients.slice(start, end), start);
    if (groups.lambdas.length > 1) splitBatches++;
    for (let i = start; i < end; i++) {
      const lambda = groups.lambdas[groups.groupOf[i - start]];
      if (!onGrid(search.grid, lambda)) throw new RangeError(`group λ ${lambda} lies outside the fit's λ grid`);
      sum += smoothedCorrect(correct, i, nearestIndex(search.grid, lambda), search.smoothingSteps);
    }
  }
  return { accuracy: sum / images.length, splitBatches };
}

function candidate(streams: readonly GroupingStream[], hp: MapHyperparameters, grouping: GroupingParameters & { groupBy: GroupBy }, search: GroupingSearch): GroupingCandidate {
  const perStream: Record<string, number> = {};
  const splitBatches: Record<string, number> = {};
  for (const stream of streams) {
    const sources = streamSources(stream);
    const s = scoreStream(stream, hp, (batch, start) => groupBatch(batch, hp, grouping, sources.slice(start, start + batch.length)), search);
    perStream[stream.name] = s.accuracy;
    splitBatches[stream.name] = s.splitBatches;
  }
  const objective = streams.reduce((sum, s) => sum + perStream[s.name], 0) / streams.length;
  return { ...grouping, perStream, objective, splitBatches, admissible: true };
}

/** The grouped candidates of the search: per mode, every minGroupSize with every maxGroups >= 2 that can differ. */
function groupedParameters(search: GroupingSearch): (GroupingParameters & { groupBy: GroupBy })[] {
  const sizes = [...new Set(search.minGroupSizes)].sort((a, b) => a - b);
  const caps = [...new Set(search.maxGroups)].filter((g) => g >= 2).sort((a, b) => a - b);
  if (caps.length === 0) return [];
  return (search.groupBys ?? ['js-step']).flatMap((groupBy) =>
    // By the step, maxGroups above 2 groups as 2 does (a map has one step): only 2 is tried.
    (groupBy === 'js-step' ? [2] : caps).flatMap((maxGroups) => sizes.map((minGroupSize) => ({ groupBy, minGroupSize, maxGroups }))));
}

/** Better of two admissible candidates: the higher objective; on a tie the one splitting fewer batches, then the
 *  larger minGroupSize (either rests each λ on more images for the same estimated accuracy). */
function better(a: GroupingCandidate, b: GroupingCandidate): boolean {
  if (Math.abs(a.objective - b.objective) > 1e-12) return a.objective > b.objective;
  const splits = (c: GroupingCandidate) => Object.values(c.splitBatches).reduce((n, k) => n + k, 0);
  if (splits(a) !== splits(b)) return splits(a) < splits(b);
  return a.minGroupSize > b.minGroupSize;
}

const describe = (c: GroupingParameters) => `groupBy ${c.groupBy ?? 'js-step'}, minGroupSize ${c.minGroupSize}, maxGroups ${c.maxGroups}`;

/**
 * Chooses groupBy, minGroupSize and maxGroups for a fitted map (module comment). `hp` is the fitted map; `plain` is
 * what is recorded with maxGroups 1 (plain T3B), where the other two do not matter. Throws RangeError for empty
 * candidate lists or streams.
 */
export function fitGrouping(streams: readonly GroupingStream[], hp: MapHyperparameters, search: GroupingSearch,
  plainParameters: { minGroupSize: number; groupBy: GroupBy }): GroupingFit {
  if (streams.length === 0) throw new RangeError('no streams to choose the grouping on');
  if (search.minGroupSizes.length === 0 || search.maxGroups.length === 0) throw new RangeError('the grouping search needs at least one minGroupSize and one maxGroups');
  const plainChoice = { ...plainParameters, maxGroups: 1 };
  const plain = candidate(streams, hp, plainChoice, search);
  const grouped = groupedParameters(search).map((parameters) => candidate(streams, hp, parameters, search));
  const homogeneous = streams.filter((s) => s.homogeneous);
  for (const c of grouped) {
    c.admissible = homogeneous.every((s) => c.perStream[s.name] >= plain.perStream[s.name] - search.maxHomogeneousLoss - 1e-12);
  }
  const candidates = [plain, ...grouped];
  const bySource = sourceBound(streams, hp, search);
  const keep = (reason: string): GroupingFit => ({ chosen: plainChoice, reason, candidates, bySource });
  if (grouped.length === 0) return keep('maxGroups 1 was the only candidate: plain T3B');
  if (streams.every((s) => s.homogeneous)) {
    return keep('no validation stream mixes domains (one split, or --no-pooled), so grouping cannot gain: plain T3B (maxGroups 1)');
  }
  let best: GroupingCandidate | null = null;
  for (const c of grouped) if (c.admissible && (best === null || better(c, best))) best = c;
  const loss = (c: GroupingCandidate) => homogeneous.map((s) => `${s.name} ${points(c.perStream[s.name] - plain.perStream[s.name])}`).join(', ');
  if (best === null) {
    return keep(`every grouped candidate loses more than ${(100 * search.maxHomogeneousLoss).toFixed(2)} points against plain T3B on a homogeneous split `
      + `(${grouped.map((c) => `${describe(c)}: ${loss(c)}`).join('; ')}): plain T3B (maxGroups 1)`);
  }
  const gain = best.objective - plain.objective;
  if (gain < search.minGain) {
    return keep(`the best admissible grouping (${describe(best)}) gains ${points(gain)} points on the objective, `
      + `less than the ${(100 * search.minGain).toFixed(2)} required: plain T3B (maxGroups 1)`);
  }
  const mixed = streams.filter((s) => !s.homogeneous).map((s) => `${s.name} ${points(best.perStream[s.name] - plain.perStream[s.name])}`).join(', ');
  return {
    chosen: { groupBy: best.groupBy, minGroupSize: best.minGroupSize, maxGroups: best.maxGroups },
    reason: `${describe(best)}: the best objective (${points(gain)} points over plain T3B; ${mixed}) among the candidates `
      + `within ${(100 * search.maxHomogeneousLoss).toFixed(2)} points of plain T3B on every homogeneous split (${loss(best)})`,
    candidates,
    bySource,
  };
}

/** GroupingFit.bySource: each batch of a pooled stream split by its images' source, each group with its own λ. */
function sourceBound(streams: readonly GroupingStream[], hp: MapHyperparameters, search: GroupingSearch): Record<string, number> {
  const out: Record<string, number> = {};
  for (const stream of streams) {
    const sourceOf = stream.sourceOf;
    if (stream.homogeneous || !sourceOf) continue;
    out[stream.name] = scoreStream(stream, hp, (batch, start) => {
      const sources = [...new Set(batch.map((_, i) => sourceOf[start + i]))];
      const groupOf = batch.map((_, i) => sources.indexOf(sourceOf[start + i]));
      return { groupOf, lambdas: sources.map((_, g) => aggregateBatchLambda(batch.filter((__, i) => groupOf[i] === g), hp)) };
    }, search).accuracy;
  }
  return out;
}
