import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  batchSeed,
  computeBatchCoefficients,
  estimateBatchLambda,
  estimateGroupLambdas,
  groupBatch,
  type GroupEstimation,
  mergedTemperature,
  softmax,
  type BatchCoefficients,
  type FixedPassRunner,
  type ImageCoefficients,
  type LambdaEstimateRecord,
  type LambdaEstimation,
  type PolicyConfig,
  type PolicyName,
  type T3Hyperparameters,
} from '../t3';
import type { ModelBundle } from './bundle';
import { EngineError } from './engine-error';
import {
  chooseFixedPassSessions,
  REAL_MEMORY,
  type FixedPassSessions,
  type FixedPassSessionsChoice,
  type FixedPassSessionsSetting,
  type MemoryProbe,
} from './fixed-pass-sessions';
import { DEFAULT_EXECUTION_PROVIDERS, parseExecutionProviders, type ExecutionProviderName, type ProviderFailure } from './execution-providers';
import type { SessionSpinning } from './inference-protocol';
import { InferenceWorker } from './inference-worker-client';
import { resolveIntraOpThreads } from './intra-op-threads';
import { getMergedModelFile, type MergedModelFile } from './merged-cache';
import { getQuantizedModelFile, type QuantizedModelFile } from './quantized-cache';
import { ESTIMATION_QUANTIZE_OPTIONS, fixedPassesOnlyEstimate, type EstimationPrecision } from './quantized-estimation';
import { LAMBDA_INPUT_NAME, type MergedGraphForm } from './merged-graph';
import { SharedPixelMemory } from './shared-pixels';

export interface EngineOptions {
  /** Tried in order; the first that starts is used (default cuda, webgpu, cpu). */
  executionProviders?: ExecutionProviderName[];
  /** ONNX Runtime intra-op threads per session (default: the CPUs this process may use; intra-op-threads.ts). */
  intraOpThreads?: number;
  /** Where the merged model is cached (default `<bundle>/.cache/`, or the OS temp dir when that is read-only). */
  cacheDir?: string;
  /** Receives the one line saying which execution provider is in use (default: stderr, keeping stdout for results). */
  log?: (message: string) => void;
  /** Sessions of the λ=0 and λ=1 passes: plain ones per model, the merged graph, or auto (fixed-pass-sessions.ts). */
  fixedPassSessions?: FixedPassSessionsSetting;
  /** What `auto` reads (tests pass their own). */
  memory?: MemoryProbe;
  /** What the sessions' idle threads do (inference-protocol.ts SessionSpinning); default within-runs. */
  spinning?: SessionSpinning;
  /**
   * Precision of the fixed passes of the policies whose fixed passes only estimate λ (quantized-estimation.ts);
   * default: the bundle's `t3.estimationPrecision`, else float32. int8 runs on the CPU provider only.
   */
  estimationPrecision?: EstimationPrecision;
}

/** Per-batch choices of `infer` beyond the policy. */
export interface InferOptions {
  /**
   * T3B with λ_B from a sample: positions (0-based, within the batch) of the images whose generalist and expert
   * passes run; λ_B comes from their coefficients alone and the merged pass runs on every image. Ignored by the
   * other policies (T3, DaWin and the ensemble need both passes of every image).
   */
  coefficientSample?: readonly number[];
  /**
   * Precision of this call's estimation passes, overriding the engine's (EngineOptions.estimationPrecision); the int8
   * sessions open on first use. Ignored by the policies whose fixed passes are their predictions (ensemble) or that
   * run none, and by estimators of lambdaEstimation, which use the engine's precision.
   */
  estimationPrecision?: EstimationPrecision;
  /**
   * T3B with λ_B from a sequential sample or reused from an earlier batch of the series (t3/sequential-lambda-estimation.ts):
   * the fixed passes run on the images the estimator asks for, and the merged pass on every image. A sequential
   * estimation without a seed draws its order from the batch's pixels (batchSeed). Ignored by the other policies and
   * when coefficientSample is given.
   */
  lambdaEstimation?: LambdaEstimation;
  /**
   * Source of each image, in batch order (its SeriesInstanceUID in a PACS; '' when unknown): t3b-grouped with
   * `groupBy: series` groups by it (t3/batch-groups.ts) and refuses a batch without it. Ignored otherwise.
   */
  sources?: readonly string[];
  /**
   * t3b-grouped under `groupBy: series`: each group's λ from an estimator, sequential sampling inside the group and/or
   * reuse of its series' stored λ (t3/grouped-lambda-estimation.ts); `seed` as for lambdaEstimation. Ignored otherwise.
   */
  groupEstimation?: GroupEstimation & { seed?: number };
}

export interface ImageInference {
  probabilities: number[];
  /** JS divergence of the two models' outputs; NaN for single-pass policies (generalist, expert, wise). */
  js: number;
  /** T3 λ(x) from the JS divergence; for single-pass policies the λ of the pass. */
  lambda: number;
  /** λ'(x) after the extrapolation guard; for single-pass policies the λ of the pass. */
  lambdaFinal: number;
  /** Entropies of the temperature-scaled outputs; NaN where the policy did not run that model. */
  entropyPt: number;
  entropyFt: number;
  extrapolationTriggered: boolean;
  /** λ of the merged pass that produced `probabilities` (null for ensemble). */
  appliedLambda: number | null;
  /** t3b-grouped: index of the image's group in BatchInference.groupLambdas; absent for the other policies. */
  group?: number;
  /** t3b-grouped by series: how many series the image's group holds (1: its own series; more: the remainder of
   *  small series). The count, not the UIDs, so a record stays short. Absent otherwise. */
  groupSeries?: number;
}

