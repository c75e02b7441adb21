import { CategorizedError } from '../errors';
import { queuedStudyResult, type JobStatus, type PipelineConfig, type Sidecar, type StudyResult } from '../pipeline';
import type { SidecarStatus } from '../pipeline/sidecar';
import type { DriftView, FailedJobView, FeedbackPageView, StatusView, StudyRefView } from './backend';
import type { StudyOperations } from './pipeline-backend';
import { tokenIdOf } from './token-table';
import { differingPaths } from '../util/json-value';

/** What AdminService.GetConfig shows instead of a secret. */
export const REDACTED = '***';

/** Keys whose values are secrets wherever they appear in the configuration. */
const SECRET_KEYS = new Set(['password', 'token', 'tokens', 'secret', 'key', 'keyFile']);

/**
 * A copy of the configuration with every secret value replaced by REDACTED. Token entries keep their public id
 * (token-table.ts tokenIdOf), so an administrator can tell which tokens are configured.
 */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_KEYS.has(k) && v !== null && typeof v !== 'object') out[k] = REDACTED;
    else if (k === 'tokens' && Array.isArray(v)) out[k] = v.map(redactTokenEntry);
    else out[k] = redactSecrets(v);
  }
  return out;
}

function redactTokenEntry(entry: unknown): unknown {
  if (typeof entry !== 'object' || entry === null) return REDACTED;
  const token = (entry as { token?: unknown }).token;
  return { ...entry, token: REDACTED, ...(typeof token === 'string' ? { tokenId: tokenIdOf(token) } : {}) };
}

/**
 * Removes REDACTED values from a patch: a client that sends back what GetConfig showed must not overwrite the secrets
 * with the placeholder. Arrays holding a redacted token are dropped entirely (the old list stays).
 */
export function withoutRedacted(patch: unknown): unknown {
  if (Array.isArray(patch)) return patch.some((v) => JSON.stringify(v).includes(`"${REDACTED}"`)) ? undefined : patch;
  if (typeof patch !== 'object' || patch === null) return patch === REDACTED ? undefined : patch;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    const kept = withoutRedacted(v);
    if (kept !== undefined) out[k] = kept;
  }
  return out;
}

