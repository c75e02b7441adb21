import * as grpc from '@grpc/grpc-js';
import type { AdmissionQueue } from './admission';
import type { TriageBackend } from './backend';
import { unaryHandler, type HandlerContext } from './call-handlers';
import { failedJobMessage, JOB_STATE_ENUM, modelStatusMessage, statusMessage } from './proto-messages';
import { jsonNestingDepth, MAX_CONFIG_JSON_DEPTH } from './json-nesting';
import { driftMessage, feedbackPageMessage } from './feedback-drift-messages';
import { CallError } from './status-mapping';

export interface AdminServiceOptions {
  backend: TriageBackend;
  /** The Classify admission queue, reported as the "classify" lane of GetStatus. */
  admission: AdmissionQueue;
}

const DEFAULT_FAILED_JOBS_LIMIT = 100;
/** Studies looked at per ExportFeedback page (each is one metadata request to Orthanc). */
const DEFAULT_FEEDBACK_PAGE = 200;
const MAX_FEEDBACK_PAGE = 500;
const MAX_FAILED_JOBS_LIMIT = 1000;
/** Configuration patches are small; anything larger is a mistake or an attack. */
const MAX_CONFIG_JSON_LENGTH = 1024 * 1024;

function invalid(message: string): CallError {
  return new CallError(grpc.status.INVALID_ARGUMENT, message);
}

/** Parses UpdateConfigRequest.json: it must be a JSON object. */
export function parseConfigPatch(json: string): Record<string, unknown> {
  if (json.length > MAX_CONFIG_JSON_LENGTH) throw invalid(`json: longer than ${MAX_CONFIG_JSON_LENGTH} characters`);
  if (json.trim() === '') throw invalid('json: empty; send a JSON object with the keys to change');
  // Before parsing: a deeply nested value would exhaust the stack in the code that walks the parsed patch.
  if (jsonNestingDepth(json, MAX_CONFIG_JSON_DEPTH) > MAX_CONFIG_JSON_DEPTH) {
    throw invalid(`json: nested more than ${MAX_CONFIG_JSON_DEPTH} levels deep; a configuration patch needs far fewer`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw invalid(`json: not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('json: must be a JSON object');
  return parsed as Record<string, unknown>;
}

export function adminServiceHandlers(context: HandlerContext, options: AdminServiceOptions): grpc.UntypedServiceImplementation {
  const { backend, admission } = options;
  return {
    GetConfig: unaryHandler<unknown, unknown>(context, 'GetConfig', 'admin', async () => {
      const sources = backend.configSources ? await backend.configSources() : null;
      return { json: JSON.stringify(await backend.getConfig()), sourcesJson: sources === null ? '' : JSON.stringify(sources) };
    }),

    UpdateConfig: unaryHandler<{ json: string; dryRun: boolean }, unknown>(context, 'UpdateConfig', 'admin', async (request, _signal, caller) => {
      const patch = parseConfigPatch(request.json ?? '');
      const update = await backend.updateConfig(patch, { dryRun: Boolean(request.dryRun), actor: caller });
      return {
        applied: update.applied,
        json: JSON.stringify(update.config),
        changedKeys: [...update.changedKeys],
        restartRequired: [...update.restartRequired],
      };
    }),

    GetStatus: unaryHandler<unknown, unknown>(context, 'GetStatus', 'admin', async () => {
      const status = await backend.status();
      status.queues = [
        ...status.queues,
        { bundle: '', lane: 'classify', depth: admission.queued, capacity: admission.maxWaiting, inFlight: admission.inFlight },
      ];
      return statusMessage(status);
    }),

    ReloadModels: unaryHandler<{ bundles: string[] }, unknown>(context, 'ReloadModels', 'admin', async (request) => {
      const bundles = (request.bundles ?? []).map((b) => b.trim());
      if (bundles.some((b) => b === '' || b.length > 256)) throw invalid('bundles: names must be 1–256 characters');
      return { models: (await backend.reloadModels(bundles)).map(modelStatusMessage) };
    }),

    ListFailedJobs: unaryHandler<{ limit: number }, unknown>(context, 'ListFailedJobs', 'admin', async (request) => {
      const limit = request.limit === 0 ? DEFAULT_FAILED_JOBS_LIMIT : Math.min(request.limit, MAX_FAILED_JOBS_LIMIT);
      return { jobs: (await backend.listFailedJobs(limit)).map(failedJobMessage) };
    }),

    RetryJob: unaryHandler<{ jobId: string }, unknown>(context, 'RetryJob', 'admin', async (request) => {
      const jobId = (request.jobId ?? '').trim();
      if (jobId === '' || jobId.length > 256) throw invalid('job_id: required, at most 256 characters');
      const result = await backend.retryJob(jobId);
      return { jobId: result.jobId, state: JOB_STATE_ENUM[result.state] };
    }),

    ExportFeedback: unaryHandler<{ pageSize: number; pageToken: string }, unknown>(context, 'ExportFeedback', 'admin', async (request) => {
      if (!backend.exportFeedback) throw new CallError(grpc.status.FAILED_PRECONDITION, 'ExportFeedback needs the Orthanc sidecar');
      const token = (request.pageToken ?? '').trim();
      if (!/^\d{0,15}$/.test(token)) throw invalid('page_token: not one this server gave; send the previous next_page_token, or nothing');
      const size = request.pageSize === 0 ? DEFAULT_FEEDBACK_PAGE : Math.min(request.pageSize, MAX_FEEDBACK_PAGE);
      return feedbackPageMessage(await backend.exportFeedback(token, size));
    }),

    GetDrift: unaryHandler<unknown, unknown>(context, 'GetDrift', 'admin', async () => {
      if (!backend.drift) throw new CallError(grpc.status.FAILED_PRECONDITION, 'GetDrift needs the Orthanc sidecar');
      return driftMessage(await backend.drift());
    }),
  };
}
