import { CategorizedError } from '../../errors';
import type { BundleManifest } from '../../engine';
import type { LambdaEstimateRecord, PolicyConfig } from '../../t3';
import {
  decideTriage,
  type AlgorithmRecord,
  type ImageResult,
  type SrInput,
  type TriageConfig,
  type TriageDecision,
} from '../../report';
import type { ClassifyOutcome } from './classify-images';
import type { BatchSummary, BundleIdentityRecord, StudyImageFailure, StudyImagePrediction } from '../results/study-result';

/**
 * Where a result is composed: the classifier's outcomes become the per-image predictions, the failures, the batches,
 * the triage decision and the SR's inputs, in this one file. `serve` (a study in Orthanc), gRPC Classify and the CLI
 * all come through here, so every policy means the same thing on every path.
 */
export interface ComposedClassification {
  /** One entry per classified frame, in input order, then frame order. */
  images: StudyImagePrediction[];
  /** Inputs that could not be used, by input position. */
  failures: StudyImageFailure[];
  /** The batches the images went through, in the order the images first met them. */
  batches: BatchSummary[];
  /** λ_B of those batches that had one (t3b), in the same order: the SR's and the study result's batch record. */
  batchLambdas: number[];
  /** For each of batchLambdas: how many images gave it when it came from a coefficient sample, else null. */
  batchSampleSizes: (number | null)[];
  /** For each of batchLambdas: how an estimator (t3.estimators) estimated it, else null (full T3B). */
  batchEstimates: (LambdaEstimateRecord | null)[];
  /** For each of batchLambdas: the precision of the fixed passes that estimated it (t3.estimationPrecision). */
  batchPrecisions: ('float32' | 'int8')[];
  /** Modalities of the classified images, sorted. */
  modalities: string[];
  /** Studies the classified images belong to (an SR describes exactly one). */
  studyInstanceUids: string[];
  /** Naturalized header of the first classified object: the SR copies its patient and study modules. */
  sourceHeader: Record<string, unknown> | null;
  /** The decision over the classified images; null when none was classified. */
  triage: TriageDecision | null;
}

export interface ComposeOptions {
  triage: TriageConfig;
  /** Position of the i-th outcome among the inputs, when the outcomes are a subset (a study's routed images). */
  positionOf?: (outcomeIndex: number) => number;
  /**
   * List non-image objects among the failures. Classify does (the caller sent them and should hear why nothing came
   * back); a study does not (its SR, KOS and PR objects are expected and are not images to classify).
   */
  listNonImages: boolean;
  /** Inputs that failed before classification (no bundle takes them, the archive could not deliver them). */
  priorFailures?: readonly StudyImageFailure[];
}

const finiteOrNull = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function composeClassification(outcomes: readonly ClassifyOutcome[], options: ComposeOptions): ComposedClassification {
  const images: StudyImagePrediction[] = [];
  const failures: StudyImageFailure[] = [...(options.priorFailures ?? [])];
  const batches = new Map<string, BatchSummary>();
  const studies = new Set<string>();
  let sourceHeader: Record<string, unknown> | null = null;
  outcomes.forEach((outcome, i) => {
    const index = options.positionOf ? options.positionOf(i) : i;
    if (!outcome.ok) {
      if (!outcome.skipped || options.listNonImages) failures.push({ index, name: outcome.name, code: outcome.errorCode, message: outcome.error });
      return;
    }
    const info = outcome.info;
    sourceHeader ??= info.header;
    studies.add(info.studyInstanceUid);
    const multiFrame = info.numberOfFrames > 1;
    for (const frame of outcome.frames) {
      if (!batches.has(frame.batchId)) {
        batches.set(frame.batchId, {
          batchId: frame.batchId, batchLambda: frame.batchLambda, size: frame.batchSize, coefficientSampleSize: frame.coefficientSampleSize,
          ...(frame.lambdaEstimate ? { lambdaEstimate: frame.lambdaEstimate } : {}),
          ...(frame.estimationPrecision ? { estimationPrecision: frame.estimationPrecision } : {}),
        });
      }
      images.push({
        index,
        name: outcome.name,
        frameNumber: multiFrame ? frame.frameNumber : 0,
        sopInstanceUid: info.sopInstanceUid,
        sopClassUid: info.sopClassUid,
        seriesInstanceUid: info.seriesInstanceUid,
        studyInstanceUid: info.studyInstanceUid,
        modality: info.modality,
        predictions: frame.predictions,
        // The engine reports NaN where a one-model policy computed no divergence or entropy: say "none" instead.
        js: finiteOrNull(frame.js),
        lambda: frame.lambda,
        lambdaFinal: frame.lambdaFinal,
        appliedLambda: frame.appliedLambda,
        entropyGeneralist: finiteOrNull(frame.entropyPt),
        entropyExpert: finiteOrNull(frame.entropyFt),
        extrapolationTriggered: frame.extrapolationTriggered,
        batchId: frame.batchId,
        batchLambda: frame.batchLambda,
        batchSize: frame.batchSize,
        coefficientSampled: frame.coefficientSampled,
      });
    }
  });
  failures.sort((a, b) => a.index - b.index);
  const batchList = [...batches.values()];
  const srImages = srImagesOf(images);
  return {
    images,
    failures,
    batches: batchList,
    batchLambdas: batchList.flatMap((b) => (b.batchLambda === null ? [] : [b.batchLambda])),
    batchSampleSizes: batchList.flatMap((b) => (b.batchLambda === null ? [] : [b.coefficientSampleSize])),
    batchEstimates: batchList.flatMap((b) => (b.batchLambda === null ? [] : [b.lambdaEstimate ?? null])),
    batchPrecisions: batchList.flatMap((b) => (b.batchLambda === null ? [] : [b.estimationPrecision ?? 'float32'])),
    modalities: [...new Set(images.map((i) => i.modality))].sort(),
    studyInstanceUids: [...studies],
    sourceHeader,
    triage: srImages.length > 0 ? decideTriage(srImages, options.triage) : null,
  };
}

