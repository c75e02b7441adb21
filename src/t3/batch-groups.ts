import { T3InputError } from './errors';
import { GROUP_BY_MODES, isGroupBy, type GroupBy, type T3Hyperparameters } from './hyperparameters';
import { aggregateBatchLambda } from './lambda';

/** How far grouped T3B may split a batch (docs/T3.md §4, t3b-grouped). */
export interface GroupingParameters {
  /** Fewest images a group may hold: a smaller side of the step joins the other, so λ never rests on a few noisy JS. */
  minGroupSize: number;
  /** Most groups per batch; 1 makes grouped T3B exactly T3B. */
  maxGroups: number;
  /** What the batch is split by (hyperparameters.ts GroupBy); absent: `js-step`. */
  groupBy?: GroupBy;
}

export interface BatchGroups {
  /** Group index of each image, in batch order; group 0 is the group of the batch's first image. */
  groupOf: number[];
  /** λ of each group: the T3B aggregation (hp.batchAggregation) over that group's images alone. */
  lambdas: number[];
  /** Images per group. */
  sizes: number[];
  /** Grouping by series: distinct sources (series) per group, what a record can say about a group without its UIDs. */
  seriesCounts?: number[];
}

type GroupedImage = { js: number; lambda: number; lambdaFinal: number };
type MapAndAggregation = Pick<T3Hyperparameters, 'lambdaMin' | 'lambdaMax' | 'gamma' | 'jsThreshold' | 'batchAggregation'>;

/** Throws T3InputError unless both sizes are integers >= 1 and groupBy, when given, is a GroupBy. */
export function validateGroupingParameters(grouping: GroupingParameters): void {
  for (const key of ['minGroupSize', 'maxGroups'] as const) {
    const v = grouping[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new T3InputError(`hyperparameter ${key} must be an integer >= 1, got ${String(v)}`);
    }
  }
  if (grouping.groupBy !== undefined && !isGroupBy(grouping.groupBy)) {
    throw new T3InputError(`hyperparameter groupBy must be one of ${GROUP_BY_MODES.join(', ')}, got ${JSON.stringify(grouping.groupBy)}`);
  }
}

/**
 * Splits a batch into groups, each with its own λ (the T3B aggregation over its images): by the map's step
 * (groupBySide) or by the images' source series (groupBySeries; `sources` then gives each image's series, in batch
 * order). Throws T3InputError for an empty batch, invalid parameters, or series grouping without one source per image.
 */
export function groupBatch(images: readonly GroupedImage[], hp: MapAndAggregation, grouping: GroupingParameters, sources?: readonly string[]): BatchGroups {
  validateGroupingParameters(grouping);
  if (images.length === 0) throw new T3InputError('empty batch: grouping needs at least one image');
  if ((grouping.groupBy ?? 'js-step') === 'js-step') return groupBySide(images, hp, grouping);
  if (!sources || sources.length !== images.length) {
    throw new T3InputError(`grouping by series needs the series of every image: ${sources ? sources.length : 'no'} series for ${images.length} images`);
  }
  return groupBySeries(images, hp, grouping, sources);
}

/**
 * Splits a batch by the side of the map's step each image falls on (JS below or at/above τ_JS) and gives each side its
 * own λ, aggregated over that side's images as T3B aggregates over a batch. Why the step and not a clustering of λ':
 * the fitted maps are steep sigmoids (γ 128–256), so λ' is nearly two-valued and the step is where the map itself
 * says two populations part; a gentle map (the paper's, τ_JS = 0) puts every image on one side and stays T3B. A map
 * has one step, so at most two groups come out whatever maxGroups above 2 allows. A side with fewer than
 * minGroupSize images joins the other (one image's JS is noisy: sample-wise T3 loses in-domain for that reason), so
 * a homogeneous batch stays one group and its λ is T3B's λ_B exactly. Deterministic: depends only on the values and
 * their order.
 */
