import * as grpc from '@grpc/grpc-js';
import type { AdmissionQueue } from './admission';
import type { TriagePriority } from '../report';
import type { RunPriority, StudyImageFailure, StudyResultEvent } from '../pipeline';
import type { StudyRefView, TriageBackend } from './backend';
import { serverStreamHandler, unaryHandler, type HandlerContext } from './call-handlers';
import { imageLabel, parseClassifyRequest, type ClassifyLimits, type ClassifyRequestMessage } from './classify-request';
import { classifyResponseMessage, PRIORITY_ENUM, studyResultMessage } from './proto-messages';
import { CallError } from './status-mapping';
import type { AnalyzeStudyRequest__Output } from './generated/t3/v1/AnalyzeStudyRequest';
import type { AnalyzeStudyResponse } from './generated/t3/v1/AnalyzeStudyResponse';
import type { ClassifyResponse } from './generated/t3/v1/ClassifyResponse';
import type { GetStudyResultRequest__Output } from './generated/t3/v1/GetStudyResultRequest';
import type { GetStudyResultResponse } from './generated/t3/v1/GetStudyResultResponse';
import type { RunPriority as RunPriorityProto } from './generated/t3/v1/RunPriority';
import type { StudyRef__Output } from './generated/t3/v1/StudyRef';
import type { TriageEvent } from './generated/t3/v1/TriageEvent';
import type { TriageServiceHandlers } from './generated/t3/v1/TriageService';
import type { WatchTriageRequest__Output } from './generated/t3/v1/WatchTriageRequest';

export interface TriageServiceOptions {
  backend: TriageBackend;
  admission: AdmissionQueue;
  limits: ClassifyLimits;
  /** Events a WatchTriage client may fall behind by before it is dropped (it can resume from its last id). */
  watchBufferLimit: number;
}

function invalid(message: string): CallError {
  return new CallError(grpc.status.INVALID_ARGUMENT, message);
}

/** Orthanc ids are SHA-1 based: five dash-separated groups of 8 hex digits. */
const ORTHANC_ID = /^[0-9a-f]{8}(-[0-9a-f]{8}){4}$/;
/** DICOM UID: digits and dots, at most 64 characters. */
const DICOM_UID = /^[0-9]+(\.[0-9]+)*$/;

export function parseStudyRef(message: StudyRef__Output | null | undefined, field: string): StudyRefView {
  if (!message || !message.ref) throw invalid(`${field}: set orthanc_study_id or study_instance_uid`);
  if (message.ref === 'orthancStudyId') {
    const id = (message.orthancStudyId ?? '').trim().toLowerCase();
    if (!ORTHANC_ID.test(id)) throw invalid(`${field}.orthanc_study_id: not an Orthanc id (xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx)`);
    return { orthancStudyId: id };
  }
  const uid = (message.studyInstanceUid ?? '').trim();
  if (uid.length > 64 || !DICOM_UID.test(uid)) throw invalid(`${field}.study_instance_uid: not a DICOM UID (digits and dots, ≤ 64 characters)`);
  return { studyInstanceUid: uid };
}

function runLane(value: RunPriorityProto): RunPriority {
  if (value === 'RUN_PRIORITY_STAT') return 'stat';
  if (value === 'RUN_PRIORITY_ROUTINE' || value === 'RUN_PRIORITY_UNSPECIFIED') return 'routine';
  throw invalid(`priority: unknown value ${JSON.stringify(value)}`);
}

/** The INVALID_ARGUMENT text for unusable images: each image's index, name, code and reason (first 10). */
export function badImagesMessage(failures: StudyImageFailure[]): string {
  const shown = failures.slice(0, 10).map((f) => {
    // DicomError messages already start with "<source>: <code>: "; say each only once.
    let reason = f.message;
    if (reason.startsWith(`${f.name}: `)) reason = reason.slice(f.name.length + 2);
    if (reason.startsWith(`${f.code}: `)) reason = reason.slice(f.code.length + 2);
    return `${imageLabel(f.index, f.name)}: ${f.code}: ${reason}`;
  });
  const more = failures.length > 10 ? `; and ${failures.length - 10} more` : '';
  return `${failures.length} image(s) could not be used: ${shown.join('; ')}${more}`;
}