export interface BatchInference {
  batchId: string;
  policy: PolicyName;
  /**
   * λ_B of the batch's merged pass (t3b); null for the other policies: one-model policies record their fixed λ per image
   * (appliedLambda), and results, SRs and the proto say λ_B only where T3B computed one.
   */
  batchLambda: number | null;
  images: ImageInference[];
  passes: number;
  executionProvider: ExecutionProviderName;
  durationMs: number;
  /**
   * Positions of the images whose fixed passes gave λ_B when it came from a sample (InferOptions); null when every
   * image's did (or the policy has no λ_B). Images outside it have js NaN and λ = λ' = λ_B.
   */
  coefficientSample: number[] | null;
  /**
   * Precision of the fixed passes that gave the coefficients: int8 when they ran on the quantized copies of the two
   * models (only to estimate λ; the merged passes are full precision), float32 otherwise; null for single-pass
   * policies, which run no fixed pass. Always set by T3Engine; absent from results made elsewhere (test doubles).
   */
  estimationPrecision?: EstimationPrecision | null;
  /** How λ_B was estimated when InferOptions.lambdaEstimation asked for an estimator; absent otherwise. */
  lambdaEstimate?: LambdaEstimateRecord;
  /**
   * t3b-grouped: λ of each group of the batch (t3/batch-groups.ts), indexed by ImageInference.group; one entry when
   * the batch stayed one group (then batchLambda is that λ, T3B's λ_B). Absent for the other policies.
   */
  groupLambdas?: number[];
  /**
   * t3b-grouped with each group's λ from an estimator (InferOptions.groupEstimation): per group, indexed as
   * groupLambdas, how its λ was estimated (null: from every image, no estimator) and how many of its images gave it
   * (null: every image).
   */
  groupEstimates?: { record: LambdaEstimateRecord | null; sampleSize: number | null }[];
}

interface Pass { logits: Float32Array; classes: number; }

/**
 * T3/T3B inference over one model bundle: one merged ONNX session (in a worker thread) serves the merged pass at any
 * λ, so no session is ever rebuilt per batch. The generalist (λ=0) and expert (λ=1) passes run on plain sessions of
 * the two models (pre-packed weights, full speed) when `fixedPassSessions` resolves to plain, else on the merged one.
 */
export class T3Engine {
  readonly bundle: ModelBundle;
  readonly merged: MergedModelFile;
  private readonly worker: InferenceWorker;
  /** Plain sessions of the generalist (λ=0) and the expert (λ=1); null when the merged session serves those passes. */
  private readonly plainWorkers: { generalist: InferenceWorker; expert: InferenceWorker } | null;
  /** Which sessions run the fixed passes, and why. */
  readonly fixedPassSessions: { sessions: FixedPassSessions; reason: string };
  private provider: ExecutionProviderName;
  /** Providers that could not start, with their errors (empty when the first one started). */
  readonly providerFailures: ProviderFailure[];
  readonly sessionCreateMs: number;
  /** Where a call's pixels wait for the workers, kept between calls (shared-pixels.ts). */
  private readonly sharedPixels = new SharedPixelMemory();
  /** Precision of the estimation passes when a call does not choose one, and why (int8 only on the CPU provider). */
  readonly estimation: { precision: EstimationPrecision; reason: string };
  /** The int8 sessions of the estimation passes, opened at start when `estimation` is int8, else on first use. */
  private quantized: Promise<QuantizedSessions> | null = null;
  /** What opening the int8 sessions needs (the bundle, threads, cache folder). */
  private readonly quantizedSetup: { cacheDir: string; intraOpThreads: number; spinning?: SessionSpinning };

  private constructor(bundle: ModelBundle, merged: MergedModelFile, worker: InferenceWorker,
    started: { executionProvider: ExecutionProviderName; failures: ProviderFailure[]; createMs: number },
    plain: { workers: { generalist: InferenceWorker; expert: InferenceWorker } | null; sessions: FixedPassSessions; reason: string },
    estimation: { precision: EstimationPrecision; reason: string }, quantizedSetup: { cacheDir: string; intraOpThreads: number; spinning?: SessionSpinning }) {
    this.bundle = bundle;
    this.merged = merged;
    this.worker = worker;
    this.plainWorkers = plain.workers;
    this.fixedPassSessions = { sessions: plain.sessions, reason: plain.reason };
    this.provider = started.executionProvider;
    this.providerFailures = started.failures;
    this.sessionCreateMs = started.createMs;
    this.estimation = estimation;
    this.quantizedSetup = quantizedSetup;
  }

