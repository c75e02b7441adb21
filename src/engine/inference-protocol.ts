import type { ExecutionProviderName, ProviderFailure } from './execution-providers';

/** Messages between InferenceWorker (main thread) and inference-worker.ts (the thread that owns the session). */
export interface WorkerInit {
  modelPath: string;
  executionProviders: ExecutionProviderName[];
  intraOpThreads?: number;
  inputName: string;
  outputName: string;
  /** Name of the scalar float λ input of a merged model, fed only when the model has it. */
  lambdaInputName: string;
  /**
   * False: the session's intra-op threads sleep as soon as a run ends instead of spinning for more work. The engine's
   * plain fixed-pass sessions and its merged one take turns on the same cores, so a session's spinning threads would
   * only compete with the next session's run (a precaution: on the demo CNN the difference was within the noise of
   * this shared machine). Default: ONNX Runtime's (spinning).
   */
  allowSpinning?: boolean;
}

export interface RunRequest {
  type: 'run';
  id: number;
  pixels: Float32Array;
  dims: number[];
  lambda: number | null;
}

export type WorkerReply =
  | { type: 'ready'; executionProvider: ExecutionProviderName; failures: ProviderFailure[]; createMs: number; inputNames: string[] }
  | { type: 'start-failed'; error: string }
  | { type: 'result'; id: number; logits: Float32Array; dims: number[] }
  | { type: 'run-failed'; id: number; error: string };
