import type { ExecutionProviderName, ProviderFailure } from './execution-providers';

/**
 * Whether idle intra-op threads spin (busy-wait for the next piece of work) or sleep.
 * - `within-runs`: they spin inside a run and stop at its end (session.force_spinning_stop). The engine's passes
 *   take turns on the same cores with JavaScript work between them, so threads still spinning after a run only slow
 *   the next session's run, while spinning inside a run saves a wake-up per operator.
 * - `off`: they never spin (session.intra_op.allow_spinning = 0).
 * - `always`: ONNX Runtime's default (spin after a run too).
 * Measured on the ViT-B pair, 2 threads, three sessions taking turns as the engine's T3B does (plain, plain, offset
 * merged; 2-core machine; one process, interleaved): batch 8 0.327× a single plain pass's throughput within runs,
 * 0.318 always, 0.308 off; batch 1 0.307, 0.275, 0.302.
 */
export type SessionSpinning = 'within-runs' | 'off' | 'always';

/** ONNX Runtime session config entries (onnxruntime_session_options_config_keys.h) for each setting. */
export const SPINNING_CONFIG: Record<SessionSpinning, Record<string, string>> = {
  'within-runs': { 'session.force_spinning_stop': '1' },
  off: { 'session.intra_op.allow_spinning': '0' },
  always: {},
};

/** Messages between InferenceWorker (main thread) and inference-worker.ts (the thread that owns the session). */
export interface WorkerInit {
  modelPath: string;
  executionProviders: ExecutionProviderName[];
  intraOpThreads?: number;
  inputName: string;
  outputName: string;
  /** Name of the scalar float λ input of a merged model, fed only when the model has it. */
  lambdaInputName: string;
  /** What the session's intra-op threads do when they run out of work (SessionSpinning); default within-runs. */
  spinning?: SessionSpinning;
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
