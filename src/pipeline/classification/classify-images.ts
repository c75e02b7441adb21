import type { LambdaEstimateRecord, LambdaEstimatorSettings, PolicyConfig } from '../../t3';
import { spreadCoefficientSample, type BatchInference, type EstimationPrecision, type ImageInference, type InferOptions, type T3Engine } from '../../engine';
import { DicomError, loadModelInputs, type DicomInstanceInfo, type FramePolicy } from '../../dicom';
import type { RankedFinding } from '../../report';
import { seriesLambdaStoreFor, type SeriesLambdaStore } from './series-lambda-store';
import { groupBatchId } from './group-batch-id';
import { groupLambdaEstimationFor, lambdaEstimationFor, rememberGroupLambdas, rememberSeriesLambda } from './series-reuse';

/** One image object handed to the classifier: Part 10 bytes plus a name used in results and errors. */
export interface ClassifyInput {
  name: string;
  bytes: Uint8Array;
}

/**
 * The model's output for one frame, with the coefficients that produced it (the audit record of docs/T3.md §6): the
 * engine's per-image inference with the classes ranked and the batch it ran in.
 */
export interface FrameClassification extends Omit<ImageInference, 'probabilities'> {
  /** 1-based frame number in the source object. */
  frameNumber: number;
  /** All classes, most probable first. */
  predictions: RankedFinding[];
  batchLambda: number | null;
  batchId: string;
  batchSize: number;
  /** T3B with λ_B from a sample: whether this frame was in it; null when λ_B came from every frame of the batch. */
  coefficientSampled: boolean | null;
  /** Frames of the batch that gave λ_B when it came from a sample; null otherwise. */
  coefficientSampleSize: number | null;
  /** How the batch's λ_B was estimated when an estimator of the bundle's t3.estimators ran; null for full T3B. */
  lambdaEstimate: LambdaEstimateRecord | null;
  /** Precision of the batch's fixed passes (int8: quantized estimation passes, t3.estimationPrecision); null without any. */
  estimationPrecision: EstimationPrecision | null;
}

export type ClassifyOutcome =
  | { name: string; ok: true; info: DicomInstanceInfo; frames: FrameClassification[] }
  | { name: string; ok: false; skipped: boolean; errorCode: string; error: string };

export interface ClassifyOptions {
  policy: PolicyConfig;
  batchSize: number;
  framePolicy: FramePolicy;
  /** An input declaring more decoded bytes fails as image-too-large before decoding; absent: dicom/'s default. */
  maxDecodedImageBytes?: number;
  /** How many inputs are decoded at once; decoding overlaps inference of the previous batch. */
  decodeConcurrency?: number;
  /** Stops work between batches (a cancelled gRPC call); outcomes not yet computed become errors. */
  signal?: AbortSignal;
  /**
   * T3B: λ_B from the fixed passes of this many frames of each batch, spread across its series (coefficient-sample.ts);
   * the merged pass still runs on every frame. 0 or absent: every frame (the paper's T3B).
   */
  coefficientSample?: number;
  /**
   * Series reuse's state (series-lambda-store.ts) when the bundle turns it on; absent: the engine's own store, which
   * lives as long as the engine.
   */
  seriesLambdas?: SeriesLambdaStore;
}

/**
 * The engine's per-batch options for these frames: under T3B with a coefficient sample, the sampled positions,
 * spread across the frames' series; else, when the bundle turns on a λ_B estimator (`estimators`), the estimation
 * series-reuse.ts chooses (series reuse from `store`, or sequential sampling); under grouped T3B, the frames' series.
 */
export function inferOptionsFor(options: Pick<ClassifyOptions, 'policy' | 'coefficientSample'>, seriesOfFrames: readonly string[],
  estimators?: LambdaEstimatorSettings, store?: SeriesLambdaStore | null): InferOptions {
  const k = options.coefficientSample ?? 0;
  // Grouped T3B gets each frame's SeriesInstanceUID: with `groupBy: series` it groups the batch by them.
  if (options.policy.name === 't3b-grouped') return { sources: seriesOfFrames, ...(estimators ? groupLambdaEstimationFor(estimators, store ?? null, seriesOfFrames) : {}) };
  if (options.policy.name !== 't3b') return {};
  if (k > 0) return { coefficientSample: spreadCoefficientSample(seriesOfFrames, k) };
  return estimators ? lambdaEstimationFor(estimators, store ?? null, seriesOfFrames) : {};
}

