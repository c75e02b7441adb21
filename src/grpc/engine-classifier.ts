import * as grpc from '@grpc/grpc-js';
import { classifyImages, type ClassifyOutcome } from '../pipeline/classify-images';
import { buildStudySr, reportInputsFromOutcomes, triageFor } from '../pipeline/study-report';
import {
  BackendError,
  type BatchSummaryView,
  type BundleIdentityView,
  type ClassifyCall,
  type ClassifyOutput,
  type FrameChoice,
  type ImageFailureView,
  type ImageResultView,
  type ModelStatusView,
  type PolicyChoice,
  type TriageDecisionView,
} from './backend';
import { CallError } from './status-mapping';

/** The engine type classify-images works with (a T3Engine), named through the pipeline so grpc/ needs no engine import. */
export type ClassifyEngine = Parameters<typeof classifyImages>[0];
type ClassifyOptions = Parameters<typeof classifyImages>[2];
type PolicyConfig = ClassifyOptions['policy'];

/** What a Classify call runs with when it does not say; read per call, so configuration updates apply at once. */
export interface ClassifierSettings {
  /** T3B batch size (frames per merged pass). */
  batchSize: number;
  defaultPolicy: PolicyChoice;
  defaultWiseAlpha: number;
  defaultFrames: FrameChoice;
  /** Inputs decoded at once per call (decoding overlaps inference). */
  decodeConcurrency?: number;
  triage: Parameters<typeof triageFor>[1];
}

export interface EngineClassifierOptions {
  /**
   * Open engines by bundle name, or a function giving the current ones (so engines the Sidecar reloads are picked up
   * by the next call: share the Sidecar's engines rather than opening a second set).
   */
  engines: ReadonlyMap<string, ClassifyEngine> | (() => ReadonlyMap<string, ClassifyEngine>);
  /** Bundle used when a call names none; defaults to the first engine. */
  defaultBundle?: string;
  settings: () => ClassifierSettings;
}

/**
 * The policy configuration a call runs with: the named policy with the bundle's own T3 hyperparameters (the engine
 * puts the bundle's fitted temperatures on top). The CLI `classify` builds the same object.
 */
export function policyConfigFor(engine: ClassifyEngine, name: PolicyChoice, wiseAlpha: number): PolicyConfig {
  return { name, wiseAlpha, dawinOffsetAdjusted: false, hyperparameters: { ...engine.bundle.manifest.t3 } };
}

export function bundleIdentity(engine: ClassifyEngine): BundleIdentityView {
  const m = engine.bundle.manifest;
  const model = (entry: typeof m.models.generalist) => ({ name: entry.name, version: entry.version, sha256: entry.sha256 });
  return { name: m.name, version: m.version, generalist: model(m.models.generalist), expert: model(m.models.expert) };
}

function triageView(decision: ReturnType<typeof triageFor>): TriageDecisionView {
  return {
    priority: decision.priority,
    firedRule: decision.firedRule ? { ...decision.firedRule } : null,
    needsHumanReview: decision.needsHumanReview,
    reviewReason: decision.reviewReason,
  };
}

/** Classifies the images of a call with the engines it holds, through the same `classifyImages` as the CLI. */
export class EngineClassifier {
  private readonly loadedAt = new WeakMap<ClassifyEngine, number>();

  constructor(private readonly options: EngineClassifierOptions) {
    const engines = this.engines();
    for (const engine of engines.values()) this.loadedAt.set(engine, Date.now());
    if (typeof options.engines !== 'function' && engines.size === 0) throw new RangeError('EngineClassifier needs at least one engine');
    if (typeof options.engines !== 'function' && options.defaultBundle !== undefined && !engines.has(options.defaultBundle)) {
      throw new RangeError(`default bundle "${options.defaultBundle}" is not among the engines (${[...engines.keys()].join(', ')})`);
    }
  }

  private engines(): ReadonlyMap<string, ClassifyEngine> {
    const { engines } = this.options;
    return typeof engines === 'function' ? engines() : engines;
  }

  bundleNames(): string[] {
    const names = [...this.engines().keys()];
    const preferred = this.options.defaultBundle;
    const first = preferred !== undefined && names.includes(preferred) ? preferred : names[0];
    return first === undefined ? [] : [first, ...names.filter((n) => n !== first)];
  }

