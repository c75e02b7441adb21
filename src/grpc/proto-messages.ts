import type {
  BundleIdentityView,
  ClassifyOutput,
  FailedJobView,
  ImageFailureView,
  ImageResultView,
  JobStateName,
  ModelStatusView,
  PolicyChoice,
  PriorityName,
  StatusView,
  StudyResultView,
  TriageDecisionView,
} from './backend';

/**
 * Backend views → plain objects in the shape the proto loader serialises (camelCase, enums by name, optional fields
 * left out when null so they are absent on the wire rather than zero).
 */

export const POLICY_ENUM: Readonly<Record<PolicyChoice, string>> = {
  generalist: 'POLICY_GENERALIST',
  expert: 'POLICY_EXPERT',
  wise: 'POLICY_WISE',
  ensemble: 'POLICY_ENSEMBLE',
  dawin: 'POLICY_DAWIN',
  t3: 'POLICY_T3',
  t3b: 'POLICY_T3B',
};

export const PRIORITY_ENUM: Readonly<Record<PriorityName, string>> = {
  routine: 'PRIORITY_ROUTINE',
  urgent: 'PRIORITY_URGENT',
  emergency: 'PRIORITY_EMERGENCY',
};

export const JOB_STATE_ENUM: Readonly<Record<JobStateName, string>> = {
  queued: 'JOB_STATE_QUEUED',
  running: 'JOB_STATE_RUNNING',
  done: 'JOB_STATE_DONE',
  failed: 'JOB_STATE_FAILED',
  parked: 'JOB_STATE_PARKED',
};

type Message = Record<string, unknown>;

function optional<K extends string>(key: K, value: number | null | undefined): Partial<Record<K, number>> {
  return value === null || value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

export function bundleMessage(bundle: BundleIdentityView): Message {
  return { name: bundle.name, version: bundle.version, generalist: { ...bundle.generalist }, expert: { ...bundle.expert } };
}

export function imageResultMessage(image: ImageResultView): Message {
  return {
    index: image.index,
    name: image.name,
    frameNumber: image.frameNumber,
    sopInstanceUid: image.sopInstanceUid,
    sopClassUid: image.sopClassUid,
    seriesInstanceUid: image.seriesInstanceUid,
    studyInstanceUid: image.studyInstanceUid,
    modality: image.modality,
    predictions: image.predictions.map((p) => ({ ...p })),
    js: image.js,
    lambda: image.lambda,
    lambdaFinal: image.lambdaFinal,
    ...optional('appliedLambda', image.appliedLambda),
    ...optional('entropyGeneralist', image.entropyGeneralist),
    ...optional('entropyExpert', image.entropyExpert),
    extrapolationTriggered: image.lambdaFinal !== image.lambda,
    batchId: image.batchId,
    ...optional('batchLambda', image.batchLambda),
    batchSize: image.batchSize,
  };
}

export function imageFailureMessage(failure: ImageFailureView): Message {
  return { ...failure };
}

export function triageMessage(triage: TriageDecisionView): Message {
  return {
    priority: PRIORITY_ENUM[triage.priority],
    ...(triage.firedRule
      ? { firedRule: { code: triage.firedRule.code, threshold: triage.firedRule.threshold, priority: PRIORITY_ENUM[triage.firedRule.priority] } }
      : {}),
    needsHumanReview: triage.needsHumanReview,
    reviewReason: triage.reviewReason ?? '',
  };
}

export function classifyResponseMessage(output: ClassifyOutput): Message {
  return {
    bundle: bundleMessage(output.bundle),
    policy: POLICY_ENUM[output.policy],
    batches: output.batches.map((b) => ({ batchId: b.batchId, ...optional('batchLambda', b.batchLambda), size: b.size })),
    images: output.images.map(imageResultMessage),
    failedImages: output.failures.map(imageFailureMessage),
    ...(output.triage ? { triage: triageMessage(output.triage) } : {}),
    sr: output.sr ? Buffer.from(output.sr.bytes.buffer, output.sr.bytes.byteOffset, output.sr.bytes.byteLength) : Buffer.alloc(0),
    srSopInstanceUid: output.sr?.sopInstanceUid ?? '',
    executionProvider: output.executionProvider,
    durationMs: output.durationMs,
  };
}

export function studyResultMessage(result: StudyResultView): Message {
  return {
    orthancStudyId: result.orthancStudyId,
    studyInstanceUid: result.studyInstanceUid,
    state: JOB_STATE_ENUM[result.state],
    error: result.error ?? '',
    ...(result.triage ? { triage: triageMessage(result.triage) } : {}),
    images: result.images.map(imageResultMessage),
    failedImages: result.failedImages.map(imageFailureMessage),
    batchLambdas: [...result.batchLambdas],
    modalities: [...result.modalities],
    ...(result.bundle ? { bundle: bundleMessage(result.bundle) } : {}),
    policy: result.policy ? POLICY_ENUM[result.policy] : 'POLICY_UNSPECIFIED',
    srOrthancInstanceId: result.srOrthancInstanceId ?? '',
    srSopInstanceUid: result.srSopInstanceUid ?? '',
    queuedAtUnixMs: result.queuedAt ?? 0,
    startedAtUnixMs: result.startedAt ?? 0,
    finishedAtUnixMs: result.finishedAt ?? 0,
    durationMs: result.durationMs ?? 0,
    attempts: result.attempts,
  };
}

export function modelStatusMessage(model: ModelStatusView): Message {
  return {
    bundle: bundleMessage(model.bundle),
    executionProvider: model.executionProvider,
    loadedAtUnixMs: model.loadedAt,
    modalities: [...model.modalities],
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