/** Series reuse's store for this engine when its bundle turns series reuse on (ClassifyOptions.seriesLambdas first). */
function seriesStore(engine: T3Engine, options: ClassifyOptions): SeriesLambdaStore | null {
  const reuse = engine.bundle.manifest.lambdaEstimators?.seriesReuse;
  if (!reuse?.enabled || (options.policy.name !== 't3b' && options.policy.name !== 't3b-grouped')) return null;
  return options.seriesLambdas ?? seriesLambdaStoreFor(engine, { maxSeries: reuse.maxSeries, maxAgeMs: 1000 * reuse.maxAgeSeconds });
}

interface PendingFrame {
  inputIndex: number;
  frameNumber: number;
  tensor: Float32Array;
}

/**
 * Classifies DICOM objects with one engine: decodes each input into model tensors, groups the frames of all inputs
 * into T3B batches of `batchSize` in input order, and runs the engine's policy on each batch. A bad input (or a
 * non-image object) becomes an `ok:false` outcome naming the cause; the others are still classified.
 */
export async function classifyImages(
  engine: T3Engine,
  inputs: readonly ClassifyInput[],
  options: ClassifyOptions,
): Promise<ClassifyOutcome[]> {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
  }
  const spec = engine.bundle.manifest.input;
  const outcomes = new Array<ClassifyOutcome | undefined>(inputs.length);
  const frameResults: FrameClassification[][] = inputs.map(() => []);
  const infos = new Array<DicomInstanceInfo | undefined>(inputs.length);
  const pending: PendingFrame[] = [];
  let inference: Promise<void> = Promise.resolve();

  const state: ClassifyState = { inputs, outcomes, frameResults, infos };
  const runBatch = (batch: PendingFrame[]): Promise<void> => inferBatch(engine, options, state, batch);

  // Batches are handed to the engine one after another (the engine serialises anyway); decoding of later inputs
  // goes on while a batch runs.
  const flush = (force: boolean): void => {
    while (pending.length >= options.batchSize || (force && pending.length > 0)) {
      const batch = pending.splice(0, options.batchSize);
      inference = inference.then(() => (options.signal?.aborted ? abortBatch(batch) : runBatch(batch)));
    }
  };
  const abortBatch = async (batch: PendingFrame[]): Promise<void> => {
    for (const frame of batch) outcomes[frame.inputIndex] ??= failure(inputs[frame.inputIndex].name, 'cancelled', 'the request was cancelled');
  };

  const concurrency = Math.max(1, options.decodeConcurrency ?? 2);
  const decoded: Promise<void>[] = [];
  let next = 0;
  // Decoded frames must enter batches in input order so results do not depend on decode timing.
  const ready = new Map<number, PendingFrame[] | null>();
  let emitted = 0;
  const emitInOrder = (): void => {
    while (ready.has(emitted)) {
      const frames = ready.get(emitted);
      ready.delete(emitted);
      if (frames) pending.push(...frames);
      emitted++;
      flush(false);
    }
  };
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const index = next++;
      const input = inputs[index];
      if (options.signal?.aborted) {
        outcomes[index] = failure(input.name, 'cancelled', 'the request was cancelled');
        ready.set(index, null);
        emitInOrder();
        continue;
      }
      try {
        const { info, frames } = await loadModelInputs(input.bytes, spec,
          { framePolicy: options.framePolicy, source: input.name, maxDecodedImageBytes: options.maxDecodedImageBytes });
        infos[index] = info;
        ready.set(index, frames.map((f) => ({ inputIndex: index, frameNumber: f.frameNumber, tensor: f.tensor })));
      } catch (err) {
        outcomes[index] = failure(input.name, err instanceof DicomError ? err.code : 'decode-failed', err);
        ready.set(index, null);
      }
      emitInOrder();
    }
  };
  for (let i = 0; i < Math.min(concurrency, inputs.length); i++) decoded.push(worker());
  await Promise.all(decoded);
  flush(true);
  await inference;

  return inputs.map((_, index) => outcomeOf(state, index));
}

/** What classifyImages collects per input while its batches run (indexed like `inputs`). */
interface ClassifyState {
  inputs: readonly ClassifyInput[];
  outcomes: (ClassifyOutcome | undefined)[];
  frameResults: FrameClassification[][];
  infos: (DicomInstanceInfo | undefined)[];
}