  engine(bundle: string | null): ClassifyEngine {
    const names = this.bundleNames();
    if (names.length === 0) throw new BackendError('unavailable', 'no model bundle is loaded right now (starting or reloading)');
    const name = bundle ?? names[0];
    const engines = this.engines();
    const engine = engines.get(name) ?? [...engines.values()].find((e) => e.bundle.manifest.name === name);
    if (!engine) throw new BackendError('not-found', `unknown bundle "${name}"; available: ${names.join(', ')}`);
    if (!this.loadedAt.has(engine)) this.loadedAt.set(engine, Date.now());
    return engine;
  }

  /** The loaded models, each stamped with the time this classifier first saw its engine (at start, or after a reload). */
  models(): ModelStatusView[] {
    return this.bundleNames().map((name) => {
      const engine = this.engine(name);
      return {
        bundle: bundleIdentity(engine),
        executionProvider: engine.executionProvider,
        loadedAt: this.loadedAt.get(engine)!,
        modalities: [...engine.bundle.manifest.modalities],
      };
    });
  }

  async classify(call: ClassifyCall): Promise<ClassifyOutput> {
    const started = performance.now();
    const settings = this.options.settings();
    const engine = this.engine(call.bundle);
    const policyName = call.policy ?? settings.defaultPolicy;
    const policy = policyConfigFor(engine, policyName, call.wiseAlpha ?? settings.defaultWiseAlpha);
    const outcomes = await classifyImages(engine, call.images, {
      policy,
      batchSize: settings.batchSize,
      framePolicy: call.frames ?? settings.defaultFrames,
      decodeConcurrency: settings.decodeConcurrency,
      signal: call.signal,
    });
    if (call.signal.aborted) throw new CallError(grpc.status.CANCELLED, 'the call was cancelled');

    const images: ImageResultView[] = [];
    const failures: ImageFailureView[] = [];
    const batches = new Map<string, BatchSummaryView>();
    outcomes.forEach((outcome: ClassifyOutcome, index) => {
      if (!outcome.ok) {
        failures.push({ index, name: outcome.name, code: outcome.errorCode, message: outcome.error });
        return;
      }
      const info = outcome.info;
      const multiFrame = info.numberOfFrames > 1;
      for (const frame of outcome.frames) {
        if (!batches.has(frame.batchId)) {
          batches.set(frame.batchId, { batchId: frame.batchId, batchLambda: frame.batchLambda, size: frame.batchSize });
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
          predictions: frame.predictions.map((p) => ({
            label: p.label,
            code: p.code.value,
            scheme: p.code.scheme,
            meaning: p.code.meaning,
            probability: p.probability,
          })),
          js: frame.js,
          lambda: frame.lambda,
          lambdaFinal: frame.lambdaFinal,
          appliedLambda: frame.appliedLambda,
          entropyGeneralist: Number.isFinite(frame.entropyPt) ? frame.entropyPt : null,
          entropyExpert: Number.isFinite(frame.entropyFt) ? frame.entropyFt : null,
          batchId: frame.batchId,
          batchLambda: frame.batchLambda,
          batchSize: frame.batchSize,
        });
      }
    });

    const report = reportInputsFromOutcomes(outcomes);
    const decision = report.images.length > 0 ? triageFor(report.images, settings.triage) : null;
    let sr: ClassifyOutput['sr'] = null;
    if (call.includeSr && decision) {
      if (report.studyInstanceUids.length > 1) {
        throw new BackendError('invalid-argument', `include_sr: an SR describes one study, but the images come from ${report.studyInstanceUids.length} studies`);
      }
      try {
        const built = await buildStudySr(outcomes, engine, policy, { batchSize: settings.batchSize, triage: settings.triage });
        sr = { bytes: built.sr.bytes, sopInstanceUid: built.sr.sopInstanceUid };
      } catch (err) {
        if (err instanceof Error && err.name === 'ReportError') {
          throw new BackendError('invalid-argument', `include_sr: the SR cannot be built from these images: ${err.message}`);
        }
        throw err;
      }
    }
    return {
      bundle: bundleIdentity(engine),
      policy: policy.name,
      batches: [...batches.values()],
      images,
      failures,
      triage: decision ? triageView(decision) : null,
      sr,
      executionProvider: engine.executionProvider,
      durationMs: performance.now() - started,
    };
  }
}
