import { computeBatchCoefficients, type ImageCoefficients } from './batch-coefficients';
import { seriesGroupMembership, validateGroupingParameters, type GroupingParameters } from './batch-groups';
import { T3InputError } from './errors';
import type { T3Hyperparameters } from './hyperparameters';
import type { SequentialSettings } from './sequential-estimate';
import { estimateBatchLambda, type FixedPassRunner, type LambdaEstimateRecord, type LambdaEstimation } from './sequential-lambda-estimation';

/**
 * Grouped T3B by series with each group's λ from an estimator (docs/LAMBDA-ESTIMATORS.md, "Batches that mix series").
 * A batch that mixes series cannot be estimated cheaply as one population: its mean divergence sits between the
 * domains, near the map's step, so sequential sampling falls back to every image, and no one series' stored λ_B
 * describes the mix. Grouped by series, each group is one series: sequential sampling decides its side of the step
 * after a few of its images, as for a one-series batch, and series reuse can check it against that series' stored λ.
 * The groups are grouped T3B's (seriesGroupMembership: decided by the sources alone, before any fixed pass); a group
 * whose estimate does not decide gets every one of its images' fixed passes, i.e. exactly grouped T3B's λ for it.
 */
export interface GroupEstimation {
  /** Sequential sampling inside each group not reused; absent: such a group is estimated from all of its images. */
  sequential?: SequentialSettings;
  /**
   * Series reuse inside the batch: a group of one series with an entry in `stored` runs the fixed passes on
   * `checkImages` of its images and keeps the stored λ when their λ is within `lambdaTolerance` of it; otherwise it
   * is re-estimated (sequentially from the check images when `sequential` is given). Groups of several series (the
   * remainder of small ones) are never reused.
   */
  reuse?: { checkImages: number; lambdaTolerance: number; stored: ReadonlyMap<string, { lambdaB: number; fromBatch: string }> };
}

export interface GroupLambdaEstimate {
  lambda: number;
  /** The group's one series; null for a remainder group of several. */
  series: string | null;
  /** Batch positions of the group's images, ascending. */
  members: number[];
  /** Batch positions whose fixed passes ran, ascending (every member when the estimate fell back to all). */
  sampledPositions: number[];
  /** Coefficients of each sampled batch position. */
  coefficients: Map<number, ImageCoefficients>;
  /** How the λ was estimated; null when it came from every image without an estimator (neither applied). */
  record: LambdaEstimateRecord | null;
}

export interface GroupedLambdaEstimates {
  /** Group index of each image, in batch order (as BatchGroups.groupOf). */
  groupOf: number[];
  groups: GroupLambdaEstimate[];
  /** Distinct series per group. */
  seriesCounts: number[];
  /** Fixed-pass calls made over all groups (each runs both models on its images). */
  fixedPassCalls: number;
}

/**
 * Estimates each series group's λ. `runFixedPasses` receives batch positions. The seed of group g's order is derived
 * from `seed` and g, so groups draw independent orders and the result is reproducible. Throws T3InputError for an
 * empty batch, invalid grouping parameters, or sources that do not name every image's series.
 */
export async function estimateGroupLambdas(count: number, sources: readonly string[] | undefined, hp: T3Hyperparameters,
  grouping: GroupingParameters, estimation: GroupEstimation, seed: number, runFixedPasses: FixedPassRunner): Promise<GroupedLambdaEstimates> {
  validateGroupingParameters(grouping);
  if (!Number.isInteger(count) || count < 1) throw new T3InputError('empty batch: grouping needs at least one image');
  if (!sources || sources.length !== count) {
    throw new T3InputError(`grouping by series needs the series of every image: ${sources ? sources.length : 'no'} series for ${count} images`);
  }
  const { groupOf, seriesCounts } = seriesGroupMembership(sources, grouping);
  const groups: GroupLambdaEstimate[] = [];
  let fixedPassCalls = 0;
  for (let g = 0; g < seriesCounts.length; g++) {
    const members = groupOf.flatMap((of, i) => (of === g ? [i] : []));
    const series = seriesCounts[g] === 1 && sources[members[0]] !== '' ? sources[members[0]] : null;
    const run: FixedPassRunner = (local) => {
      fixedPassCalls++;
      return runFixedPasses(local.map((at) => members[at]));
    };
    const method = groupMethod(estimation, series, groupSeed(seed, g));
    const local = method ? await estimateBatchLambda(members.length, hp, method, run) : await everyImage(members.length, hp, run);
    groups.push({
      lambda: local.lambdaB, series, members, record: local.record,
      coefficients: new Map([...local.coefficients].map(([at, c]) => [members[at], c])),
      sampledPositions: local.sampledPositions.map((at) => members[at]).sort((a, b) => a - b),
    });
  }
  return { groupOf, groups, seriesCounts, fixedPassCalls };
}

/** The estimator of one group: reuse of its series' stored λ when there is one, else sequential sampling, else none. */
function groupMethod(estimation: GroupEstimation, series: string | null, seed: number): LambdaEstimation | null {
  const stored = series === null ? undefined : estimation.reuse?.stored.get(series);
  if (estimation.reuse && stored) {
    return {
      method: 'series-reuse', lambdaB: stored.lambdaB, fromBatch: stored.fromBatch, checkImages: estimation.reuse.checkImages,
      lambdaTolerance: estimation.reuse.lambdaTolerance, seed, ...(estimation.sequential ? { fallback: estimation.sequential } : {}),
    };
  }
  return estimation.sequential ? { method: 'sequential', settings: estimation.sequential, seed } : null;
}

/** A group's λ from every one of its images (what grouped T3B computes), without an estimator's record. */
async function everyImage(count: number, hp: T3Hyperparameters, run: FixedPassRunner):
  Promise<{ lambdaB: number; coefficients: Map<number, ImageCoefficients>; sampledPositions: number[]; record: null }> {
  const positions = Array.from({ length: count }, (_, i) => i);
  const { pt, ft } = await run(positions);
  const coefficients = computeBatchCoefficients(pt, ft, hp);
  return { lambdaB: coefficients.batchLambda, coefficients: new Map(coefficients.images.map((c, i) => [i, c])), sampledPositions: positions, record: null };
}

/** Group g's seed: group 0 keeps the batch's seed (a one-group batch draws what sequential T3B draws), the others mix g in. */
function groupSeed(seed: number, g: number): number {
  return g === 0 ? seed : (Math.imul(seed ^ (g * 0x9e3779b9), 0x85ebca6b) >>> 0);
}