/** The report's view of the predictions: frame numbers only for multi-frame objects, λ' as the image's coefficient. */
export function srImagesOf(images: readonly StudyImagePrediction[]): ImageResult[] {
  return images.map((image) => ({
    sopClassUid: image.sopClassUid,
    sopInstanceUid: image.sopInstanceUid,
    seriesInstanceUid: image.seriesInstanceUid,
    studyInstanceUid: image.studyInstanceUid,
    modality: image.modality,
    ...(image.frameNumber > 0 ? { frameNumber: image.frameNumber } : {}),
    predictions: image.predictions,
    js: image.js,
    // λ' (after the extrapolation guard) is the coefficient the method assigns to the image.
    lambda: image.lambdaFinal,
    ...(image.coefficientSampled === null ? {} : { coefficientSampled: image.coefficientSampled }),
  }));
}

/** The identity of a bundle's two models, as results and SRs record it. */
export function bundleIdentityOf(manifest: BundleManifest): BundleIdentityRecord {
  const model = (entry: BundleManifest['models']['generalist']) => ({ name: entry.name, version: entry.version, sha256: entry.sha256 });
  return { name: manifest.name, version: manifest.version, generalist: model(manifest.models.generalist), expert: model(manifest.models.expert) };
}

/**
 * The audit record of docs/T3.md §6 for results of a bundle's models under `policy`. `batchSampleSizes` (parallel to
 * batchLambdas) is recorded when some λ_B came from a coefficient sample.
 */
export function algorithmRecordFor(manifest: BundleManifest, policy: PolicyConfig, batchSize: number, batchLambdas: number[],
  batchSampleSizes: readonly (number | null)[] = [], batchEstimates: readonly (LambdaEstimateRecord | null)[] = [],
  batchPrecisions: readonly ('float32' | 'int8')[] = []): AlgorithmRecord {
  const identity = bundleIdentityOf(manifest);
  const sampled = batchSampleSizes.some((size) => size !== null);
  const estimated = batchEstimates.some((e) => e !== null);
  return {
    name: manifest.name,
    version: manifest.version,
    method: policy.name,
    batchLambdas,
    ...(sampled ? { batchSampleSizes: [...batchSampleSizes] } : {}),
    ...(estimated ? { batchEstimates: [...batchEstimates] } : {}),
    // Only when some λ_B came from int8 estimation passes: SRs of full-precision T3B stay as they were.
    ...(batchPrecisions.includes('int8') ? { batchPrecisions: [...batchPrecisions] } : {}),
    batchSize,
    // The engine computes coefficients with the bundle's fitted temperatures: record those.
    hyperparameters: { ...policy.hyperparameters, tPt: manifest.temperatures.generalist, tFt: manifest.temperatures.expert },
    models: { generalist: identity.generalist, expert: identity.expert },
    ...(manifest.demonstration ? { demonstration: true } : {}),
  };
}

/** Why a composed classification cannot become one SR; the message names it. */
export class NoReportError extends CategorizedError {
  constructor(message: string) {
    super('invalid-argument', message);
  }
}

/**
 * The SR's inputs for a composed classification (without the predecessor, which only the archive knows). Throws
 * NoReportError when nothing was classified or the images come from several studies (an SR describes one study).
 */
export function srInputFor(
  composed: ComposedClassification,
  manifest: BundleManifest,
  policy: PolicyConfig,
  batchSize: number,
): Omit<SrInput, 'predecessor' | 'contentDateTime'> {
  if (composed.images.length === 0 || !composed.sourceHeader || !composed.triage) throw new NoReportError('no classified image to report');
  if (composed.studyInstanceUids.length > 1) {
    throw new NoReportError(`an SR describes one study, but the images come from ${composed.studyInstanceUids.length} studies`);
  }
  return {
    sourceHeader: composed.sourceHeader,
    images: srImagesOf(composed.images),
    algorithm: algorithmRecordFor(manifest, policy, batchSize, composed.batchLambdas, composed.batchSampleSizes, composed.batchEstimates, composed.batchPrecisions),
    triage: composed.triage,
  };
}