  static async open(bundle: ModelBundle, options: EngineOptions = {}): Promise<T3Engine> {
    let providers: ExecutionProviderName[];
    try {
      providers = parseExecutionProviders(options.executionProviders ?? [...DEFAULT_EXECUTION_PROVIDERS]);
    } catch (error) {
      throw new EngineError((error as Error).message);
    }
    // Resolved once so the log says what every session of the engine got.
    const intraOpThreads = resolveIntraOpThreads(options.intraOpThreads);
    const sizes = await Promise.all([bundle.generalistPath, bundle.expertPath].map(async (file) => (await fs.stat(file)).size));
    const choice = chooseFixedPassSessions(options.fixedPassSessions ?? 'auto', sizes, options.memory ?? REAL_MEMORY);
    // Beside plain sessions the merged graph serves only the merged pass (workerFor), never λ=0 or λ=1, so it can
    // take the faster offset form; alone it must reproduce both models exactly (lerp). It is built (or read from the
    // cache) before any session starts: a first build holds both models' bytes and peaks above the sessions' size.
    const mergedFile = (form: MergedGraphForm) => getMergedModelFile({
      generalistPath: bundle.generalistPath,
      expertPath: bundle.expertPath,
      generalistSha256: bundle.manifest.models.generalist.sha256,
      expertSha256: bundle.manifest.models.expert.sha256,
      form,
      cacheDir: options.cacheDir ?? path.join(bundle.dir, '.cache'),
    });
    let merged = await mergedFile(choice.sessions === 'plain' ? 'offset' : 'lerp');
    const mergedWorker = (file: MergedModelFile, tried: ExecutionProviderName[]) => new InferenceWorker({
      modelPath: file.path,
      executionProviders: tried,
      intraOpThreads,
      inputName: bundle.manifest.input.name,
      outputName: bundle.manifest.output.name,
      lambdaInputName: LAMBDA_INPUT_NAME,
      ...(options.spinning ? { spinning: options.spinning } : {}),
      memoryPattern: false,
    });
    // The merged session starts first and picks the provider; the plain ones follow on it (one device per batch).
    let worker = mergedWorker(merged, providers);
    let started = await worker.start();
    const failures = started.failures;
    const plain = await openPlainSessions(bundle, { ...options, intraOpThreads: fixedPassThreads(intraOpThreads) }, started.executionProvider, choice);
    if (plain.sessions === 'merged' && merged.summary.form !== 'lerp') {
      // The plain sessions could not start, so the merged session serves the fixed passes too: it needs the exact form.
      await worker.close();
      try {
        merged = await mergedFile('lerp');
        worker = mergedWorker(merged, [started.executionProvider]);
        started = await worker.start();
      } catch (error) {
        await worker.close();
        throw error;
      }
    }
    const estimation = resolveEstimation(options.estimationPrecision ?? bundle.manifest.estimationPrecision ?? 'float32', started.executionProvider,
      options.estimationPrecision !== undefined);
    const quantizedSetup = { cacheDir: options.cacheDir ?? path.join(bundle.dir, '.cache'), intraOpThreads: fixedPassThreads(intraOpThreads), ...(options.spinning ? { spinning: options.spinning } : {}) };
    const engine = new T3Engine(bundle, merged, worker, { ...started, failures }, plain, estimation, quantizedSetup);
    if (estimation.precision === 'int8') {
      try {
        await engine.quantizedSessions();
      } catch (error) {
        await engine.close();
        throw error;
      }
    }
    // One short line: the providers' own errors are long (library paths); `doctor` and engine.providerFailures hold them.
    const skipped = failures.length ? ` (${failures.map((f) => f.provider).join(', ')} could not start: see \`orthanc-t3 doctor\`)` : '';
    (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)))(`orthanc-t3 engine: ${bundle.manifest.name} ${bundle.manifest.version} on ${started.executionProvider}, ${intraOpThreads} thread${intraOpThreads === 1 ? '' : 's'}${plain.sessions === 'plain' ? ` (${fixedPassThreads(intraOpThreads)} per fixed pass)` : ''}${skipped}; fixed passes: ${plain.sessions} sessions (${plain.reason}); merged pass: ${merged.summary.form} graph; estimation passes: ${estimation.precision} (${estimation.reason})`);
    return engine;
  }

  /** The int8 copies of the two models (built or read from the cache) in sessions of their own, on the CPU provider. */
  private quantizedSessions(): Promise<QuantizedSessions> {
    this.quantized ??= openQuantizedSessions(this.bundle, this.quantizedSetup).catch((error: unknown) => {
      // A later call may try again (a full disk, say, is not permanent).
      this.quantized = null;
      throw error;
    });
    return this.quantized;
  }

  /** Files of the int8 copies, once their sessions have opened (null before, or when no call needed them). */
  async quantizedModelFiles(): Promise<{ generalist: QuantizedModelFile; expert: QuantizedModelFile } | null> {
    if (!this.quantized) return null;
    const sessions = await this.quantized;
    return { generalist: sessions.generalist.file, expert: sessions.expert.file };
  }

  /**
   * Precision of a call's estimation passes: null for the single-pass policies, float32 for the ensemble (its fixed
   * passes are its predictions) and on providers other than the CPU, else the call's choice or the engine's.
   */
  private estimationPrecisionFor(policy: PolicyName, options: InferOptions): EstimationPrecision | null {
    if (policy === 'generalist' || policy === 'expert' || policy === 'wise') return null;
    if (!fixedPassesOnlyEstimate(policy) || this.provider !== 'cpu') return 'float32';
    // Estimators of lambdaEstimation run their fixed passes at the engine's precision (estimatedT3b).
    if (policy === 't3b' && options.coefficientSample === undefined && options.lambdaEstimation !== undefined) return this.estimation.precision;
    return options.estimationPrecision ?? this.estimation.precision;
  }

  /** The execution provider in use. */
  get executionProvider(): ExecutionProviderName {
    return this.provider;
  }

  /** The session that runs a pass at λ: a plain model's for exactly 0 or 1 when there are plain sessions. */
  private workerFor(lambda: number): InferenceWorker {
    if (this.plainWorkers && lambda === 0) return this.plainWorkers.generalist;
    if (this.plainWorkers && lambda === 1) return this.plainWorkers.expert;
    return this.worker;
  }

  private async pass(pixels: Float32Array, count: number, lambda: number, what: string, on?: InferenceWorker): Promise<Pass> {
    const { channels, height, width } = this.bundle.manifest.input;
    const result = await (on ?? this.workerFor(lambda)).run(pixels, [count, channels, height, width], lambda);
    const info = await this.worker.start();
    this.provider = info.executionProvider;
    const classes = this.bundle.manifest.classes.length;
    if (result.dims.length !== 2 || result.dims[0] !== count || result.dims[1] !== classes) {
      throw new EngineError(`the model returned logits of shape [${result.dims.join(', ')}], expected [${count}, ${classes}] (one logit per class of bundle.json)`);
    }
    for (let i = 0; i < result.logits.length; i++) {
      if (!Number.isFinite(result.logits[i])) {
        throw new EngineError(`the ${what} pass produced a non-finite logit (${result.logits[i]}) for image ${Math.floor(i / classes)} of the batch; check that its pixels are finite and preprocessed`);
      }
    }
    return { logits: result.logits, classes };
  }

  private rows(pass: Pass, count: number): Float32Array[] {
    return Array.from({ length: count }, (_, i) => pass.logits.subarray(i * pass.classes, (i + 1) * pass.classes));
  }

  /**
   * Hyperparameters of the policy with the bundle's fitted temperatures (docs/T3.md §2, output distribution
   * alignment). Every pass is softmaxed at the temperature of its λ, T(λ) = T_pt^(1−λ)·T_ft^λ
   * (t3/merged-temperature.ts): the generalist's at 0, the expert's at 1, interpolated for merged passes.
   */
  private hyperparameters(policy: PolicyConfig): T3Hyperparameters {
    const t = this.bundle.manifest.temperatures;
    return { ...policy.hyperparameters, tPt: t.generalist, tFt: t.expert };
  }

  /**
   * Runs one batch under `policy`. pixels: float32 [count, C, H, W], already preprocessed. The ONNX Runtime work
   * happens in the worker thread, so the event loop stays free.
   */
  async infer(pixels: Float32Array, count: number, policy: PolicyConfig, options: InferOptions = {}): Promise<BatchInference> {
    const started = performance.now();
    this.checkPixels(pixels, count);
    // Every pass of this call reads the same shared copy (shared-pixels.ts).
    const result = await this.sharedPixels.with(pixels, (shared) => this.inferShared(shared, count, policy, options, started));
    return { ...result, estimationPrecision: this.estimationPrecisionFor(policy.name, options) };
  }

  private async inferShared(pixels: Float32Array, count: number, policy: PolicyConfig, options: InferOptions, started: number): Promise<BatchInference> {
    const hp = this.hyperparameters(policy);
    const name = policy.name;

    const single = async (lambda: number, what: string): Promise<BatchInference> => {
      const pass = await this.pass(pixels, count, lambda, what);
      const temperature = mergedTemperature(lambda, hp.tPt, hp.tFt);
      const images = this.rows(pass, count).map((row) => ({
        probabilities: softmax(row, temperature),
        js: Number.NaN, lambda, lambdaFinal: lambda, entropyPt: Number.NaN, entropyFt: Number.NaN,
        extrapolationTriggered: false, appliedLambda: lambda,
      }));
      return this.result(name, null, images, 1, started);
    };

    switch (name) {
      case 'generalist': return single(0, 'generalist (λ=0)');
      case 'expert': return single(1, 'expert (λ=1)');
      case 'wise': {
        if (!Number.isFinite(policy.wiseAlpha)) throw new EngineError(`wise policy: wiseAlpha must be finite, got ${policy.wiseAlpha}`);
        return single(policy.wiseAlpha, `wise (λ=${policy.wiseAlpha})`);
      }
      default: break;
    }

    if (name === 't3b' && options.coefficientSample === undefined && options.lambdaEstimation !== undefined) {
      return this.estimatedT3b(pixels, count, hp, options.lambdaEstimation, started);
    }
    // Grouped by series, a group's λ can be estimated like a one-series batch's; grouped by the step, the groups are
    // only known once every image's divergence is, so there is nothing to save and the estimation is ignored.
    if (name === 't3b-grouped' && options.groupEstimation !== undefined && hp.groupBy === 'series') {
      const precision = this.estimationPrecisionFor(name, options) ?? 'float32';
      return this.estimatedGroupedT3b(pixels, count, hp, { ...options.groupEstimation, sources: options.sources, precision }, started);
    }
    if (name === 't3b' && options.coefficientSample !== undefined) {
      const sample = checkSample(options.coefficientSample, count);
      const perImage = this.bundle.manifest.input.channels * this.bundle.manifest.input.height * this.bundle.manifest.input.width;
      const sampled = new Float32Array(sample.length * perImage);
      sample.forEach((at, i) => sampled.set(pixels.subarray(at * perImage, (at + 1) * perImage), i * perImage));
      const [ptPass, ftPass] = await this.sharedPixels.with(sampled, (shared) => this.fixedPasses(shared, sample.length, ' (sample)', this.estimationPrecisionFor(name, options) ?? 'float32'));
      const pt = this.rows(ptPass, sample.length);
      const ft = this.rows(ftPass, sample.length);
      const result = await this.fromFixedPasses(pt, ft, pixels, count, policy, hp, started, 2, options.sources, sample);
      return { ...result, coefficientSample: [...sample] };
    }
    const [ptPass, ftPass] = await this.fixedPasses(pixels, count, '', this.estimationPrecisionFor(name, options) ?? 'float32');
    const pt = this.rows(ptPass, count);
    const ft = this.rows(ftPass, count);
    return this.fromFixedPasses(pt, ft, pixels, count, policy, hp, started, 2, options.sources);
  }

  /**
   * The generalist (λ=0) and expert (λ=1) passes of the same pixels. On plain sessions they run side by side, each
   * session with half the threads (fixedPassThreads): two passes in parallel lose less to synchronisation than one pass
   * on all cores after the other (ViT-B, 2 cores, worker threads: 259 vs 289 ms at batch 1, 2145 vs 2199 ms at
   * batch 8). On the merged session they queue one after the other. In int8 they run on the quantized copies' sessions,
   * side by side like plain ones.
   */
  private async fixedPasses(pixels: Float32Array, count: number, what: string, precision: EstimationPrecision = this.estimationPrecisionFor('t3b', {}) ?? 'float32'): Promise<[Pass, Pass]> {
    const quantized = precision === 'int8' ? await this.quantizedSessions() : null;
    const on = quantized ? { generalist: quantized.generalist.worker, expert: quantized.expert.worker } : undefined;
    const tag = quantized ? ', int8' : '';
    // Both settle before anything is thrown (nothing keeps running behind an error), and the generalist's error comes
    // first when both fail, as it did when they ran one after the other.
    const [pt, ft] = await Promise.allSettled([this.pass(pixels, count, 0, `generalist (λ=0${what}${tag})`, on?.generalist), this.pass(pixels, count, 1, `expert (λ=1${what}${tag})`, on?.expert)]);
    if (pt.status === 'rejected') throw pt.reason;
    if (ft.status === 'rejected') throw ft.reason;
    return [pt.value, ft.value];
  }

  /**
   * Logits float32 [count × classes] of both fixed passes (see fixedPasses); speculation runs them as images arrive.
   * They run at the engine's estimation precision (int8 when `estimation` says so) unless `precision` names another;
   * inferFromFixedPasses knows it and recomputes the ensemble's, which are predictions, in float32.
   */
  async fixedPassLogits(pixels: Float32Array, count: number, precision: EstimationPrecision = this.estimationPrecisionFor('t3b', {}) ?? 'float32'):
    Promise<{ generalist: Float32Array; expert: Float32Array }> {
    this.checkPixels(pixels, count);
    const [pt, ft] = await this.sharedPixels.with(pixels, (shared) => this.fixedPasses(shared, count, '', precision));
    return { generalist: pt.logits, expert: ft.logits };
  }

  /**
   * Logits float32 [count × classes] of one pass at `lambda` (0: the generalist, 1: the expert, each on its plain
   * session when there is one; any other λ on the merged session). Never blocks the event loop.
   */
  async passLogits(pixels: Float32Array, count: number, lambda: number): Promise<Float32Array> {
    this.checkPixels(pixels, count);
    if (!Number.isFinite(lambda)) throw new EngineError(`lambda must be finite, got ${lambda}`);
    const what = lambda === 0 ? 'generalist (λ=0)' : lambda === 1 ? 'expert (λ=1)' : `merged (λ=${lambda})`;
    return (await this.pass(pixels, count, lambda, what)).logits;
  }

  /**
   * What `infer` returns for `policy` (t3b, t3, dawin or ensemble), given the generalist (λ=0) and expert (λ=1)
   * logits of these pixels computed earlier (passLogits): only the merged pass(es) run here. `passes` counts them.
   */
  async inferFromFixedPasses(ptLogits: Float32Array, ftLogits: Float32Array, pixels: Float32Array, count: number, policy: PolicyConfig,
    options: InferOptions = {}): Promise<BatchInference> {
    const started = performance.now();
    this.checkPixels(pixels, count);
    if (policy.name === 'generalist' || policy.name === 'expert' || policy.name === 'wise') {
      throw new EngineError(`policy ${policy.name} runs a single pass: use infer()`);
    }
    // With a T3B coefficient sample the logits are those of the sampled images only, in the sample's order.
    const sample = policy.name === 't3b' && options.coefficientSample !== undefined ? checkSample(options.coefficientSample, count) : undefined;
    const rowCount = sample ? sample.length : count;
    const classes = this.bundle.manifest.classes.length;
    for (const [what, logits] of [['generalist', ptLogits], ['expert', ftLogits]] as const) {
      if (Object.prototype.toString.call(logits) !== '[object Float32Array]' || logits.length !== rowCount * classes) {
        throw new EngineError(`${what} logits must be a Float32Array of ${sample ? 'sampled images' : 'count'}·classes = ${rowCount * classes} values`);
      }
      for (let i = 0; i < logits.length; i++) {
        if (!Number.isFinite(logits[i])) throw new EngineError(`${what} logits hold a non-finite value (${logits[i]}) for image ${Math.floor(i / classes)}`);
      }
    }
    // The logits came from fixedPassLogits at options.estimationPrecision (default: the engine's). The ensemble's fixed
    // passes are its predictions, so int8 ones are not used for it: its passes run again in float32.
    const given: EstimationPrecision = this.provider === 'cpu' ? options.estimationPrecision ?? this.estimation.precision : 'float32';
    if (policy.name === 'ensemble' && given === 'int8') {
      const full = await this.fixedPassLogits(pixels, count, 'float32');
      ptLogits = full.generalist;
      ftLogits = full.expert;
    }
    const pt = this.rows({ logits: ptLogits, classes }, rowCount);
    const ft = this.rows({ logits: ftLogits, classes }, rowCount);
    const result = await this.sharedPixels.with(pixels, (shared) => this.fromFixedPasses(pt, ft, shared, count, policy, this.hyperparameters(policy), started, 0, options.sources, sample));
    const estimationPrecision: EstimationPrecision = fixedPassesOnlyEstimate(policy.name) ? given : 'float32';
    return sample ? { ...result, coefficientSample: sample, estimationPrecision } : { ...result, estimationPrecision };
  }

  /** Rejects a batch whose count or pixel array does not fit the bundle's input. */
  private checkPixels(pixels: Float32Array, count: number): void {
    const { channels, height, width } = this.bundle.manifest.input;
    if (!Number.isInteger(count) || count <= 0) throw new EngineError(`empty batch: count must be a positive integer, got ${count}`);
    // A tag check rather than instanceof: arrays made in another realm (vm contexts, jest) are still Float32Arrays.
    if (Object.prototype.toString.call(pixels) !== '[object Float32Array]') throw new EngineError('pixels must be a Float32Array');
    const perImage = channels * height * width;
    if (pixels.length !== count * perImage) {
      throw new EngineError(`pixels has ${pixels.length} values, expected count·${channels}·${height}·${width} = ${count * perImage}`);
    }
  }

  /**
   * The two-pass policies from both passes' logits: coefficients, then the merged pass(es). With `sample` (T3B only),
   * pt and ft hold the rows of those batch positions only, and the other images get no coefficients of their own.
   */
  private async fromFixedPasses(pt: Float32Array[], ft: Float32Array[], pixels: Float32Array, count: number, policy: PolicyConfig,
    hp: T3Hyperparameters, started: number, passesSoFar: number, sources: readonly string[] | undefined, sample?: readonly number[]): Promise<BatchInference> {
    const name = policy.name;
    const { channels, height, width } = this.bundle.manifest.input;
    const perImage = channels * height * width;
    const image = (i: number) => pixels.subarray(i * perImage, (i + 1) * perImage);
    const coefficients = computeBatchCoefficients(pt, ft, hp);
    const rowOf = sample ? new Map(sample.map((at, row) => [at, row])) : null;
    const base = (i: number, probabilities: number[], appliedLambda: number | null): ImageInference => {
      const c = coefficients.images[rowOf ? rowOf.get(i) ?? -1 : i];
      // Outside the sample no fixed pass ran: no divergence or entropies; the image's coefficient is the batch's.
      if (!c) return { probabilities, js: Number.NaN, lambda: appliedLambda ?? Number.NaN, lambdaFinal: appliedLambda ?? Number.NaN, entropyPt: Number.NaN, entropyFt: Number.NaN, extrapolationTriggered: false, appliedLambda };
      return {
        probabilities, js: c.js, lambda: c.lambda, lambdaFinal: c.lambdaFinal, entropyPt: c.entropyPt, entropyFt: c.entropyFt,
        extrapolationTriggered: c.extrapolationTriggered, appliedLambda,
      };
    };

    if (name === 'ensemble') {
      const images = pt.map((row, i) => {
        const p = softmax(row, hp.tPt);
        const q = softmax(ft[i], hp.tFt);
        return base(i, p.map((v, k) => 0.5 * (v + q[k])), null);
      });
      return this.result(name, null, images, passesSoFar, started);
    }

    if (name === 't3b') {
      const lambdaB = coefficients.batchLambda;
      const merged = this.rows(await this.pass(pixels, count, lambdaB, `merged (λ_B=${lambdaB})`), count);
      const temperature = mergedTemperature(lambdaB, hp.tPt, hp.tFt);
      return this.result(name, lambdaB, merged.map((row, i) => base(i, softmax(row, temperature), lambdaB)), passesSoFar + 1, started);
    }

    if (name === 't3b-grouped') return this.groupedPasses(coefficients, pixels, { count, sources }, hp, started, passesSoFar, base);

    // t3 and dawin: each image gets its own merged model, so one batch-1 merged pass per image.
    const images: ImageInference[] = [];
    for (let i = 0; i < count; i++) {
      const lambda = name === 't3' ? coefficients.images[i].lambdaFinal : dawinLambda(coefficients, i, policy.dawinOffsetAdjusted);
      const merged = await this.pass(image(i), 1, lambda, `merged (image ${i}, λ=${lambda})`);
      images.push(base(i, softmax(merged.logits, mergedTemperature(lambda, hp.tPt, hp.tFt)), lambda));
    }
    return this.result(name, null, images, passesSoFar + count, started);
  }

  /**
   * T3B with λ_B from an estimator (InferOptions.lambdaEstimation): the fixed passes run on the positions it asks for
   * (gathered into one block per call), the merged pass on every image at its λ_B. Images outside the sample get no
   * coefficients of their own (js NaN, λ = λ' = λ_B), as with a coefficient sample.
   */
  private async estimatedT3b(pixels: Float32Array, count: number, hp: T3Hyperparameters, requested: LambdaEstimation,
    started: number): Promise<BatchInference> {
    const { channels, height, width } = this.bundle.manifest.input;
    const perImage = channels * height * width;
    const estimation: LambdaEstimation = requested.seed === undefined ? { ...requested, seed: batchSeed(pixels, count) } : requested;
    const estimate = await estimateBatchLambda(count, hp, estimation, this.sampleFixedPasses(pixels, perImage, ' (sample)'));
    const lambdaB = estimate.lambdaB;
    const merged = this.rows(await this.pass(pixels, count, lambdaB, `merged (λ_B=${lambdaB})`), count);
    const temperature = mergedTemperature(lambdaB, hp.tPt, hp.tFt);
    const images = merged.map((row, i) => estimatedImage(softmax(row, temperature), estimate.coefficients.get(i), lambdaB));
    const result = this.result('t3b', lambdaB, images, 2 * estimate.fixedPassCalls + 1, started);
    return { ...result, coefficientSample: estimate.sampledPositions.length === count ? null : estimate.sampledPositions, lambdaEstimate: estimate.record };
  }

  /**
   * The estimators' fixed passes (t3/sequential-lambda-estimation.ts FixedPassRunner): both models on the batch
   * positions asked for, gathered into one contiguous block per call; rows in the order of the positions.
   */
  private sampleFixedPasses(pixels: Float32Array, perImage: number, what: string, precision?: EstimationPrecision): FixedPassRunner {
    return (positions) => this.sharedPixels.withGathered(pixels, positions, perImage, async (gathered) => {
      const [ptPass, ftPass] = await this.fixedPasses(gathered, positions.length, what, precision);
      return { pt: this.rows(ptPass, positions.length), ft: this.rows(ftPass, positions.length) };
    });
  }

  /**
   * Grouped T3B: one merged pass per group of the batch at the group's λ (groupMergedPasses), every group's λ from
   * the fixed passes of all its images.
   */
  private async groupedPasses(coefficients: BatchCoefficients, pixels: Float32Array, batch: { count: number; sources: readonly string[] | undefined },
    hp: T3Hyperparameters, started: number, passesSoFar: number,
    base: (i: number, probabilities: number[], appliedLambda: number | null) => ImageInference): Promise<BatchInference> {
    const { count, sources } = batch;
    // Grouping by series without the batch's series throws T3InputError (invalid-argument): the caller's request is wrong.
    const groups = groupBatch(coefficients.images, hp, hp, sources);
    const images = await this.groupMergedPasses(pixels, count, groups.groupOf, groups.lambdas, hp, (i, probabilities, g) => ({
      ...base(i, probabilities, groups.lambdas[g]), group: g, ...(groups.seriesCounts ? { groupSeries: groups.seriesCounts[g] } : {}),
    }));
    const batchLambda = groups.lambdas.length === 1 ? groups.lambdas[0] : null;
    return { ...this.result('t3b-grouped', batchLambda, images, passesSoFar + groups.lambdas.length, started), groupLambdas: [...groups.lambdas] };
  }

  /**
   * Grouped T3B by series with each group's λ from an estimator (t3/grouped-lambda-estimation.ts): the fixed passes
   * run on the images each group's estimate asks for, the merged passes as grouped T3B's. A batch that mixes series
   * thus decides each series' side of the map's step after a few of its images (or reuses the series' stored λ after
   * a check), where one λ_B over the mix would sit near the step and need every image.
   */
  private async estimatedGroupedT3b(pixels: Float32Array, count: number, hp: T3Hyperparameters,
    request: GroupEstimation & { seed?: number; sources: readonly string[] | undefined; precision: EstimationPrecision },
    started: number): Promise<BatchInference> {
    const { channels, height, width } = this.bundle.manifest.input;
    const perImage = channels * height * width;
    const seed = request.seed ?? batchSeed(pixels, count);
    const estimate = await estimateGroupLambdas(count, request.sources, hp, hp, request, seed,
      this.sampleFixedPasses(pixels, perImage, ' (group sample)', request.precision));
    const lambdas = estimate.groups.map((g) => g.lambda);
    const images = await this.groupMergedPasses(pixels, count, estimate.groupOf, lambdas, hp, (i, probabilities, g) => ({
      ...estimatedImage(probabilities, estimate.groups[g].coefficients.get(i), lambdas[g]), group: g, groupSeries: estimate.seriesCounts[g],
    }));
    const sampled = estimate.groups.flatMap((g) => g.sampledPositions).sort((a, b) => a - b);
    const result = this.result('t3b-grouped', lambdas.length === 1 ? lambdas[0] : null, images, 2 * estimate.fixedPassCalls + lambdas.length, started);
    return {
      ...result, groupLambdas: lambdas, coefficientSample: sampled.length === count ? null : sampled,
      groupEstimates: estimate.groups.map((g) => ({ record: g.record, sampleSize: g.sampledPositions.length === g.members.length ? null : g.sampledPositions.length })),
    };
  }

  /**
   * One merged pass per group at the group's λ, over that group's images only, so every image still goes through one
   * merged pass. One group runs on the batch's pixels as T3B does; several are gathered into contiguous blocks once
   * (SharedPixelMemory.withGathered) and run one after the other on the merged session. `image` builds each image's
   * inference from its probabilities and group.
   */
  private async groupMergedPasses(pixels: Float32Array, count: number, groupOf: readonly number[], lambdas: readonly number[], hp: T3Hyperparameters,
    image: (i: number, probabilities: number[], group: number) => ImageInference): Promise<ImageInference[]> {
    const images = new Array<ImageInference>(count);
    const finish = (rows: Float32Array[], members: readonly number[], g: number): void => {
      const temperature = mergedTemperature(lambdas[g], hp.tPt, hp.tFt);
      members.forEach((i, r) => { images[i] = image(i, softmax(rows[r], temperature), g); });
    };
    if (lambdas.length === 1) {
      finish(this.rows(await this.pass(pixels, count, lambdas[0], `merged (λ_B=${lambdas[0]})`), count), Array.from({ length: count }, (_, i) => i), 0);
      return images;
    }
    const { channels, height, width } = this.bundle.manifest.input;
    const perImage = channels * height * width;
    const members = lambdas.map((_, g) => groupOf.flatMap((of, i) => (of === g ? [i] : [])));
    await this.sharedPixels.withGathered(pixels, members.flat(), perImage, async (gathered) => {
      let offset = 0;
      for (let g = 0; g < members.length; g++) {
        const n = members[g].length;
        const pass = await this.pass(gathered.subarray(offset * perImage, (offset + n) * perImage), n, lambdas[g], `merged (group ${g}, λ=${lambdas[g]})`);
        finish(this.rows(pass, n), members[g], g);
        offset += n;
      }
    });
    return images;
  }

  private result(policy: PolicyName, batchLambda: number | null, images: ImageInference[], passes: number, started: number): BatchInference {
    return {
      batchId: randomUUID(), policy, batchLambda, images, passes,
      executionProvider: this.provider, durationMs: performance.now() - started, coefficientSample: null, estimationPrecision: null,
    };
  }

  async close(): Promise<void> {
    const quantized = this.quantized ? await this.quantized.catch(() => null) : null;
    await quantized?.generalist.worker.close();
    await quantized?.expert.worker.close();
    await this.worker.close();
    await this.plainWorkers?.generalist.close();
    await this.plainWorkers?.expert.close();
  }
}

