import { POLICY_NAMES, type LambdaEstimateRecord } from '../t3';
import { TRIAGE_PRIORITIES, type TriageDecision } from '../report';
import {
  JOB_STATUSES,
  type BundleIdentityRecord,
  type ClassifyResult,
  type LoadedModelView,
  type StudyImageFailure,
  type StudyImagePrediction,
  type StudyResult,
} from '../pipeline';
import { CategorizedError } from '../errors';
import type { FailedJobView, StatusView } from './backend';
import { JobState } from './generated/t3/v1/JobState';
import { Policy } from './generated/t3/v1/Policy';
import { Priority } from './generated/t3/v1/Priority';
import type { BundleIdentity } from './generated/t3/v1/BundleIdentity';
import type { ClassifyResponse } from './generated/t3/v1/ClassifyResponse';
import type { FailedJob } from './generated/t3/v1/FailedJob';
import type { GetStatusResponse } from './generated/t3/v1/GetStatusResponse';
import type { ImageFailure } from './generated/t3/v1/ImageFailure';
import type { ImageResult } from './generated/t3/v1/ImageResult';
import type { LambdaEstimate } from './generated/t3/v1/LambdaEstimate';
import type { ModelStatus } from './generated/t3/v1/ModelStatus';
import type { StudyResult as StudyResultProto } from './generated/t3/v1/StudyResult';
import type { TriageDecision as TriageDecisionProto } from './generated/t3/v1/TriageDecision';

/**
 * The pipeline's results → plain objects in the shape the proto loader serialises (camelCase, enums by name, optional fields
 * left out when null so they are absent on the wire rather than zero).
 */

/**
 * Proto enum value names follow one rule from the names defined in t3/, report/ and pipeline/; each must be a value
 * of the generated enum, checked when this module loads, so a name added on one side only fails at start-up (and in
 * every test) instead of reaching a client as an unknown value.
 */
function enumNames<N extends string, V extends string>(names: readonly N[], prefix: string, protoEnum: Readonly<Record<string, V>>): Readonly<Record<N, V>> {
  const values = new Set<string>(Object.values(protoEnum));
  const isValue = (name: string): name is V => values.has(name);
  return Object.freeze(Object.fromEntries(names.map((n) => {
    // Proto enum names are identifiers: a dash of a name (t3b-grouped) becomes an underscore.
    const value = `${prefix}_${n.toUpperCase().replace(/-/g, '_')}`;
    if (!isValue(value)) throw new CategorizedError('internal', `${value} is not a value of the proto enum ${prefix}: add it to proto/t3/v1 and run npm run generate:grpc`);
    return [n, value];
  })) as Record<N, V>);
}

export const POLICY_ENUM = enumNames(POLICY_NAMES, 'POLICY', Policy);
export const PRIORITY_ENUM = enumNames(TRIAGE_PRIORITIES, 'PRIORITY', Priority);
export const JOB_STATE_ENUM = enumNames(JOB_STATUSES, 'JOB_STATE', JobState);

