import { CategorizedError } from '../../errors';
import { policyForBundle, type T3Engine } from '../../engine';
import type { FramePolicy } from '../../dicom';
import type { PolicyName } from '../../t3';
import type { TriageConfig, TriageDecision } from '../../report';
import { classifyImages, type ClassifyInput, type ClassifyOutcome } from './classify-images';
import { bundleIdentityOf, composeClassification, srInputFor } from './compose-study-result';
import { sharedSrBuilder } from '../results/sr-builder';
import type { BatchSummary, BundleIdentityRecord, StudyImageFailure, StudyImagePrediction } from '../results/study-result';

/** The engine a classification call runs on (a T3Engine; tests may hand in anything with the same shape). */
export type ClassifyEngine = T3Engine;

/** What a call runs with when it does not say; read per call, so configuration updates apply at once. */
export interface ClassifierSettings {
  /** T3B batch size (frames per merged pass). */
  batchSize: number;
  defaultPolicy: PolicyName;
  defaultWiseAlpha: number;
  defaultFrames: FramePolicy;
  /** An image declaring more decoded bytes fails as image-too-large before decoding; absent: dicom/'s default. */
  maxDecodedImageBytes?: number;
  /** Inputs decoded at once per call (decoding overlaps inference). */
  decodeConcurrency?: number;
  /** T3B: λ_B from this many images per batch (0 or absent: every image). */
  coefficientSample?: number;
  triage: TriageConfig;
}

/** Images sent by a caller (DICOM Part 10 bytes; raw pixel arrays are wrapped into DICOM before this). */
export interface ClassifyRequest {
  images: ClassifyInput[];
  /** Bundle name (configured name or bundle.json name); null for the default bundle. */
  bundle: string | null;
  policy: PolicyName | null;
  wiseAlpha: number | null;
  frames: FramePolicy | null;
  /** Build the study's SR too (the images must come from one study). */
  includeSr: boolean;
  /** Aborted when the caller cancels or its deadline passes: work not yet started is dropped. */
  signal: AbortSignal;
}

export interface ClassifyResult {
  bundle: BundleIdentityRecord;
  policy: PolicyName;
  batches: BatchSummary[];
  /** The usable images, in request order (one per frame). */
  images: StudyImagePrediction[];
  /** Images that could not be used, in request order. */
  failures: StudyImageFailure[];
  /** The decision over the classified images; null when none was classified. */
  triage: TriageDecision | null;
  /** The SR when includeSr was set and at least one image was classified. */
  sr: { bytes: Uint8Array; sopInstanceUid: string } | null;
  executionProvider: string;
  durationMs: number;
}

export interface LoadedModelView {
  bundle: BundleIdentityRecord;
  executionProvider: string;
  /** Epoch milliseconds: when this classifier first saw the engine (at start, or after a reload). */
  loadedAt: number;
  modalities: string[];
  /** Sessions of the fixed passes: "plain" or "merged" (engine/fixed-pass-sessions.ts). */
  fixedPassSessions: string;
}

export interface ClassifyCallOptions {
  /** The open engines by bundle name, read on every call (engines the Sidecar reloads are picked up at once). */
  engines: () => ReadonlyMap<string, ClassifyEngine>;
  /** Bundle used when a call names none; defaults to the first engine. */
  defaultBundle?: string;
  settings: () => ClassifierSettings;
  /** Told of every call's outcomes with the bundle's configured name (the Sidecar counts them with its own work). */
  onClassified?: (bundle: string, outcomes: readonly ClassifyOutcome[]) => void;
}

/**
 * Classifies images a caller sends (gRPC Classify) with the engines the sidecar holds, through the same
 * `classifyImages` and the same result composition as a study in Orthanc and the CLI.
 */
export class ClassifyCall {
  private readonly loadedAt = new WeakMap<ClassifyEngine, number>();

  constructor(private readonly options: ClassifyCallOptions) {
    for (const engine of options.engines().values()) this.loadedAt.set(engine, Date.now());
  }

  /** The bundle names a call may ask for, the default first. */
  bundleNames(): string[] {
    const names = [...this.options.engines().keys()];
    const preferred = this.options.defaultBundle;
    const first = preferred !== undefined && names.includes(preferred) ? preferred : names[0];
    return first === undefined ? [] : [first, ...names.filter((n) => n !== first)];
  }

  engine(bundle: string | null): ClassifyEngine {
    const names = this.bundleNames();
    if (names.length === 0) throw new CategorizedError('unavailable', 'no model bundle is loaded right now (starting or reloading)');
    const name = bundle ?? names[0];
    const engines = this.options.engines();
    const engine = engines.get(name) ?? [...engines.values()].find((e) => e.bundle.manifest.name === name);
    if (!engine) throw new CategorizedError('not-found', `unknown bundle "${name}"; available: ${names.join(', ')}`);
    if (!this.loadedAt.has(engine)) this.loadedAt.set(engine, Date.now());
    return engine;
  }

  /** The name the configuration gives this engine (the key metrics and GetStatus use), else its bundle's own name. */
  private configuredName(engine: ClassifyEngine): string {
    for (const [name, open] of this.options.engines()) if (open === engine) return name;
    return engine.bundle.manifest.name;
  }

  models(): LoadedModelView[] {
    return this.bundleNames().map((name) => {
      const engine = this.engine(name);
      return {
        bundle: bundleIdentityOf(engine.bundle.manifest),
        executionProvider: engine.executionProvider,
        loadedAt: this.loadedAt.get(engine)!,
        modalities: [...engine.bundle.manifest.modalities],
        fixedPassSessions: engine.fixedPassSessions?.sessions ?? '',
      };
    });
  }

  async classify(request: ClassifyRequest): Promise<ClassifyResult> {
    const started = performance.now();
    const settings = this.options.settings();
    const engine = this.engine(request.bundle);
    const manifest = engine.bundle.manifest;
    const policy = policyForBundle(engine.bundle, request.policy ?? settings.defaultPolicy, { wiseAlpha: request.wiseAlpha ?? settings.defaultWiseAlpha });
    const outcomes = await classifyImages(engine, request.images, {
      policy,
      batchSize: settings.batchSize,
      framePolicy: request.frames ?? settings.defaultFrames,
      maxDecodedImageBytes: settings.maxDecodedImageBytes,
      decodeConcurrency: settings.decodeConcurrency,
      coefficientSample: settings.coefficientSample,
      signal: request.signal,
    });
    this.options.onClassified?.(this.configuredName(engine), outcomes);
    if (request.signal.aborted) throw new CategorizedError('cancelled', 'the call was cancelled');

    const composed = composeClassification(outcomes, { triage: settings.triage, listNonImages: true });
    let sr: ClassifyResult['sr'] = null;
    if (request.includeSr && composed.triage) {
      try {
        const built = await sharedSrBuilder().build(srInputFor(composed, manifest, policy, settings.batchSize));
        sr = { bytes: built.bytes, sopInstanceUid: built.sopInstanceUid };
      } catch (err) {
        if (err instanceof CategorizedError && err.category === 'invalid-argument') {
          throw new CategorizedError('invalid-argument', `include_sr: the SR cannot be built from these images: ${err.message}`);
        }
        throw err;
      }
    }
    return {
      bundle: bundleIdentityOf(manifest),
      policy: policy.name,
      batches: composed.batches,
      images: composed.images,
      failures: composed.failures,
      triage: composed.triage,
      sr,
      executionProvider: engine.executionProvider,
      durationMs: performance.now() - started,
    };
  }
}
