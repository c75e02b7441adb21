// Runs inside a worker thread: owns one ONNX Runtime session, because session creation and run block the thread
// they run on (docs/ONNX.md). Requests are served one at a time in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { createSessionWithFallback } from './execution-providers';
import { lowerInferencePriority } from './inference-priority';
import { isShared, KEPT_PIXEL_BYTES } from './shared-pixels';
import { SPINNING_CONFIG, type RunRequest, type WorkerInit, type WorkerReply } from './inference-protocol';

// Provider start failures are caught and reported by the engine; ONNX Runtime's own stderr copy would be noise.
ort.env.logLevel = 'fatal';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

async function main(): Promise<void> {
  let started;
  try {
    // Before the session exists, so that ONNX Runtime's intra-op threads inherit it (inference-priority.ts).
    lowerInferencePriority();
    const config = SPINNING_CONFIG[init.spinning ?? 'within-runs'];
    started = await createSessionWithFallback(ort, init.modelPath, init.executionProviders, init.intraOpThreads, undefined, {
      config, ...(init.memoryPattern === false ? { memoryPattern: false } : {}),
    });
  } catch (error) {
    post({ type: 'start-failed', error: (error as Error).message });
    return;
  }
  const { session } = started;
  const hasLambda = session.inputNames.includes(init.lambdaInputName);
  post({ type: 'ready', executionProvider: started.executionProvider, failures: started.failures, createMs: started.createMs, inputNames: [...session.inputNames] });

  // ONNX Runtime reads tensors only from unshared memory, so pixels in shared memory are copied here, off the event
  // loop, into memory this thread keeps: a batch no larger than an earlier one costs no fresh pages (shared-pixels.ts).
  let input = new ArrayBuffer(0);
  const ownPixels = (pixels: Float32Array): Float32Array => {
    if (!isShared(pixels)) return pixels;
    if (pixels.byteLength > KEPT_PIXEL_BYTES) return pixels.slice();
    if (input.byteLength < pixels.byteLength) input = new ArrayBuffer(pixels.byteLength);
    const own = new Float32Array(input, 0, pixels.length);
    own.set(pixels);
    return own;
  };

  let queue: Promise<void> = Promise.resolve();
  port.on('message', (request: RunRequest) => {
    queue = queue.then(async () => {
      try {
        const feeds: Record<string, ort.Tensor> = { [init.inputName]: new ort.Tensor('float32', ownPixels(request.pixels), request.dims) };
        // A plain model, or a merged one whose weights were all equal (λ unused), has no λ input: λ is moot there.
        if (hasLambda) feeds[init.lambdaInputName] = new ort.Tensor('float32', new Float32Array([request.lambda ?? 0]), []);
        const outputs = await session.run(feeds, [init.outputName]);
        const out = outputs[init.outputName];
        const logits = new Float32Array(out.data as Float32Array);
        post({ type: 'result', id: request.id, logits, dims: out.dims.map(Number) }, [logits.buffer]);
      } catch (error) {
        post({ type: 'run-failed', id: request.id, error: (error as Error).message });
      }
    });
  });
}

void main();
