import type { ImageCoefficients } from './batch-coefficients';
import { seriesGroupMembership, validateGroupingParameters, type GroupingParameters } from './batch-groups';
import { T3InputError } from './errors';
import type { T3Hyperparameters } from './hyperparameters';
import type { SequentialSettings } from './sequential-estimate';
import { estimateBatchLambda, type FixedPassRunner, type LambdaEstimateRecord } from './sequential-lambda-estimation';

/**
 * Grouped T3B by series with each group's λ from sequential sampling (docs/LAMBDA-ESTIMATORS.md, "mixed batches"). A
 * batch that mixes series cannot be estimated by sequential sampling as one population: its mean divergence sits
 * between the two domains, near the map's step, and the estimate falls back to every image. Grouped by series, each
 * group is one series, so it is homogeneous and its side of the step is decided after a few images, as a one-series
 * batch's is. The groups are those of grouped T3B by series (seriesGroupMembership: decided by the sources alone,
 * before any fixed pass), and each group's λ is what sequential sampling gives over that group's images (every image
 * of the group when it does not decide: then exactly grouped T3B's λ for the group).
 */
export interface GroupLambdaEstimate {
  lambda: number;
  /** Batch positions of the group's images, ascending. */
  members: number[];
  /** Batch positions whose fixed passes ran, ascending (every member when the estimate fell back to all). */
  sampledPositions: number[];
  /** Coefficients of each sampled batch position. */
  coefficients: Map<number, ImageCoefficients>;
  record: LambdaEstimateRecord;
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
 * Estimates each series group's λ by sequential sampling. `runFixedPasses` receives batch positions. The seed of group
 * g's order is derived from `seed` and g, so groups draw independent orders and the result is reproducible.
 * Throws T3InputError for an empty batch, invalid grouping parameters, or sources that do not name every image's series.
 */
export async function estimateGroupLambdas(count: number, sources: readonly string[] | undefined, hp: T3Hyperparameters,
  grouping: GroupingParameters, settings: SequentialSettings, seed: number, runFixedPasses: FixedPassRunner): Promise<GroupedLambdaEstimates> {
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
    const estimate = await estimateBatchLambda(members.length, hp, { method: 'sequential', settings, seed: groupSeed(seed, g) },
      (local) => runFixedPasses(local.map((at) => members[at])));
    fixedPassCalls += estimate.fixedPassCalls;
    const coefficients = new Map([...estimate.coefficients].map(([at, c]) => [members[at], c]));
    groups.push({
      lambda: estimate.lambdaB, members, coefficients, record: estimate.record,
      sampledPositions: estimate.sampledPositions.map((at) => members[at]).sort((a, b) => a - b),
    });
  }
  return { groupOf, groups, seriesCounts, fixedPassCalls };
}

/** Group g's seed: group 0 keeps the batch's seed (a one-group batch draws what sequential T3B draws), the others mix g in. */
function groupSeed(seed: number, g: number): number {
  return g === 0 ? seed : (Math.imul(seed ^ (g * 0x9e3779b9), 0x85ebca6b) >>> 0);
}
