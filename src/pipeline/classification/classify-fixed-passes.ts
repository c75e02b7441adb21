import type { PolicyConfig, PolicyName } from '../../t3';
import type { BatchInference, InferOptions, ModelBundle } from '../../engine';
import { DicomError, loadModelInputs, type DicomInstanceInfo } from '../../dicom';
import { frameClassification, inferOptionsFor, type ClassifyInput, type ClassifyOptions, type ClassifyOutcome, type FrameClassification } from './classify-images';
import type { FixedPassEntry, FixedPassFrame } from './fixed-pass-cache';

/** What speculation needs from the engine: the fixed passes alone, and the rest of a policy given them. */
export interface FixedPassEngine {
  readonly bundle: ModelBundle;
  /** Logits [count × classes] of the generalist (λ=0) and expert (λ=1) passes. */
  fixedPassLogits(pixels: Float32Array, count: number): Promise<{ generalist: Float32Array; expert: Float32Array }>;
  /** The policy's result from given λ=0 and λ=1 logits (of the sampled frames only, with a coefficient sample). */
  inferFromFixedPasses(ptLogits: Float32Array, ftLogits: Float32Array, pixels: Float32Array, count: number, policy: PolicyConfig, options?: InferOptions): Promise<BatchInference>;
  infer(pixels: Float32Array, count: number, policy: PolicyConfig, options?: InferOptions): Promise<BatchInference>;
}

/** Policies whose result starts from both fixed passes (the others run one pass and gain nothing). */
export const FIXED_PASS_POLICIES: readonly PolicyName[] = ['t3b', 't3b-grouped', 't3', 'dawin', 'ensemble'];

/** An input whose fixed passes may already be known (then `bytes` may be empty: nothing is decoded). */
export interface FixedPassInput extends ClassifyInput {
  cached?: FixedPassEntry;
}

interface Frame {
  inputIndex: number;
  frameNumber: number;
  tensor: Float32Array;
  pt: Float32Array | null;
  ft: Float32Array | null;
}

type FixedPassOptions = ClassifyOptions & { remember?: (input: FixedPassInput, info: DicomInstanceInfo, frames: FixedPassFrame[]) => void };

/** Per input, what has been learnt so far: its DICOM info, its frames, its results, or its failure. */
interface FixedPassRun {
  readonly inputs: readonly FixedPassInput[];
  readonly outcomes: (ClassifyOutcome | undefined)[];
  readonly infos: (DicomInstanceInfo | undefined)[];
  readonly framesOf: Frame[][];
  readonly results: FrameClassification[][];
  /** Inputs at least one of whose fixed passes was computed here (rather than taken from the cache). */
  readonly computed: Set<number>;
}

/**
 * classifyImages with speculation: the same T3B batches (frames of all inputs in input order, `batchSize` at a time),
 * but frames whose generalist and expert logits are known skip decoding and those two passes; only the missing fixed
 * passes, λ_B and the merged pass run. `remember` receives the fixed passes computed here, for later runs.
 */
export async function classifyWithFixedPasses(
  engine: FixedPassEngine,
  inputs: readonly FixedPassInput[],
  options: FixedPassOptions,
): Promise<ClassifyOutcome[]> {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
  }
  const run: FixedPassRun = {
    inputs,
    outcomes: new Array<ClassifyOutcome | undefined>(inputs.length),
    infos: new Array<DicomInstanceInfo | undefined>(inputs.length),
    framesOf: inputs.map(() => []),
    results: inputs.map(() => []),
    computed: new Set<number>(),
  };
  await decodeUncachedInputs(engine.bundle.manifest.input, run, options);
  await classifyBatches(engine, run, options);
  if (options.remember) rememberComputedPasses(run, options.remember);
  return inputs.map((input, index): ClassifyOutcome => {
    const done = run.outcomes[index];
    if (done) return done;
    const info = run.infos[index];
    if (!info) return failure(input.name, 'decode-failed', 'no frames were decoded');
    return { name: input.name, ok: true, info, frames: run.results[index].sort((a, b) => a.frameNumber - b.frameNumber) };
  });
}

/** Takes cached inputs' frames as they are and decodes only the others, `decodeConcurrency` (default 2) at a time. */
async function decodeUncachedInputs(spec: ModelBundle['manifest']['input'], run: FixedPassRun, options: FixedPassOptions): Promise<void> {
  const { inputs, outcomes, infos, framesOf } = run;
  let next = 0;
  const decodeWorker = async (): Promise<void> => {
    while (next < inputs.length) {
      const index = next++;
      const input = inputs[index];
      if (input.cached) {
        infos[index] = input.cached.info;
        framesOf[index] = input.cached.frames.map((f) => ({ inputIndex: index, frameNumber: f.frameNumber, tensor: f.tensor, pt: f.pt, ft: f.ft }));
        continue;
      }
      if (options.signal?.aborted) {
        outcomes[index] = failure(input.name, 'cancelled', 'the request was cancelled');
        continue;
      }
      try {
        const { info, frames } = await loadModelInputs(input.bytes, spec,
          { framePolicy: options.framePolicy, source: input.name, maxDecodedImageBytes: options.maxDecodedImageBytes });
        infos[index] = info;
        framesOf[index] = frames.map((f) => ({ inputIndex: index, frameNumber: f.frameNumber, tensor: f.tensor, pt: null, ft: null }));
      } catch (err) {
        outcomes[index] = failure(input.name, err instanceof DicomError ? err.code : 'decode-failed', err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, options.decodeConcurrency ?? 2), Math.max(1, inputs.length)) }, decodeWorker));
}