function optional<K extends string>(key: K, value: number | null | undefined): Partial<Record<K, number>> {
  return value === null || value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

export function bundleMessage(bundle: BundleIdentityRecord): BundleIdentity {
  return { name: bundle.name, version: bundle.version, generalist: { ...bundle.generalist }, expert: { ...bundle.expert } };
}

export function imageResultMessage(image: StudyImagePrediction): ImageResult {
  return {
    index: image.index,
    name: image.name,
    frameNumber: image.frameNumber,
    sopInstanceUid: image.sopInstanceUid,
    sopClassUid: image.sopClassUid,
    seriesInstanceUid: image.seriesInstanceUid,
    studyInstanceUid: image.studyInstanceUid,
    modality: image.modality,
    predictions: image.predictions.map((p) => ({ label: p.label, code: p.code.value, scheme: p.code.scheme, meaning: p.code.meaning, probability: p.probability })),
    // proto: NaN under one-model policies, which compute no divergence.
    js: image.js ?? Number.NaN,
    lambda: image.lambda,
    lambdaFinal: image.lambdaFinal,
    ...optional('appliedLambda', image.appliedLambda),
    ...optional('entropyGeneralist', image.entropyGeneralist),
    ...optional('entropyExpert', image.entropyExpert),
    extrapolationTriggered: image.extrapolationTriggered,
    batchId: image.batchId,
    ...optional('batchLambda', image.batchLambda),
    batchSize: image.batchSize,
    ...(image.coefficientSampled === null ? {} : { coefficientSampled: image.coefficientSampled }),
  };
}

export function imageFailureMessage(failure: StudyImageFailure): ImageFailure {
  return { index: failure.index, name: failure.name, code: failure.code, message: failure.message };
}

export function triageMessage(triage: TriageDecision): TriageDecisionProto {
  return {
    priority: PRIORITY_ENUM[triage.priority],
    ...(triage.firedRule
      ? { firedRule: { code: triage.firedRule.code, threshold: triage.firedRule.threshold, priority: PRIORITY_ENUM[triage.firedRule.priority] } }
      : {}),
    needsHumanReview: triage.needsHumanReview,
    reviewReason: triage.reviewReason ?? '',
  };
}

/** How an estimator of t3.estimators gave a batch's λ_B (proto LambdaEstimate). */
export function lambdaEstimateMessage(e: LambdaEstimateRecord): LambdaEstimate {
  return {
    method: e.method, outcome: e.outcome, sampled: e.sampled, ...optional('confidence', e.confidence),
    reusedFrom: e.reusedFrom ?? '', sampleLambda: e.sampleLambda,
  };
}

export function classifyResponseMessage(output: ClassifyResult): ClassifyResponse {
  return {
    bundle: bundleMessage(output.bundle),
    policy: POLICY_ENUM[output.policy],
    batches: output.batches.map((b) => ({
      batchId: b.batchId, ...optional('batchLambda', b.batchLambda), size: b.size, ...optional('coefficientSampleSize', b.coefficientSampleSize),
      ...(b.lambdaEstimate ? { lambdaEstimate: lambdaEstimateMessage(b.lambdaEstimate) } : {}),
      ...(b.estimationPrecision ? { estimationPrecision: b.estimationPrecision } : {}),
    })),
    images: output.images.map(imageResultMessage),
    failedImages: output.failures.map(imageFailureMessage),
    ...(output.triage ? { triage: triageMessage(output.triage) } : {}),
    sr: output.sr ? Buffer.from(output.sr.bytes.buffer, output.sr.bytes.byteOffset, output.sr.bytes.byteLength) : Buffer.alloc(0),
    srSopInstanceUid: output.sr?.sopInstanceUid ?? '',
    executionProvider: output.executionProvider,
    durationMs: output.durationMs,
  };
}

function epochMs(iso: string | null | undefined): number {
  const t = iso ? Date.parse(iso) : Number.NaN;
  return Number.isFinite(t) ? t : 0;
}

export function studyResultMessage(result: StudyResult): StudyResultProto {
  return {
    orthancStudyId: result.orthancStudyId,
    studyInstanceUid: result.studyInstanceUid,
    state: JOB_STATE_ENUM[result.status],
    error: result.error ?? '',
    ...(result.triage ? { triage: triageMessage(result.triage) } : {}),
    images: result.images.map(imageResultMessage),
    failedImages: result.failedImages.map(imageFailureMessage),
    batchLambdas: [...result.batchLambdas],
    modalities: [...result.modalities],
    ...(result.bundle ? { bundle: bundleMessage(result.bundle) } : {}),
    policy: POLICY_ENUM[result.policy],
    srOrthancInstanceId: result.sr?.orthancInstanceId ?? '',
    srSopInstanceUid: result.sr?.sopInstanceUid ?? '',
    queuedAtUnixMs: epochMs(result.timings.queuedAt),
    startedAtUnixMs: epochMs(result.timings.startedAt),
    finishedAtUnixMs: epochMs(result.timings.finishedAt),
    durationMs: result.timings.totalMs,
    attempts: result.attempts,
  };
}

export function modelStatusMessage(model: LoadedModelView): ModelStatus {
  return {
    bundle: bundleMessage(model.bundle),
    executionProvider: model.executionProvider,
    loadedAtUnixMs: model.loadedAt,
    modalities: [...model.modalities],
    fixedPassSessions: model.fixedPassSessions,
  };
}

export function statusMessage(status: StatusView): GetStatusResponse {
  return {
    version: status.version,
    executionProvider: status.executionProvider,
    queues: status.queues.map((q) => ({ ...q })),
    throughput: { ...status.throughput },
    models: status.models.map(modelStatusMessage),
    uptimeSeconds: status.uptimeSeconds,
    residentSetMb: status.residentSetMB,
    peakResidentSetMb: status.peakResidentSetMB,
    accepting: status.accepting,
    ...(status.jobs ? { jobs: { ...status.jobs } } : {}),
    ...(status.follower ? { follower: { ...status.follower, lastError: status.follower.lastError ?? '' } } : {}),
  };
}

export function failedJobMessage(job: FailedJobView): FailedJob {
  return {
    jobId: job.jobId,
    orthancStudyId: job.orthancStudyId,
    studyInstanceUid: job.studyInstanceUid,
    state: JOB_STATE_ENUM[job.state],
    reason: job.reason,
    attempts: job.attempts,
    lastAttemptAtUnixMs: job.lastAttemptAt ?? 0,
    nextAttemptAtUnixMs: job.nextAttemptAt ?? 0,
  };
}
