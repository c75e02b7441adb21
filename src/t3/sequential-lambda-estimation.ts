import { computeBatchCoefficients, type ImageCoefficients } from './batch-coefficients';
import { T3InputError } from './errors';
import type { T3Hyperparameters } from './hyperparameters';
import { aggregateBatchLambda } from './lambda';
import { SequentialLambdaEstimate, sequentialOrder, type SequentialSettings, type SequentialState, type SequentialStopReason } from './sequential-estimate';

/**
 * λ_B of one T3B batch for less than both fixed passes of every image (docs/LAMBDA-ESTIMATORS.md), given a way to run
 * the fixed passes on some positions of the batch. Both estimators draw images in one seeded random order
 * (sequentialOrder), so whatever was sampled is a simple random sample without replacement:
 * - `sequential`: images drawn a few at a time until the stopping rule (sequential-estimate.ts) decides, or all
 *   images when it does not;
 * - `series-reuse`: a λ_B estimated on an earlier batch of the same series is kept when the λ of the first
 *   `checkImages` images (the map at their mean statistic) lies within `lambdaTolerance` of it; otherwise λ_B is
 *   estimated afresh: by sequential sampling that goes on from the check images when `fallback` is given, else from
 *   every image (full T3B).
 * Every fixed pass that ran is used: the sampled images keep their coefficients, and when an estimate falls back to
 * all images, only the images not yet sampled are passed.
 */
export type LambdaEstimation =
  /** seed: of the sampling order; absent, the engine derives one from the batch's pixels (batchSeed). */
  | { method: 'sequential'; settings: SequentialSettings; seed?: number }
  | {
    method: 'series-reuse'; lambdaB: number; fromBatch: string; checkImages: number; lambdaTolerance: number; seed?: number;
    /** Sequential sampling's settings for a batch whose check fails; absent: every image. */
    fallback?: SequentialSettings;
  };

export type LambdaEstimateOutcome =
  | SequentialStopReason
  /** series-reuse: the check agreed; λ_B is the series' earlier one. */
  | 'reused'
  /** series-reuse: the check disagreed; λ_B is full T3B's, from every image. */
  | 'check-failed'
  /** series-reuse: the check disagreed; sequential sampling from the check images on decided λ_B. */
  | 'check-failed-decided';

/** What results, gRPC answers and SRs record of how λ_B was estimated. */
export interface LambdaEstimateRecord {
  method: 'sequential' | 'series-reuse';
  /** Images of the batch whose fixed passes ran. */
  sampled: number;
  outcome: LambdaEstimateOutcome;
  /** The stated per-batch confidence of a sequential decision; null when none was made (reuse, or full T3B). */
  confidence: number | null;
  /** series-reuse: the batch whose λ_B was checked (and reused when the outcome is `reused`); null for sequential. */
  reusedFrom: string | null;
  /** The λ the sampled images gave (sequential: the map at the sample's estimate; series-reuse: the check's λ). */
  sampleLambda: number;
}

/** Fixed-pass logits of the given batch positions, rows in the order of `positions`. */
export type FixedPassRunner = (positions: readonly number[]) => Promise<{ pt: ArrayLike<number>[]; ft: ArrayLike<number>[] }>;

export interface EstimatedBatchLambda {
  lambdaB: number;
  /** Coefficients of each sampled position (every position when the estimate fell back to all images). */
  coefficients: Map<number, ImageCoefficients>;
  /** Sampled positions, ascending; every position when λ_B is full T3B's. */
  sampledPositions: number[];
  /** Fixed-pass calls made (each runs both models on its images). */
  fixedPassCalls: number;
  record: LambdaEstimateRecord;
}

