import { parentPort } from 'node:worker_threads';
import { buildAiResultSr, type SrInput } from '../report';

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
    const e = err instanceof Error ? err : new Error(String(err));
    const field = (e as { field?: unknown }).field;
    parentPort!.postMessage({ id: request.id, ok: false, error: { name: e.name, message: e.message, field } });
  }
});
