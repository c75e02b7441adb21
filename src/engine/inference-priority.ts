import * as os from 'node:os';

/**
 * Nice value of the threads that run inference (0 = the process's default priority, 19 = the lowest).
 *
 * The event loop (gRPC, Orthanc's HTTP, timers) and inference share the same cores, and ONNX Runtime keeps every core
 * it is given busy for the whole of a run. At equal priority the kernel shares a core fairly between the event loop
 * and a run, so a reply or a health check can wait behind a pass; at nice 5 an inference thread weighs a third of a
 * default one, so a thread that needs a few milliseconds gets them at once, and inference still takes every cycle
 * that nothing else wants (on an idle machine nice changes nothing). The same holds for Orthanc or PostgreSQL on the
 * same host: the PACS's own work comes before triage.
 */
export const INFERENCE_NICENESS = 5;

/**
 * Lowers the calling thread to INFERENCE_NICENESS. On Linux a nice value belongs to one thread and the threads it
 * creates later inherit it, so called in an inference worker before its session exists, it covers the worker and
 * ONNX Runtime's intra-op threads, and nothing else of the process. Elsewhere (where setpriority names the whole
 * process) it does nothing: lowering the event loop with them would defeat the purpose.
 */
export function lowerInferencePriority(platform: NodeJS.Platform = process.platform): void {
  if (platform !== 'linux') return;
  try {
    // Never raise a thread the operator already started lower (e.g. `nice -n 10 orthanc-t3 serve`).
    if (os.getPriority(0) < INFERENCE_NICENESS) os.setPriority(0, INFERENCE_NICENESS);
  } catch {
    // A sandbox that forbids even lowering one's own priority leaves inference at the event loop's priority, which
    // is only less responsive under load, so the session starts anyway.
  }
}
