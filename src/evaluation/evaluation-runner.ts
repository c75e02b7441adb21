import { spreadCoefficientSample, type BatchInference, type InferOptions } from '../engine';
import type { PolicyConfig } from '../t3';
import { SeriesLambdaStore } from '../pipeline/classification/series-lambda-store';
import { groupLambdaEstimationFor, lambdaEstimationFor, rememberGroupLambdas, rememberSeriesLambda } from '../pipeline/classification/series-reuse';
import type { EvaluatedPolicy } from './evaluation-policies';
import { argmax, expectedCalibrationError, meanNegativeLogLikelihood, top1Accuracy } from './metrics';

/** What the runner needs from the engine (T3Engine satisfies it). */
export interface InferenceRunner {
  infer(pixels: Float32Array, count: number, policy: PolicyConfig, options?: InferOptions): Promise<BatchInference>;
}

/** One evaluation split, ready for the model: preprocessed tensors and class indices. */
export interface PreparedSplit {
  /** e.g. "in-domain", "shifted", "in-domain/jpeg/3" */
  name: string;
  /** 'corruption-base': the clean copies of the corrupted images (see evaluation.ts). */
  kind: 'clean' | 'corrupted' | 'corruption-base';
  corruption?: string;
  severity?: number;
  /** float32 [count, C, H, W] */
  tensors: Float32Array;
  labels: number[];
  /** Series of each image (series-stream.ts); absent: the whole split is one series. */
  series?: string[];
  /**
   * Where each image came from, for grouped T3B by series (`groupBy: series`): the split each image of the pooled
   * stream was drawn from (pooled-stream.ts). Kept apart from `series` so that the λ_B estimators' series reuse sees
   * the pooled stream as before. Absent: `series`, else the split's name for every image.
   */
  sources?: string[];
}

export interface SplitScore {
  images: number;
  accuracy: number;
  nll: number;
  ece: number;
  /** Mean over images of the λ of the merged pass that produced the prediction (null for the ensemble). */
  meanAppliedLambda: number | null;
  /** Mean over images of T3's λ'(x) (after the guard); null for single-pass policies, which do not compute it. */
  meanT3Lambda: number | null;
  /** Mean JS divergence between the two models' outputs (null for single-pass policies). */
  meanJs: number | null;
  /** Fraction of images where the extrapolation guard moved λ (null for single-pass policies). */
  extrapolationRate: number | null;
  /** T3B: the batch λ_B of every batch, in order. */
  batchLambdas?: number[];
  /** Fraction of this split's images where the policy predicts the same class as sample-wise T3 (set by
   *  runEvaluation when T3 is among the policies). */
  agreementWithT3?: number;
  /**
   * T3B (all variants): model passes per image actually run, 2 × images with fixed passes + 1 merged pass per image,
   * over the split's images (3 for full T3B).
   */
  passesPerImage?: number;
  /** T3B with an estimator: batches per outcome of the estimate (decided, undecided, reused, check-failed, …). */
  estimateOutcomes?: Record<string, number>;
  /** Seconds of engine time for this policy on this split. */
  seconds: number;
}

function mean(values: number[]): number | null {
  const finite = values.filter(Number.isFinite);
  return finite.length ? finite.reduce((s, v) => s + v, 0) / finite.length : null;
}

export interface PolicySplitRun {
  score: SplitScore;
  /** Predicted class index per image (kept out of the written report; used to compare policies image by image). */
  predictions: number[];
}