/**
 * An image of a batch whose λ an estimator gave: its own coefficients when its fixed passes ran, else none (js NaN,
 * λ = λ' = the λ applied), as with a coefficient sample.
 */
function estimatedImage(probabilities: number[], c: ImageCoefficients | undefined, applied: number): ImageInference {
  if (!c) return { probabilities, js: Number.NaN, lambda: applied, lambdaFinal: applied, entropyPt: Number.NaN, entropyFt: Number.NaN, extrapolationTriggered: false, appliedLambda: applied };
  return { probabilities, js: c.js, lambda: c.lambda, lambdaFinal: c.lambdaFinal, entropyPt: c.entropyPt, entropyFt: c.entropyFt, extrapolationTriggered: c.extrapolationTriggered, appliedLambda: applied };
}

/** A sample's positions, checked: distinct integers in [0, count), at least one. */
function checkSample(sample: readonly number[], count: number): number[] {
  if (sample.length === 0) throw new EngineError('coefficientSample must name at least one image of the batch');
  const seen = new Set<number>();
  for (const at of sample) {
    if (!Number.isInteger(at) || at < 0 || at >= count) throw new EngineError(`coefficientSample position ${at} is not an image of this batch of ${count}`);
    if (seen.has(at)) throw new EngineError(`coefficientSample names position ${at} twice`);
    seen.add(at);
  }
  return [...sample];
}

