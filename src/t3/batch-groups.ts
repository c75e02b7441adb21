import { T3InputError } from './errors';
import type { T3Hyperparameters } from './hyperparameters';
import { aggregateBatchLambda } from './lambda';

/** How far grouped T3B may split a batch (docs/T3.md §4, t3b-grouped). */
export interface GroupingParameters {
  /** Fewest images a group may hold: a smaller side of the step joins the other, so λ never rests on a few noisy JS. */
  minGroupSize: number;
  /** Most groups per batch; 1 makes grouped T3B exactly T3B. */
  maxGroups: number;
}

export interface BatchGroups {
  /** Group index of each image, in batch order; group 0 is the group of the batch's first image. */
  groupOf: number[];
  /** λ of each group: the T3B aggregation (hp.batchAggregation) over that group's images alone. */
  lambdas: number[];
  /** Images per group. */
  sizes: number[];
}

type GroupedImage = { js: number; lambda: number; lambdaFinal: number };
type MapAndAggregation = Pick<T3Hyperparameters, 'lambdaMin' | 'lambdaMax' | 'gamma' | 'jsThreshold' | 'batchAggregation'>;

/** Throws T3InputError unless both parameters are integers >= 1. */
export function validateGroupingParameters(grouping: GroupingParameters): void {
  for (const key of ['minGroupSize', 'maxGroups'] as const) {
    const v = grouping[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new T3InputError(`hyperparameter ${key} must be an integer >= 1, got ${String(v)}`);
    }
  }
}

/**
 * Splits a batch by the side of the map's step each image falls on (JS below or at/above τ_JS) and gives each side its
 * own λ, aggregated over that side's images as T3B aggregates over a batch. Why the step and not a clustering of λ':
 * the fitted maps are steep sigmoids (γ 128–256), so λ' is nearly two-valued and the step is where the map itself
 * says two populations part; a gentle map (the paper's, τ_JS = 0) puts every image on one side and stays T3B. A map
 * has one step, so at most two groups come out whatever maxGroups above 2 allows. A side with fewer than
 * minGroupSize images joins the other (one image's JS is noisy: sample-wise T3 loses in-domain for that reason), so
 * a homogeneous batch stays one group and its λ is T3B's λ_B exactly. Deterministic: depends only on the values and
 * their order. Throws T3InputError for an empty batch or invalid parameters.
 */
export function groupBatch(images: readonly GroupedImage[], hp: MapAndAggregation, grouping: GroupingParameters): BatchGroups {
  validateGroupingParameters(grouping);
  if (images.length === 0) throw new T3InputError('empty batch: grouping needs at least one image');
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