/** Runs one policy over one split in consecutive batches of the policy's batch size (the split's order). */
export async function scorePolicyOnSplit(runner: InferenceRunner, policy: EvaluatedPolicy, split: PreparedSplit): Promise<PolicySplitRun> {
  const count = split.labels.length;
  if (count === 0) throw new RangeError(`split ${split.name} has no images`);
  const perImage = split.tensors.length / count;
  const probabilities: number[][] = [];
  const applied: number[] = [];
  const t3Lambdas: number[] = [];
  const js: number[] = [];
  const guard: number[] = [];
  const batchLambdas: number[] = [];
  let passes = 0;
  const outcomes: Record<string, number> = {};
  // Series reuse's state lives for one run of the policy over the split, as it would for one engine over one stream.
  const estimators = policy.config.name === 't3b' || policy.config.name === 't3b-grouped' ? policy.lambdaEstimators : undefined;
  const store = estimators?.seriesReuse.enabled
    ? new SeriesLambdaStore({ maxSeries: estimators.seriesReuse.maxSeries, maxAgeMs: 1000 * estimators.seriesReuse.maxAgeSeconds })
    : null;
  const started = performance.now();
  for (let start = 0; start < count; start += policy.batchSize) {
    const n = Math.min(policy.batchSize, count - start);
    // A split's images have no series: a coefficient sample is spread evenly over the batch, as for one series.
    const series = split.series ? split.series.slice(start, start + n) : Array<string>(n).fill(split.name);
    const options: InferOptions = policy.coefficientSample
      ? { coefficientSample: spreadCoefficientSample(Array<string>(n).fill(split.name), policy.coefficientSample) }
      : !estimators || policy.config.name === 't3b-grouped' ? {} : lambdaEstimationFor(estimators, store, series);
    // Grouped T3B groups by each image's source; its estimators (series reuse included) work per source too.
    const sources = split.sources ? split.sources.slice(start, start + n) : series;
    if (policy.config.name === 't3b-grouped') Object.assign(options, { sources }, estimators ? groupLambdaEstimationFor(estimators, store, sources) : {});
    const result = await runner.infer(split.tensors.subarray(start * perImage, (start + n) * perImage), n, policy.config, options);
    if (result.images.length !== n) throw new RangeError(`the engine returned ${result.images.length} results for a batch of ${n}`);
    if (store && policy.config.name === 't3b-grouped') rememberGroupLambdas(store, sources, result);
    else if (store) rememberSeriesLambda(store, series, result);
    // Grouped T3B with estimated group λ: one outcome per group.
    for (const estimate of result.groupEstimates?.map((g) => g.record) ?? [result.lambdaEstimate]) {
      if (estimate) outcomes[estimate.outcome] = (outcomes[estimate.outcome] ?? 0) + 1;
    }
    // Fixed passes on the sampled images only (or every image), one merged pass on every image.
    passes += 2 * (result.coefficientSample ? result.coefficientSample.length : n) + n;
    if (policy.config.name === 't3b' && result.batchLambda !== null) batchLambdas.push(result.batchLambda);
    // Grouped T3B: every group's λ, batch after batch (one entry per batch that stayed one group).
    if (policy.config.name === 't3b-grouped' && result.groupLambdas) batchLambdas.push(...result.groupLambdas);
    for (const image of result.images) {
      probabilities.push(image.probabilities);
      if (image.appliedLambda !== null) applied.push(image.appliedLambda);
      if (Number.isFinite(image.js)) {
        js.push(image.js);
        t3Lambdas.push(image.lambdaFinal);
        guard.push(image.extrapolationTriggered ? 1 : 0);
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const multiPass = js.length > 0;
  const score: SplitScore = {
    images: count,
    accuracy: top1Accuracy(probabilities, split.labels),
    nll: meanNegativeLogLikelihood(probabilities, split.labels),
    ece: expectedCalibrationError(probabilities, split.labels),
    meanAppliedLambda: mean(applied),
    // DaWin's per-image λ is its own coefficient, so its lambdaFinal is still T3's λ' (computed for the record).
    meanT3Lambda: multiPass ? mean(t3Lambdas) : null,
    meanJs: multiPass ? mean(js) : null,
    extrapolationRate: multiPass ? mean(guard) : null,
    seconds,
  };
  if (policy.config.name === 't3b' || policy.config.name === 't3b-grouped') {
    score.batchLambdas = batchLambdas;
    score.passesPerImage = passes / count;
  }
  if (estimators) score.estimateOutcomes = outcomes;
  return { score, predictions: probabilities.map(argmax) };
}
