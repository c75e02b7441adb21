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