/**
 * Starts the plain sessions of the fixed passes when the setting resolves to plain, on the provider the merged
 * session got. When they cannot start, the merged session serves the fixed passes and the reason says why.
 */
async function openPlainSessions(bundle: ModelBundle, options: EngineOptions, provider: ExecutionProviderName, choice: FixedPassSessionsChoice):
  Promise<{ workers: { generalist: InferenceWorker; expert: InferenceWorker } | null; sessions: FixedPassSessions; reason: string }> {
  if (choice.sessions === 'merged') return { workers: null, sessions: 'merged', reason: choice.reason };
  const plain = (modelPath: string) => new InferenceWorker({
    modelPath, executionProviders: [provider], intraOpThreads: options.intraOpThreads,
    ...(options.spinning ? { spinning: options.spinning } : {}),
    inputName: bundle.manifest.input.name, outputName: bundle.manifest.output.name, lambdaInputName: LAMBDA_INPUT_NAME,
  });
  const workers = { generalist: plain(bundle.generalistPath), expert: plain(bundle.expertPath) };
  try {
    // One after the other: creating a session peaks well above its resident size, and two peaks at once add up.
    await workers.generalist.start();
    await workers.expert.start();
    return { workers, sessions: 'plain', reason: choice.reason };
  } catch (error) {
    await workers.generalist.close();
    await workers.expert.close();
    return { workers: null, sessions: 'merged', reason: `plain sessions could not start (${(error as Error).message})` };
  }
}

