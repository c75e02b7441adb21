import type { PolicyConfig } from '../t3';
import type { T3Engine } from '../engine';
import {
  decideTriage,
  type AlgorithmRecord,
  type BuiltSr,
  type ImageResult,
  type SrReference,
  type TriageConfig,
  type TriageDecision,
} from '../report';
import type { ClassifyOutcome } from './classify-images';
import { sharedSrBuilder, type SrBuilder } from './sr-builder';

/**
 * The report's view of classified images: one ImageResult per classified frame (frame numbers only for multi-frame
 * objects), the distinct λ_B of the batches they ran in, and a source header to copy the patient/study modules from.
 */
export interface StudyReportInputs {
  images: ImageResult[];
  batchLambdas: number[];
  sourceHeader: Record<string, unknown> | null;
  studyInstanceUids: string[];
}

export function reportInputsFromOutcomes(outcomes: readonly ClassifyOutcome[]): StudyReportInputs {
  const images: ImageResult[] = [];
  const batchLambdas: number[] = [];
  const seenBatches = new Set<string>();
  const studies = new Set<string>();
  let sourceHeader: Record<string, unknown> | null = null;
  for (const outcome of outcomes) {
    if (!outcome.ok) continue;
    const info = outcome.info;
    sourceHeader ??= info.header;
    studies.add(info.studyInstanceUid);
    const multiFrame = info.numberOfFrames > 1;
    for (const frame of outcome.frames) {
      if (!seenBatches.has(frame.batchId)) {
        seenBatches.add(frame.batchId);
        if (frame.batchLambda !== null) batchLambdas.push(frame.batchLambda);
      }
      images.push({
        sopClassUid: info.sopClassUid,
        sopInstanceUid: info.sopInstanceUid,
        seriesInstanceUid: info.seriesInstanceUid,
        studyInstanceUid: info.studyInstanceUid,
        modality: info.modality,
        ...(multiFrame ? { frameNumber: frame.frameNumber } : {}),
        predictions: frame.predictions,
        js: frame.js,
        // λ' (after the extrapolation guard) is the coefficient the method assigns to the image.
        lambda: frame.lambdaFinal,
      });
    }
  }
  return { images, batchLambdas, sourceHeader, studyInstanceUids: [...studies] };
}

/** The audit record of docs/T3.md §6 for results of `engine` under `policy`. */
export function algorithmRecordFor(engine: T3Engine, policy: PolicyConfig, batchSize: number, batchLambdas: number[]): AlgorithmRecord {
  const m = engine.bundle.manifest;
  const model = (entry: typeof m.models.generalist) => ({ name: entry.name, version: entry.version, sha256: entry.sha256 });
  return {
    name: m.name,
    version: m.version,
    method: policy.name,
    batchLambdas,
    batchSize,
    // The engine computes coefficients with the bundle's fitted temperatures: record those.
    hyperparameters: { ...policy.hyperparameters, tPt: m.temperatures.generalist, tFt: m.temperatures.expert },
    models: { generalist: model(m.models.generalist), expert: model(m.models.expert) },
  };
}

/**
 * The triage decision. Single-pass policies (generalist, expert, wise) run one model, so there is no JS divergence
 * (the engine reports NaN): the disagreement check cannot apply and is left out, and the priority rules, which read
 * only the predictions, decide alone.
 */
export function triageFor(images: ImageResult[], config: TriageConfig): TriageDecision {
  if (images.every((image) => Number.isFinite(image.js))) return decideTriage(images, config);
  return decideTriage(images.map((image) => ({ ...image, js: 0 })), { ...config, disagreement: {} });
}

export interface StudySr {
  triage: TriageDecision;
  sr: BuiltSr;
}

/**
 * One AI-result SR for the classified images of one study, built in a worker thread (dcmjs's writer takes seconds
 * on large studies). Rejects with a RangeError when the outcomes hold no classified image or images of several
 * studies (an SR describes one study), and with the report's ReportError for bad values.
 */
export async function buildStudySr(
  outcomes: readonly ClassifyOutcome[],
  engine: T3Engine,
  policy: PolicyConfig,
  options: { batchSize: number; triage: TriageConfig; predecessor?: SrReference; contentDateTime?: Date; builder?: SrBuilder },
): Promise<StudySr> {
  const inputs = reportInputsFromOutcomes(outcomes);
  if (inputs.images.length === 0 || !inputs.sourceHeader) throw new RangeError('no classified image to report');
  if (inputs.studyInstanceUids.length > 1) {
    throw new RangeError(`an SR describes one study, but the images come from ${inputs.studyInstanceUids.length} studies`);
  }
  const triage = triageFor(inputs.images, options.triage);
  const sr = await (options.builder ?? sharedSrBuilder()).build({
    sourceHeader: inputs.sourceHeader,
    images: inputs.images,
    algorithm: algorithmRecordFor(engine, policy, options.batchSize, inputs.batchLambdas),
    triage,
    ...(options.predecessor ? { predecessor: options.predecessor } : {}),
    ...(options.contentDateTime ? { contentDateTime: options.contentDateTime } : {}),
  });
  return { triage, sr };
}
