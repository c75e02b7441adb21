import { spreadCoefficientSample, type BatchInference, type InferOptions } from '../engine';
import type { PolicyConfig } from '../t3';
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
  const started = performance.now();
  for (let start = 0; start < count; start += policy.batchSize) {
    const n = Math.min(policy.batchSize, count - start);
    // A split's images have no series: a coefficient sample is spread evenly over the batch, as for one series.
    const options = policy.coefficientSample ? { coefficientSample: spreadCoefficientSample(Array<string>(n).fill(split.name), policy.coefficientSample) } : {};
    const result = await runner.infer(split.tensors.subarray(start * perImage, (start + n) * perImage), n, policy.config, options);
    if (result.images.length !== n) throw new RangeError(`the engine returned ${result.images.length} results for a batch of ${n}`);
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
  if (policy.config.name === 't3b' || policy.config.name === 't3b-grouped') score.batchLambdas = batchLambdas;
  return { score, predictions: probabilities.map(argmax) };
}
