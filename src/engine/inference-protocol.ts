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
   * False: the session's intra-op threads sleep as soon as a run ends instead of spinning for more work. Default:
   * ONNX Runtime's (spinning). The engine's three sessions take turns on the same cores, so spinning threads of one
   * could slow the next one's run; measured on the ViT-B pair at batch 1 (shared 2-core machine) the difference was
   * within the noise (T3B 0.25× vs 0.28× single), so the engine keeps the default and only exposes the switch.
   */
  allowSpinning?: boolean;
  /**
   * False: ONNX Runtime plans no memory pattern for this session. The merged graph recomputes every merged weight as
   * an intermediate on each run; with a pattern, the second run allocates one planned block for all of them beside
   * the arena's chunks of the first. Measured on the ViT-B pair's merged graph (CPU, onnxruntime-node 1.29.0): peak
   * RSS after five runs 931 MB with the pattern, 839 MB without (837 MB after one run), run time the same within noise
   * (batch 1: 373 vs 378 ms, batch 8: 1995 vs 1919 ms). Plain sessions keep the default.
   */
  memoryPattern?: boolean;
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