function groupBySide(images: readonly GroupedImage[], hp: MapAndAggregation, grouping: GroupingParameters): BatchGroups {
  const threshold = hp.jsThreshold;
  const high = images.map((im) => im.js >= threshold);
  const highCount = high.filter(Boolean).length;
  const lowCount = images.length - highCount;
  const split = grouping.maxGroups >= 2 && Math.min(highCount, lowCount) >= grouping.minGroupSize;
  if (!split) {
    return { groupOf: images.map(() => 0), lambdas: [aggregateBatchLambda(images, hp)], sizes: [images.length] };
  }
  const firstSide = high[0];
  const groupOf = high.map((side) => (side === firstSide ? 0 : 1));
  const members = [0, 1].map((g) => images.filter((_, i) => groupOf[i] === g));
  return { groupOf, lambdas: members.map((m) => aggregateBatchLambda(m, hp)), sizes: members.map((m) => m.length) };
}

/**
 * Splits a batch by its images' source series. In a PACS where an image came from is known (one series: one scanner,
 * one protocol), and the fit measured that a split by true source gains on mixed batches where a split by one image's
 * JS does not (docs/EVALUATION.md, Grouped T3B). Each series with at least minGroupSize images in the batch gets its
 * own group, largest first (ties: the series seen first), at most maxGroups groups in all. Images of the other series
 * (smaller ones, those past the cap, and images without a series, source '') form one remainder group with λ over
 * them when it holds at least minGroupSize images: they are T3B's case, a batch of unknown mix. A smaller remainder
 * joins the largest group rather than resting λ on a few noisy JS values, as a small side of the step does in
 * groupBySide. So no group rests on fewer than minGroupSize images unless the whole batch does, a batch of one
 * series is one group with T3B's λ_B exactly, and the result depends only on the values, sources and their order.
 * Groups are numbered by their first image (group 0 holds the batch's first image).
 */
function groupBySeries(images: readonly GroupedImage[], hp: MapAndAggregation, grouping: GroupingParameters, sources: readonly string[]): BatchGroups {
  const { groupOf, seriesCounts } = seriesGroupMembership(sources, grouping);
  const members = seriesCounts.map((_, g) => images.filter((_, i) => groupOf[i] === g));
  return { groupOf, lambdas: members.map((m) => aggregateBatchLambda(m, hp)), sizes: members.map((m) => m.length), seriesCounts };
}

/**
 * Which group of groupBySeries each image joins, from the sources alone (no divergence is needed to decide it): so a
 * λ estimator can draw its sample inside each group before any fixed pass has run (grouped-lambda-estimation.ts).
 */
export function seriesGroupMembership(sources: readonly string[], grouping: GroupingParameters): { groupOf: number[]; seriesCounts: number[] } {
  const counts = new Map<string, number>();
  for (const source of sources) if (source !== '') counts.set(source, (counts.get(source) ?? 0) + 1);
  // Map iteration follows first appearance and the sort is stable, so ties keep the series seen first.
  const large = [...counts].filter(([, n]) => n >= grouping.minGroupSize).sort((a, b) => b[1] - a[1]).map(([source]) => source);
  const inLarge = new Set(large);
  const everyImageInLarge = sources.every((source) => inLarge.has(source));
  // A remainder (or series past the cap, which become one) takes one of the maxGroups places.
  const own = everyImageInLarge && large.length <= grouping.maxGroups ? large : large.slice(0, grouping.maxGroups - 1);
  const ownIndex = new Map(own.map((source, k) => [source, k]));
  const leftover = sources.filter((source) => !ownIndex.has(source)).length;
  // Provisional group per image: its series' place, else the remainder (own.length) or, when too small, the largest.
  const remainderGroup = leftover >= grouping.minGroupSize || own.length === 0 ? own.length : 0;
  const provisional = sources.map((source) => ownIndex.get(source) ?? remainderGroup);
  const renumber = new Map<number, number>();
  for (const p of provisional) if (!renumber.has(p)) renumber.set(p, renumber.size);
  const groupOf = provisional.map((p) => renumber.get(p) ?? 0);
  const seriesCounts = Array.from({ length: renumber.size }, (_, g) => new Set(sources.filter((_, i) => groupOf[i] === g)).size);
  return { groupOf, seriesCounts };
}
