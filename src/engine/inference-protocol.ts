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
   * ONNX Runtime's (spinning). The engine's three sessions (plain fixed passes) take turns on the same cores, so the
   * spinning threads of one slow the next one's run: on the ViT-B pair at batch 1 (2-core machine, jemalloc, three
   * paired runs of 8 rotated rounds each) T3B took 740/725/733 ms without spinning against 773/739/735 ms with it
   * (0.302–0.304× against 0.285–0.299× a plain session's throughput, ~220 ms either way); at batch 8 and on the small
   * demo CNN the two were within the noise. So the engine turns spinning off when it runs three sessions
   * (EngineOptions.allowSpinning).
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
