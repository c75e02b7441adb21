import type { Worker } from 'node:worker_threads';
import { EngineError } from './engine-error';
import { startWorker } from '../worker-script';
import { isShared } from './shared-pixels';
import type { ExecutionProviderName, ProviderFailure } from './execution-providers';
import type { RunRequest, WorkerInit, WorkerReply } from './inference-protocol';

export interface WorkerSessionInfo {
  executionProvider: ExecutionProviderName;
  failures: ProviderFailure[];
  createMs: number;
  inputNames: string[];
}

interface Pending {
  resolve(value: { logits: Float32Array; dims: number[] }): void;
  reject(error: Error): void;
}

/**
 * One ONNX Runtime session living in a worker thread. When the thread dies (crash, out of memory, terminate) every
 * pending call rejects with an EngineError saying so, and the next call starts a fresh worker and session.
 */
export class InferenceWorker {
  private worker: Worker | null = null;
  private starting: Promise<WorkerSessionInfo> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private info: WorkerSessionInfo | null = null;
  /** How many workers were started, including restarts after a crash. */
  starts = 0;

  constructor(private readonly init: WorkerInit) {}

  /** Starts the worker and its session if none is running; resolves with the provider in use. */
  start(): Promise<WorkerSessionInfo> {
    if (this.closed) return Promise.reject(new EngineError('the inference engine is closed'));
    if (this.worker && this.info) return Promise.resolve(this.info);
    if (this.starting) return this.starting;
    this.starting = new Promise<WorkerSessionInfo>((resolve, reject) => {
      const worker = startWorker(__filename, 'inference-worker', { workerData: this.init });
      this.worker = worker;
      this.starts++;
      let ready = false;
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          ready = true;
          this.info = { executionProvider: reply.executionProvider, failures: reply.failures, createMs: reply.createMs, inputNames: reply.inputNames };
          this.starting = null;
          resolve(this.info);
        } else if (reply.type === 'start-failed') {
          this.starting = null;
          this.worker = null;
          void worker.terminate();
          reject(new EngineError(`cannot start an inference session for ${this.init.modelPath}: ${reply.error}`));
        } else {
          const call = this.pending.get(reply.id);
          if (!call) return;
          this.pending.delete(reply.id);
          if (reply.type === 'result') call.resolve({ logits: reply.logits, dims: reply.dims });
          else call.reject(new EngineError(`inference failed: ${reply.error}`));
        }
      });
      const died = (reason: string) => {
        if (this.worker !== worker) return;
        this.worker = null;
        this.info = null;
        this.starting = null;
        const error = new EngineError(`the inference worker stopped (${reason}); pending inferences were abandoned and the next call starts a new worker`);
        if (!ready) reject(error);
        for (const call of this.pending.values()) call.reject(error);
        this.pending.clear();
      };
      worker.on('error', (error) => died(`error: ${error.message}`));
      worker.on('exit', (code) => died(`exit code ${code}`));
    });
    return this.starting;
  }

  /**
   * Runs the model on [count,C,H,W] pixels at λ. Pixels in shared memory (shared-pixels.ts) are read in place by the
   * worker, so they must not change until the returned promise settles; any other array is copied and stays usable.
   */
  async run(pixels: Float32Array, dims: number[], lambda: number | null): Promise<{ logits: Float32Array; dims: number[] }> {
    await this.start();
    const worker = this.worker;
    if (!worker) throw new EngineError('the inference worker stopped before the call could be sent');
    const shared = isShared(pixels);
    const sent = shared ? pixels : new Float32Array(pixels);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: RunRequest = { type: 'run', id, pixels: sent, dims, lambda };
      worker.postMessage(request, shared ? [] : [sent.buffer as ArrayBuffer]);
    });
  }

  /** Stops the worker thread now; pending calls reject. A later call starts a new worker unless closed. */
  async abort(): Promise<void> {
    const worker = this.worker;
    if (worker) await worker.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.abort();
  }
}