export async function estimateBatchLambda(count: number, hp: T3Hyperparameters, estimation: LambdaEstimation,
  runFixedPasses: FixedPassRunner): Promise<EstimatedBatchLambda> {
  if (!Number.isInteger(count) || count < 1) throw new T3InputError(`a batch holds at least one image, got ${count}`);
  const pt = new Array<ArrayLike<number> | undefined>(count);
  const ft = new Array<ArrayLike<number> | undefined>(count);
  const coefficients = new Map<number, ImageCoefficients>();
  const order = sequentialOrder(count, estimation.seed ?? 0);
  let sampled = 0;
  let calls = 0;
  /** Fixed passes on the next `n` images of the order. */
  const draw = async (n: number): Promise<ImageCoefficients[]> => {
    const positions = order.slice(sampled, sampled + n);
    const logits = await runFixedPasses(positions);
    calls++;
    sampled += positions.length;
    const images = computeBatchCoefficients(logits.pt, logits.ft, hp).images;
    positions.forEach((at, r) => { pt[at] = logits.pt[r]; ft[at] = logits.ft[r]; coefficients.set(at, images[r]); });
    return images;
  };
  const allPositions = Array.from({ length: count }, (_, i) => i);
  const finish = (lambdaB: number, record: Omit<LambdaEstimateRecord, 'sampled'>): EstimatedBatchLambda => ({
    lambdaB, coefficients, sampledPositions: [...coefficients.keys()].sort((a, b) => a - b), fixedPassCalls: calls, record: { ...record, sampled },
  });
  /** Full T3B: the remaining images' passes, then λ_B from every row in batch order (bit-exact with t3b). */
  const everyImage = async (record: Omit<LambdaEstimateRecord, 'sampled'>): Promise<EstimatedBatchLambda> => {
    if (sampled < count) await draw(count - sampled);
    const full = computeBatchCoefficients(pt as ArrayLike<number>[], ft as ArrayLike<number>[], hp);
    full.images.forEach((c, i) => coefficients.set(i, c));
    return { ...finish(full.batchLambda, record), sampledPositions: allPositions };
  };
  /** Sequential sampling from what is sampled so far; falls back to every image when undecided. */
  const sequential = async (settings: SequentialSettings, seen: readonly ImageCoefficients[],
    record: (state: SequentialState, reason: SequentialStopReason) => Omit<LambdaEstimateRecord, 'sampled'>): Promise<EstimatedBatchLambda> => {
    const estimate = new SequentialLambdaEstimate(count, hp, settings);
    estimate.add(seen);
    for (let n = estimate.nextDraw(); n > 0; n = estimate.nextDraw()) estimate.add(await draw(n));
    const state = estimate.state();
    const reason = estimate.stopReason();
    return reason === 'decided' ? finish(state.lambda, record(state, reason)) : everyImage(record(state, reason));
  };

  if (estimation.method === 'sequential') {
    return sequential(estimation.settings, [], (state, reason) => ({
      method: 'sequential', outcome: reason, confidence: reason === 'decided' ? estimation.settings.confidence : null, reusedFrom: null, sampleLambda: state.lambda,
    }));
  }

  if (!(Number.isInteger(estimation.checkImages) && estimation.checkImages >= 1)) {
    throw new T3InputError(`series reuse: checkImages must be an integer >= 1, got ${estimation.checkImages}`);
  }
  const checked = await draw(Math.min(estimation.checkImages, count));
  const checkLambda = aggregateBatchLambda(checked, hp);
  const base = { method: 'series-reuse' as const, confidence: null, reusedFrom: estimation.fromBatch, sampleLambda: checkLambda };
  // A check that covered the whole batch is full T3B: nothing is reused.
  if (sampled >= count) return everyImage({ ...base, outcome: 'all-images' });
  if (Math.abs(checkLambda - estimation.lambdaB) <= estimation.lambdaTolerance) return finish(estimation.lambdaB, { ...base, outcome: 'reused' });
  const fallback = estimation.fallback;
  if (!fallback) return everyImage({ ...base, outcome: 'check-failed' });
  return sequential(fallback, checked, (state, reason) => (reason === 'decided'
    ? { ...base, outcome: 'check-failed-decided', confidence: fallback.confidence, sampleLambda: state.lambda }
    : { ...base, outcome: 'check-failed' }));
}

/**
 * A batch's seed for the sequential order, from its pixels: the same batch always gives the same sample (results are
 * reproducible), and different batches give different positions (a position that happens to hold an outlier does
 * not recur batch after batch). FNV-1a over 64 evenly spaced float32 values' bit patterns, mixed with `base`.
 */
export function batchSeed(pixels: Float32Array, base: number): number {
  const bits = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.length);
  let h = (0x811c9dc5 ^ base) >>> 0;
  const samples = Math.min(64, bits.length);
  for (let k = 0; k < samples; k++) {
    h ^= bits[Math.floor(((k + 0.5) * bits.length) / samples)];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
