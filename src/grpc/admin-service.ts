import * as grpc from '@grpc/grpc-js';
import type { AdmissionQueue } from './admission';
import type { TriageBackend } from './backend';
import { unaryHandler, type HandlerContext } from './call-handlers';
import { failedJobMessage, JOB_STATE_ENUM, modelStatusMessage, statusMessage } from './proto-messages';
import { jsonNestingDepth, MAX_CONFIG_JSON_DEPTH } from './json-nesting';
import { driftMessage, feedbackPageMessage } from './feedback-drift-messages';
import { CallError } from './status-mapping';
import type { AdminServiceHandlers } from './generated/t3/v1/AdminService';
import type { ExportFeedbackRequest__Output } from './generated/t3/v1/ExportFeedbackRequest';
import type { ExportFeedbackResponse } from './generated/t3/v1/ExportFeedbackResponse';
import type { GetConfigResponse } from './generated/t3/v1/GetConfigResponse';
import type { GetDriftResponse } from './generated/t3/v1/GetDriftResponse';
import type { GetStatusResponse } from './generated/t3/v1/GetStatusResponse';
import type { ListFailedJobsRequest__Output } from './generated/t3/v1/ListFailedJobsRequest';
import type { ListFailedJobsResponse } from './generated/t3/v1/ListFailedJobsResponse';
import type { ReloadModelsRequest__Output } from './generated/t3/v1/ReloadModelsRequest';
import type { ReloadModelsResponse } from './generated/t3/v1/ReloadModelsResponse';
import type { RetryJobRequest__Output } from './generated/t3/v1/RetryJobRequest';
import type { RetryJobResponse } from './generated/t3/v1/RetryJobResponse';
import type { UpdateConfigRequest__Output } from './generated/t3/v1/UpdateConfigRequest';
import type { UpdateConfigResponse } from './generated/t3/v1/UpdateConfigResponse';

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

export function adminServiceHandlers(context: HandlerContext, options: AdminServiceOptions): AdminServiceHandlers {
  const { backend, admission } = options;
  return {
    GetConfig: unaryHandler(context, 'GetConfig', 'admin', async (): Promise<GetConfigResponse> => {
      const sources = backend.configSources ? await backend.configSources() : null;
      return { json: JSON.stringify(await backend.getConfig()), sourcesJson: sources === null ? '' : JSON.stringify(sources) };
    }),

    UpdateConfig: unaryHandler(context, 'UpdateConfig', 'admin', async (request: UpdateConfigRequest__Output, _signal, caller): Promise<UpdateConfigResponse> => {
      const patch = parseConfigPatch(request.json ?? '');
      const update = await backend.updateConfig(patch, { dryRun: Boolean(request.dryRun), actor: caller });
      return {
        applied: update.applied,
        json: JSON.stringify(update.config),
        changedKeys: [...update.changedKeys],
        restartRequired: [...update.restartRequired],
      };
    }),

    GetStatus: unaryHandler(context, 'GetStatus', 'admin', async (): Promise<GetStatusResponse> => {
      const status = await backend.status();
      status.queues = [
        ...status.queues,
        { bundle: '', lane: 'classify', depth: admission.queued, capacity: admission.maxWaiting, inFlight: admission.inFlight },
      ];
      return statusMessage(status);
    }),

    ReloadModels: unaryHandler(context, 'ReloadModels', 'admin', async (request: ReloadModelsRequest__Output): Promise<ReloadModelsResponse> => {
      const bundles = (request.bundles ?? []).map((b) => b.trim());
      if (bundles.some((b) => b === '' || b.length > 256)) throw invalid('bundles: names must be 1–256 characters');
      return { models: (await backend.reloadModels(bundles)).map(modelStatusMessage) };
    }),

    ListFailedJobs: unaryHandler(context, 'ListFailedJobs', 'admin', async (request: ListFailedJobsRequest__Output): Promise<ListFailedJobsResponse> => {
      const limit = request.limit === 0 ? DEFAULT_FAILED_JOBS_LIMIT : Math.min(request.limit, MAX_FAILED_JOBS_LIMIT);
      return { jobs: (await backend.listFailedJobs(limit)).map(failedJobMessage) };
    }),

    RetryJob: unaryHandler(context, 'RetryJob', 'admin', async (request: RetryJobRequest__Output): Promise<RetryJobResponse> => {
      const jobId = (request.jobId ?? '').trim();
      if (jobId === '' || jobId.length > 256) throw invalid('job_id: required, at most 256 characters');
      const result = await backend.retryJob(jobId);
      return { jobId: result.jobId, state: JOB_STATE_ENUM[result.state] };
    }),

    ExportFeedback: unaryHandler(context, 'ExportFeedback', 'admin', async (request: ExportFeedbackRequest__Output): Promise<ExportFeedbackResponse> => {
      if (!backend.exportFeedback) throw new CallError(grpc.status.FAILED_PRECONDITION, 'ExportFeedback needs the Orthanc sidecar');
      const token = (request.pageToken ?? '').trim();
      if (!/^\d{0,15}$/.test(token)) throw invalid('page_token: not one this server gave; send the previous next_page_token, or nothing');
      const size = request.pageSize === 0 ? DEFAULT_FEEDBACK_PAGE : Math.min(request.pageSize, MAX_FEEDBACK_PAGE);
      return feedbackPageMessage(await backend.exportFeedback(token, size));
    }),

    GetDrift: unaryHandler(context, 'GetDrift', 'admin', async (): Promise<GetDriftResponse> => {
      if (!backend.drift) throw new CallError(grpc.status.FAILED_PRECONDITION, 'GetDrift needs the Orthanc sidecar');
      return driftMessage(await backend.drift());
    }),
  };
}