function epochMs(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

/** The follower's part of GetStatus, supplied by whoever runs the change-feed follower. */
export type FollowerStatusSource = () => NonNullable<StatusView['follower']>;

export interface SidecarOperationsOptions {
  /** Configured bound of each bundle's queue (batching.queueBound), reported as lane capacity. */
  queueBound: () => number;
  follower?: FollowerStatusSource;
  /** How long AnalyzeStudy with return_immediately waits for early errors (unknown study, full queue). */
  acceptWindowMs?: number;
  /** Where each configuration value comes from and the live changes kept (GetConfig's sources_json). */
  configSources?: () => unknown;
  /** ExportFeedback's pages, read from Orthanc by whoever holds its client. */
  exportFeedback?: (pageToken: string, pageSize: number) => Promise<FeedbackPageView>;
  /** GetDrift: the drift monitor fed by the sidecar's results. */
  drift?: () => DriftView;
}

function sidecarRef(ref: StudyRefView): { orthancId?: string; studyInstanceUid?: string } {
  return 'orthancStudyId' in ref ? { orthancId: ref.orthancStudyId } : { studyInstanceUid: ref.studyInstanceUid };
}

/** The study's result: by Orthanc id directly, by UID among the recent results the feed still holds (null if none). */
function latestStudyResult<C extends PipelineConfig>(sidecar: Sidecar<C>, ref: StudyRefView): StudyResult | null {
  if ('orthancStudyId' in ref) return sidecar.getStudyResult(ref.orthancStudyId);
  const held = sidecar.feed.since(0).events.filter((e) => e.result.studyInstanceUid === ref.studyInstanceUid);
  const last = held[held.length - 1];
  if (!last) return null;
  return sidecar.getStudyResult(last.result.orthancStudyId) ?? last.result;
}

/** GetStatus's view of the sidecar: two lanes per bundle queue (each bounded by `capacity`) and throughput rates. */
function sidecarStatus(s: SidecarStatus, capacity: number, follower: StatusView['follower']): Awaited<ReturnType<StudyOperations['status']>> {
  const minutes = s.throughput.uptimeS / 60;
  return {
    executionProvider: s.models[0]?.executionProvider ?? '',
    queues: s.queues.flatMap((q) => [
      { bundle: q.bundle, lane: 'stat', depth: q.stat, capacity, inFlight: 0 },
      { bundle: q.bundle, lane: 'routine', depth: q.routine, capacity, inFlight: q.running ? 1 : 0 },
    ]),
    throughput: {
      windowSeconds: s.throughput.uptimeS,
      imagesPerSecond: s.throughput.imagesPerSecond,
      studiesPerMinute: minutes > 0 ? s.throughput.studiesDone / minutes : 0,
      imagesTotal: s.throughput.imagesClassified,
      studiesTotal: s.throughput.studiesDone,
      failedTotal: s.throughput.studiesFailed,
    },
    jobs: { ...s.jobs },
    follower,
    accepting: s.accepting,
  };
}

/** StudyOperations over the pipeline's Sidecar. */
export function sidecarOperations<C extends PipelineConfig>(sidecar: Sidecar<C>, options: SidecarOperationsOptions): StudyOperations {
  const acceptWindowMs = options.acceptWindowMs ?? 250;
  return {
    async analyzeStudy(ref, { priority, writeBack, force, wait }) {
      const running = sidecar.analyzeStudy(sidecarRef(ref), { priority, writeBack, force });
      if (wait) return running;
      // Answer at once, but not before early refusals (unknown study, full queue) had their chance to surface.
      running.catch(() => undefined);
      const early = await Promise.race([running, new Promise<null>((r) => setTimeout(() => r(null), acceptWindowMs))]);
      if (early) return early;
      return queuedStudyResult({
        orthancStudyId: 'orthancStudyId' in ref ? ref.orthancStudyId : '',
        studyInstanceUid: 'studyInstanceUid' in ref ? ref.studyInstanceUid : '',
        policy: sidecar.getConfig().inference.policy,
        runPriority: priority,
      });
    },

    async getStudyResult(ref) {
      return latestStudyResult(sidecar, ref);
    },

    subscribeTriage(resumeAfterEventId, listener) {
      // Subscribe before reading the history, so nothing published in between is missed (the service drops
      // duplicates by id).
      const unsubscribe = sidecar.feed.subscribe(listener);
      if (resumeAfterEventId === null) return { replay: [], historyGap: false, unsubscribe };
      const { events, truncated } = sidecar.feed.since(resumeAfterEventId);
      return { replay: events, historyGap: truncated, unsubscribe };
    },

    async getConfig() {
      return redactSecrets(sidecar.getConfig());
    },

    ...(options.configSources ? { configSources: async () => options.configSources!() } : {}),
    ...(options.exportFeedback ? { exportFeedback: options.exportFeedback } : {}),
    ...(options.drift ? { drift: async () => options.drift!() } : {}),

    async updateConfig(patch, { dryRun, actor }) {
      const before = sidecar.getConfig();
      const update = await sidecar.updateConfig(withoutRedacted(patch), { dryRun, ...(actor ? { actor } : {}) });
      return {
        applied: update.applied,
        config: redactSecrets(update.config),
        changedKeys: differingPaths(before, update.config),
        restartRequired: [...update.restartRequired],
      };
    },

    async status() {
      return sidecarStatus(sidecar.status(), options.queueBound(), options.follower ? options.follower() : null);
    },

    async reloadModels(bundles) {
      const configured = sidecar.status().models.map((m) => m.name);
      const unknown = bundles.filter((b) => !configured.includes(b) && !sidecar.status().models.some((m) => m.bundle === b));
      if (unknown.length > 0) {
        throw new CategorizedError('not-found', `unknown bundle(s) ${unknown.map((b) => `"${b}"`).join(', ')}; configured: ${configured.join(', ')}`);
      }
      await sidecar.reloadModels();
    },

    async listFailedJobs(limit) {
      return sidecar.listFailedJobs().slice(0, limit).map((job): FailedJobView => ({
        jobId: job.id,
        orthancStudyId: job.orthancStudyId,
        studyInstanceUid: sidecar.getStudyResult(job.orthancStudyId)?.studyInstanceUid ?? '',
        state: job.status === 'parked' ? 'parked' : 'failed',
        reason: job.error ?? '',
        attempts: job.attempts,
        lastAttemptAt: epochMs(sidecar.getStudyResult(job.orthancStudyId)?.timings.finishedAt),
        nextAttemptAt: epochMs(job.nextAttemptAt),
      }));
    },

    async retryJob(jobId) {
      if (!sidecar.listFailedJobs().some((job) => job.id === jobId)) {
        throw new CategorizedError('not-found', `no failed or parked job "${jobId}"`);
      }
      // The retry runs in the background; its outcome arrives on WatchTriage and through GetStudyResult.
      sidecar.retryJob(jobId).catch(() => undefined);
      const state: JobStatus = 'queued';
      return { jobId, state };
    },
  };
}
