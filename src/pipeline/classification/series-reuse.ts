import type { BatchInference, InferOptions } from '../../engine';
import type { LambdaEstimatorSettings, SequentialSettings } from '../../t3';
import { groupBatchId } from './group-batch-id';
import type { SeriesLambdaStore } from './series-lambda-store';

/**
 * Which λ_B estimator a T3B batch gets (docs/LAMBDA-ESTIMATORS.md), and what the batch leaves for later batches.
 *
 * Series reuse applies only to a batch whose images all belong to one series that was estimated recently: T3B's λ_B
 * is a batch quantity, and a batch mixing series has the λ of its mix, which a single series' stored λ_B does not
 * estimate (and the next mix may differ); estimating per series inside one batch would need one merged pass per
 * series, which is grouped T3B's business, not an estimator's. So a batch holding several series falls back to the
 * full estimate (or to sequential sampling when that is on), and stores nothing.
 */
export function lambdaEstimationFor(settings: LambdaEstimatorSettings, store: SeriesLambdaStore | null, seriesOfFrames: readonly string[]): InferOptions {
  const series = singleSeries(seriesOfFrames);
  const sequential = settings.sequential.enabled ? sequentialSettingsOf(settings) : undefined;
  if (settings.seriesReuse.enabled && store && series !== null) {
    const entry = store.get(series);
    if (entry) {
      return {
        lambdaEstimation: {
          method: 'series-reuse', lambdaB: entry.lambdaB, fromBatch: entry.batchId, lambdaTolerance: settings.seriesReuse.lambdaTolerance,
          checkImages: settings.seriesReuse.checkImages,
          // Both on: a batch whose check fails is estimated by sequential sampling, going on from the check images.
          ...(sequential ? { fallback: sequential } : {}),
        },
      };
    }
  }
  return sequential ? { lambdaEstimation: { method: 'sequential', settings: sequential } } : {};
}

/**
 * Grouped T3B's estimation (the engine applies it under `groupBy: series`; t3/grouped-lambda-estimation.ts): with
 * sequential sampling on, each series group's λ is estimated like a one-series batch's; with series reuse on, a group
 * whose series has a stored λ (from `store`, for the frames' series) is checked against it. Nothing when both are off.
 */
export function groupLambdaEstimationFor(settings: LambdaEstimatorSettings, store: SeriesLambdaStore | null, seriesOfFrames: readonly string[]): InferOptions {
  const sequential = settings.sequential.enabled ? sequentialSettingsOf(settings) : undefined;
  const reuse = settings.seriesReuse.enabled && store;
  if (!sequential && !reuse) return {};
  const stored = new Map<string, { lambdaB: number; fromBatch: string }>();
  if (reuse) {
    for (const series of new Set(seriesOfFrames)) {
      const entry = series ? store.get(series) : null;
      if (entry) stored.set(series, { lambdaB: entry.lambdaB, fromBatch: entry.batchId });
    }
  }
  return {
    groupEstimation: {
      ...(sequential ? { sequential } : {}),
      ...(reuse ? { reuse: { checkImages: settings.seriesReuse.checkImages, lambdaTolerance: settings.seriesReuse.lambdaTolerance, stored } } : {}),
    },
  };
}

/**
 * After a grouped T3B batch by series: every group of one series whose λ was estimated afresh becomes its series'
 * entry, under the id the group's results carry (group-batch-id.ts). A reused λ does not renew the entry, as for T3B
 * batches.
 */
export function rememberGroupLambdas(store: SeriesLambdaStore, seriesOfFrames: readonly string[], result: BatchInference): void {
  const lambdas = result.groupLambdas;
  // Only groups the engine formed by series and estimated (groupEstimates): a group split at the map's step
  // (groupBy js-step) may hold part of a series, whose λ is not the series'.
  if (result.policy !== 't3b-grouped' || !lambdas || !result.groupEstimates) return;
  lambdas.forEach((lambdaB, g) => {
    const members = result.images.flatMap((image, i) => (image.group === g ? [i] : []));
    const series = new Set(members.map((i) => seriesOfFrames[i]));
    const only = series.size === 1 ? [...series][0] : '';
    const record = result.groupEstimates?.[g]?.record ?? null;
    if (!only || record?.outcome === 'reused') return;
    store.set(only, { lambdaB, batchId: groupBatchId(result.batchId, g, lambdas.length), images: record?.sampled ?? members.length });
  });
}

function sequentialSettingsOf(settings: LambdaEstimatorSettings): SequentialSettings {
  const { confidence, lambdaTolerance, minImages, step, maxImages } = settings.sequential;
  return { confidence, lambdaTolerance, minImages, step, maxImages };
}

/**
 * After a T3B batch: a one-series batch whose λ_B was estimated afresh (full, sequential, or re-estimated after a
 * failed check) becomes its series' entry. A reused λ_B does not renew the entry, so the age limit bounds how long
 * one estimate is carried however many checks pass.
 */
export function rememberSeriesLambda(store: SeriesLambdaStore, seriesOfFrames: readonly string[], result: BatchInference): void {
  const series = singleSeries(seriesOfFrames);
  if (series === null || result.policy !== 't3b' || result.batchLambda === null) return;
  if (result.lambdaEstimate?.outcome === 'reused') return;
  const images = result.lambdaEstimate?.sampled ?? result.coefficientSample?.length ?? result.images.length;
  store.set(series, { lambdaB: result.batchLambda, batchId: result.batchId, images });
}

/** The batch's one series, or null when it holds several or an image has none (no SeriesInstanceUID). */
function singleSeries(seriesOfFrames: readonly string[]): string | null {
  const first = seriesOfFrames[0];
  if (!first) return null;
  return seriesOfFrames.every((s) => s === first) ? first : null;
}