/**
 * Runs the policy on the frames of all inputs, `batchSize` at a time in input order (the batches classifyImages would
 * form). A cancelled or failed batch fails each of its inputs that has not failed already.
 */
async function classifyBatches(engine: FixedPassEngine, run: FixedPassRun, options: FixedPassOptions): Promise<void> {
  const { inputs, outcomes, infos, results } = run;
  const manifest = engine.bundle.manifest;
  const frameSize = manifest.input.channels * manifest.input.height * manifest.input.width;
  const fixedPolicy = FIXED_PASS_POLICIES.includes(options.policy.name);
  const all = run.framesOf.flat();
  for (let start = 0; start < all.length; start += options.batchSize) {
    const batch = all.slice(start, start + options.batchSize);
    if (options.signal?.aborted) {
      for (const f of batch) outcomes[f.inputIndex] ??= failure(inputs[f.inputIndex].name, 'cancelled', 'the request was cancelled');
      continue;
    }
    const pixels = new Float32Array(batch.length * frameSize);
    batch.forEach((f, i) => pixels.set(f.tensor, i * frameSize));
    let result: BatchInference;
    try {
      // Two-pass policies run only what is missing; a single-pass policy runs its pass (cached tensors spare decoding).
      const inferOptions = inferOptionsFor(options, batch.map((f) => infos[f.inputIndex]?.seriesInstanceUid ?? ''));
      result = fixedPolicy
        ? await runFromFixedPasses(engine, batch, pixels, frameSize, manifest.classes.length, options.policy, run.computed, inferOptions)
        : await engine.infer(pixels, batch.length, options.policy);
    } catch (err) {
      for (const f of batch) outcomes[f.inputIndex] ??= failure(inputs[f.inputIndex].name, 'inference-failed', err);
      continue;
    }
    result.images.forEach((image, i) => {
      const f = batch[i];
      results[f.inputIndex].push(frameClassification(image, result, manifest.classes, f.frameNumber, batch.length, i));
    });
  }
}

/**
 * Hands over the fixed passes computed here, per input whose every frame has both passes and which did not fail:
 * a partial or failed input is not worth caching.
 */
function rememberComputedPasses(run: FixedPassRun, remember: NonNullable<FixedPassOptions['remember']>): void {
  for (const index of run.computed) {
    const info = run.infos[index];
    const frames = run.framesOf[index];
    if (!info || run.outcomes[index] || frames.some((f) => f.pt === null)) continue;
    remember(run.inputs[index], info, frames.map((f) => ({ frameNumber: f.frameNumber, tensor: f.tensor, pt: f.pt!, ft: f.ft! })));
  }
}

/**
 * Computes the batch's missing λ=0/λ=1 logits (on those frames only), then the policy from both passes. With a T3B
 * coefficient sample only the sampled frames' passes are needed and used, cached or not, so λ_B is the same with and
 * without speculation.
 */
async function runFromFixedPasses(engine: FixedPassEngine, batch: Frame[], pixels: Float32Array, frameSize: number, K: number,
  policy: PolicyConfig, computed: Set<number>, inferOptions: InferOptions): Promise<BatchInference> {
  const used = inferOptions.coefficientSample ? inferOptions.coefficientSample.map((at) => batch[at]) : batch;
  const missing = used.filter((f) => f.pt === null || f.ft === null);
  if (missing.length > 0) {
    const sub = new Float32Array(missing.length * frameSize);
    missing.forEach((f, i) => sub.set(f.tensor, i * frameSize));
    const { generalist: pt, expert: ft } = await engine.fixedPassLogits(sub, missing.length);
    missing.forEach((f, i) => {
      f.pt = pt.slice(i * K, (i + 1) * K);
      f.ft = ft.slice(i * K, (i + 1) * K);
      computed.add(f.inputIndex);
    });
  }
  const ptAll = new Float32Array(used.length * K);
  const ftAll = new Float32Array(used.length * K);
  used.forEach((f, i) => {
    ptAll.set(f.pt!, i * K);
    ftAll.set(f.ft!, i * K);
  });
  return engine.inferFromFixedPasses(ptAll, ftAll, pixels, batch.length, policy, inferOptions);
}

function failure(name: string, errorCode: string, err: unknown): ClassifyOutcome {
  const message = err instanceof Error ? err.message : String(err);
  return { name, ok: false, skipped: errorCode === 'not-an-image', errorCode, error: message };
}
