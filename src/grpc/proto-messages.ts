import { POLICY_NAMES } from '../t3';
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
import type { FailedJobView, StatusView } from './backend';

/**
 * The pipeline's results → plain objects in the shape the proto loader serialises (camelCase, enums by name, optional fields
 * left out when null so they are absent on the wire rather than zero).
 */

/** Proto enum value names follow one rule from the names defined in t3/, report/ and pipeline/. */
function enumNames<N extends string>(names: readonly N[], prefix: string): Readonly<Record<N, string>> {
  // Proto enum names are identifiers: a dash of a name (t3b-grouped) becomes an underscore.
  return Object.freeze(Object.fromEntries(names.map((n) => [n, `${prefix}_${n.toUpperCase().replace(/-/g, '_')}`])) as Record<N, string>);
}

export const POLICY_ENUM = enumNames(POLICY_NAMES, 'POLICY');
export const PRIORITY_ENUM = enumNames(TRIAGE_PRIORITIES, 'PRIORITY');
export const JOB_STATE_ENUM = enumNames(JOB_STATUSES, 'JOB_STATE');

type Message = Record<string, unknown>;

function optional<K extends string>(key: K, value: number | null | undefined): Partial<Record<K, number>> {
  return value === null || value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

export function bundleMessage(bundle: BundleIdentityRecord): Message {
  return { name: bundle.name, version: bundle.version, generalist: { ...bundle.generalist }, expert: { ...bundle.expert } };
}

export function imageResultMessage(image: StudyImagePrediction): Message {
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

export function imageFailureMessage(failure: StudyImageFailure): Message {
  return { index: failure.index, name: failure.name, code: failure.code, message: failure.message };
}

export function triageMessage(triage: TriageDecision): Message {
  return {
    priority: PRIORITY_ENUM[triage.priority],
    ...(triage.firedRule
      ? { firedRule: { code: triage.firedRule.code, threshold: triage.firedRule.threshold, priority: PRIORITY_ENUM[triage.firedRule.priority] } }
      : {}),
    needsHumanReview: triage.needsHumanReview,
    reviewReason: triage.reviewReason ?? '',
  };
}

export function classifyResponseMessage(output: ClassifyResult): Message {
  return {
    bundle: bundleMessage(output.bundle),
    policy: POLICY_ENUM[output.policy],
    batches: output.batches.map((b) => ({
      batchId: b.batchId, ...optional('batchLambda', b.batchLambda), size: b.size, ...optional('coefficientSampleSize', b.coefficientSampleSize),
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

export function studyResultMessage(result: StudyResult): Message {
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

export function modelStatusMessage(model: LoadedModelView): Message {
  return {
    bundle: bundleMessage(model.bundle),
    executionProvider: model.executionProvider,
    loadedAtUnixMs: model.loadedAt,
    modalities: [...model.modalities],
    fixedPassSessions: model.fixedPassSessions,
  };
}

export function statusMessage(status: StatusView): Message {
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

export function failedJobMessage(job: FailedJobView): Message {
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