/**
 * Runs one batch through the engine and files each frame's result under its input. A failed batch fails each of its
 * inputs (naming the cause) and nothing else: the other batches and inputs go on.
 */
async function inferBatch(engine: T3Engine, options: ClassifyOptions, state: ClassifyState, batch: PendingFrame[]): Promise<void> {
  const spec = engine.bundle.manifest.input;
  const frameSize = spec.channels * spec.height * spec.width;
  const pixels = new Float32Array(batch.length * frameSize);
  batch.forEach((frame, i) => pixels.set(frame.tensor, i * frameSize));
  let result: BatchInference;
  try {
    const series = batch.map((frame) => state.infos[frame.inputIndex]?.seriesInstanceUid ?? '');
    const store = seriesStore(engine, options);
    result = await engine.infer(pixels, batch.length, options.policy, inferOptionsFor(options, series, engine.bundle.manifest.lambdaEstimators, store));
    if (store && result.policy === 't3b-grouped') rememberGroupLambdas(store, series, result);
    else if (store) rememberSeriesLambda(store, series, result);
  } catch (err) {
    for (const frame of batch) {
      state.outcomes[frame.inputIndex] ??= failure(state.inputs[frame.inputIndex].name, 'inference-failed', err);
    }
    return;
  }
  const classes = engine.bundle.manifest.classes;
  result.images.forEach((image, i) => {
    const frame = batch[i];
    state.frameResults[frame.inputIndex].push(frameClassification(image, result, classes, frame.frameNumber, batch.length, i));
  });
}

/** An input's outcome once every batch has run: its failure, or its frames in frame order. */
function outcomeOf(state: ClassifyState, index: number): ClassifyOutcome {
  const input = state.inputs[index];
  const done = state.outcomes[index];
  if (done) return done;
  const info = state.infos[index];
  if (!info) return failure(input.name, 'decode-failed', 'no frames were decoded');
  return { name: input.name, ok: true, info, frames: state.frameResults[index].sort((a, b) => a.frameNumber - b.frameNumber) };
}

/** One frame's result in the pipeline's terms: classes ranked by probability, with the coefficients behind them. */
export function frameClassification(
  image: ImageInference,
  batch: BatchInference,
  classes: readonly { label: string; code: RankedFinding['code'] }[],
  frameNumber: number,
  batchSize: number,
  /** The frame's position in the batch (which says whether it was in a coefficient sample). */
  position: number,
): FrameClassification {
  const { probabilities, ...coefficients } = image;
  return {
    ...coefficients,
    frameNumber,
    predictions: probabilities
      .map((probability, c) => ({ label: classes[c].label, code: { ...classes[c].code }, probability }))
      .sort((a, b) => b.probability - a.probability),
    batchLambda: image.group !== undefined && batch.groupLambdas ? batch.groupLambdas[image.group] : batch.batchLambda,
    batchId: groupBatchId(batch.batchId, image.group, batch.groupLambdas?.length ?? 1),
    batchSize,
    ...sampleRecord(image, batch, position),
    estimationPrecision: batch.estimationPrecision ?? null,
  };
}

/**
 * What a frame records of the sample its λ came from: the batch's (T3B), or under grouped T3B with estimated group λ
 * its group's, since each group reads as a batch of its own (an image of a group whose estimate used every image was
 * in no sample).
 */
function sampleRecord(image: ImageInference, batch: BatchInference, position: number):
  Pick<FrameClassification, 'coefficientSampled' | 'coefficientSampleSize' | 'lambdaEstimate'> {
  const group = image.group === undefined ? undefined : batch.groupEstimates?.[image.group];
  if (group) {
    // A group whose λ came from every image without an estimator reads as a full grouped T3B batch.
    return {
      coefficientSampled: group.sampleSize === null ? null : (batch.coefficientSample ?? []).includes(position),
      coefficientSampleSize: group.sampleSize,
      lambdaEstimate: group.record,
    };
  }
  return {
    coefficientSampled: batch.coefficientSample === null ? null : batch.coefficientSample.includes(position),
    coefficientSampleSize: batch.coefficientSample === null ? null : batch.coefficientSample.length,
    lambdaEstimate: batch.lambdaEstimate ?? null,
  };
}

function failure(name: string, errorCode: string, err: unknown): ClassifyOutcome {
  const message = err instanceof Error ? err.message : String(err);
  return { name, ok: false, skipped: errorCode === 'not-an-image', errorCode, error: message };
}
