import { parentPort } from 'node:worker_threads';
import { buildAiResultSr, ReportError, type SrInput } from '../../report';

/**
 * Worker thread that builds AI-result SRs. dcmjs's writer takes seconds for a large study (a 96-frame study with
 * 7 labels each: 3–7 s), which must not stall the event loop that serves gRPC and follows Orthanc.
 */
interface BuildRequest {
  id: number;
  input: SrInput;
}

parentPort?.on('message', (request: BuildRequest) => {
  try {
    const built = buildAiResultSr(request.input);
    parentPort!.postMessage({ id: request.id, ok: true, built }, [built.bytes.buffer as ArrayBuffer]);
  } catch (err) {
    // A ReportError crosses the thread boundary as its field and reason, so the caller rethrows the same error;
    // anything else is a fault of the builder.
    const error = err instanceof ReportError
      ? { report: true, field: err.field, message: err.message }
      : { report: false, message: err instanceof Error ? err.message : String(err) };
    parentPort!.postMessage({ id: request.id, ok: false, error });
  }
});