const PRIORITY_BY_ENUM: Readonly<Record<string, TriagePriority>> = Object.fromEntries(
  Object.entries(PRIORITY_ENUM).map(([name, value]) => [value, name as TriagePriority]),
);

export function triageServiceHandlers(context: HandlerContext, options: TriageServiceOptions): TriageServiceHandlers {
  const { backend, admission, limits } = options;
  return {
    Classify: unaryHandler(context, 'Classify', 'triage', async (request: ClassifyRequestMessage, signal): Promise<ClassifyResponse> => {
      const { call, badImages } = parseClassifyRequest(request, limits, signal);
      const release = await admission.acquire(signal);
      let output;
      try {
        output = await backend.classify(call);
      } finally {
        release();
      }
      if (output.failures.length > 0 && (badImages === 'reject' || output.images.length === 0)) {
        throw invalid(badImagesMessage(output.failures));
      }
      return classifyResponseMessage(output);
    }),

    AnalyzeStudy: unaryHandler(
      context, 'AnalyzeStudy', 'triage', async (request: AnalyzeStudyRequest__Output): Promise<AnalyzeStudyResponse> => {
        const ref = parseStudyRef(request.study, 'study');
        const opts = { priority: runLane(request.priority), writeBack: Boolean(request.writeBack), force: Boolean(request.force) };
        const result = request.returnImmediately ? await backend.enqueueStudy(ref, opts) : await backend.analyzeStudy(ref, opts);
        return { result: studyResultMessage(result) };
      },
    ),

    GetStudyResult: unaryHandler(context, 'GetStudyResult', 'triage', async (request: GetStudyResultRequest__Output): Promise<GetStudyResultResponse> => {
      const ref = parseStudyRef(request.study, 'study');
      const result = await backend.getStudyResult(ref);
      if (!result) throw new CallError(grpc.status.NOT_FOUND, 'no result for this study: it was never analysed by this sidecar');
      return { result: studyResultMessage(result) };
    }),

    WatchTriage: serverStreamHandler<WatchTriageRequest__Output, TriageEvent>(
      context, 'WatchTriage', 'triage', (request, call, signal) => {
        const priorities = new Set((request.priorities ?? []).map((p) => {
          const name = typeof p === 'string' ? PRIORITY_BY_ENUM[p] : undefined;
          if (!name) throw invalid(`priorities: unknown value ${JSON.stringify(p)}`);
          return name;
        }));
        const modalities = new Set((request.modalities ?? []).map((m: string) => m.trim().toUpperCase()));
        const resume = request.resumeAfterEventId ?? null;
        if (resume !== null && (!Number.isSafeInteger(resume) || resume < 0)) throw invalid('resume_after_event_id: out of range');
        const matches = (event: StudyResultEvent): boolean => {
          const r = event.result;
          if (priorities.size > 0 && !(r.triage && priorities.has(r.triage.priority))) return false;
          if (modalities.size > 0 && !r.modalities.some((m) => modalities.has(m.toUpperCase()))) return false;
          return true;
        };
        return new Promise<void>((resolve, reject) => {
          let gapPending = false;
          let lastSent = resume ?? 0;
          let finished = false;
          const send = (event: StudyResultEvent): void => {
            // Replayed and live events can overlap around the moment of subscribing: ids decide.
            if (finished || event.eventId <= lastSent) return;
            lastSent = event.eventId;
            if (!matches(event)) return;
            call.write({ eventId: event.eventId, result: studyResultMessage(event.result), historyGap: gapPending });
            gapPending = false;
            // A client that stops reading would make the server buffer without bound: drop it instead. It resumes
            // from the last id it received and loses nothing still held.
            if (call.writableLength > options.watchBufferLimit) {
              finish(new CallError(grpc.status.RESOURCE_EXHAUSTED,
                `the client fell ${call.writableLength} events behind; reconnect with resume_after_event_id`));
            }
          };
          const finish = (err?: Error): void => {
            if (finished) return;
            finished = true;
            subscription.unsubscribe();
            if (err) reject(err);
            else resolve();
          };
          const subscription = backend.subscribeTriage(resume, send);
          gapPending = subscription.historyGap;
          for (const event of subscription.replay) send(event);
          signal.addEventListener('abort', () => finish(), { once: true });
          if (signal.aborted) finish();
        });
      },
    ),
  };
}