/** The int8 sessions of the estimation passes and the files they run. */
interface QuantizedSessions {
  generalist: { worker: InferenceWorker; file: QuantizedModelFile };
  expert: { worker: InferenceWorker; file: QuantizedModelFile };
}

/**
 * Resolves the estimation precision: int8 only where ONNX Runtime runs the integer kernels this project measured
 * (the CPU provider's fused DynamicQuantizeMatMul). The GPU providers are not used for them: CUDA has no
 * DynamicQuantizeLinear kernel (it would fall back to the CPU, with copies each way), so there the estimation passes
 * stay float32 on the GPU and the reason says so.
 */
function resolveEstimation(requested: EstimationPrecision, provider: ExecutionProviderName, fromOptions: boolean): { precision: EstimationPrecision; reason: string } {
  const source = fromOptions ? 'engine option' : 'bundle t3.estimationPrecision';
  if (requested === 'float32') return { precision: 'float32', reason: `${source}` };
  if (provider !== 'cpu') return { precision: 'float32', reason: `${source} asks for int8, which runs on the cpu provider only; ${provider} runs them in float32` };
  return { precision: 'int8', reason: `${source}` };
}

/** Builds (or reads from the cache) the int8 copies of both models and starts a CPU session on each, one after the other. */
async function openQuantizedSessions(bundle: ModelBundle, setup: { cacheDir: string; intraOpThreads: number; spinning?: SessionSpinning }): Promise<QuantizedSessions> {
  const file = (modelPath: string, sha256: string) => getQuantizedModelFile({ modelPath, modelSha256: sha256, options: ESTIMATION_QUANTIZE_OPTIONS, cacheDir: setup.cacheDir });
  const generalistFile = await file(bundle.generalistPath, bundle.manifest.models.generalist.sha256);
  const expertFile = await file(bundle.expertPath, bundle.manifest.models.expert.sha256);
  const worker = (modelPath: string) => new InferenceWorker({
    modelPath, executionProviders: ['cpu'], intraOpThreads: setup.intraOpThreads,
    ...(setup.spinning ? { spinning: setup.spinning } : {}),
    inputName: bundle.manifest.input.name, outputName: bundle.manifest.output.name, lambdaInputName: LAMBDA_INPUT_NAME,
  });
  const generalist = worker(generalistFile.path);
  const expert = worker(expertFile.path);
  try {
    await generalist.start();
    await expert.start();
  } catch (error) {
    await generalist.close();
    await expert.close();
    throw new EngineError(`the int8 estimation sessions could not start: ${(error as Error).message}`);
  }
  return { generalist: { worker: generalist, file: generalistFile }, expert: { worker: expert, file: expertFile } };
}

/** Threads of each plain fixed-pass session: the two run side by side (T3Engine.fixedPasses), so half each. */
function fixedPassThreads(intraOpThreads: number): number {
  return Math.max(1, Math.floor(intraOpThreads / 2));
}

/** DaWin's coefficient for image i; the offset-adjusted form is undefined for some batches (e.g. one image, zero
 *  spread), where the plain coefficient is used instead. */
function dawinLambda(c: BatchCoefficients, i: number, offsetAdjusted: boolean): number {
  const offset = offsetAdjusted ? c.dawinCoefOffset[i] : null;
  return offset !== null && offset !== undefined && Number.isFinite(offset) ? offset : c.images[i].dawinCoef;
}
