import type { InferenceSession } from 'onnxruntime-node';
import { missingPrerequisite, REAL_MACHINE, type MachineProbe } from './provider-prerequisites';
import { resolveIntraOpThreads } from './intra-op-threads';

export type ExecutionProviderName = 'cuda' | 'webgpu' | 'cpu';

export const EXECUTION_PROVIDER_NAMES: readonly ExecutionProviderName[] = ['cuda', 'webgpu', 'cpu'];
export const DEFAULT_EXECUTION_PROVIDERS: readonly ExecutionProviderName[] = ['cuda', 'webgpu', 'cpu'];

export interface ProviderFailure { provider: ExecutionProviderName; error: string; }

export interface StartedSession {
  session: InferenceSession;
  executionProvider: ExecutionProviderName;
  /** Providers tried before the one in use, with why each could not start. */
  failures: ProviderFailure[];
  createMs: number;
}

export function parseExecutionProviders(list: readonly string[]): ExecutionProviderName[] {
  if (list.length === 0) throw new Error('executionProviders must name at least one provider');
  return list.map((name) => {
    if (!(EXECUTION_PROVIDER_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown execution provider "${name}"; expected one of ${EXECUTION_PROVIDER_NAMES.join(', ')}`);
    }
    return name as ExecutionProviderName;
  });
}

/** Longest reason kept for one provider: the log line says why in a few words, not where in ONNX Runtime. */
const MAX_REASON_LENGTH = 120;

/**
 * ONNX Runtime's start errors in a few words: the first line, without what only its developers need: the source
 * location and function ("/onnxruntime_src/…/file.cc:136 onnxruntime::…(…)::<lambda()> "), the failed check of an
 * ORT_ENFORCE ("adapter_result.status == … was false. "), or the C API function name ("OrtSessionOptions…: ").
 */
export function shortProviderError(message: string): string {
  const reason = message.split('\n')[0]
    .replace(/^\S+\.(?:cc|cpp|h):\d+\s+[\w:~]+\(.*?\)(?:::<lambda\(\)>)?\s+/, '')
    .replace(/^.*? was false\.\s+/, '')
    .replace(/^Ort\w+:\s*/, '');
  return reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason;
}

/** Session settings beyond the provider and threads; ONNX Runtime's defaults where absent. */
export interface SessionTuning {
  /** Session config entries (onnxruntime_session_options_config_keys.h), e.g. session.intra_op.allow_spinning. */
  config?: Record<string, string>;
  /** False: no memory-pattern planning (WorkerInit.memoryPattern says when that pays). */
  memoryPattern?: boolean;
}

/**
 * Creates a session on the first provider that starts. ONNX Runtime throws (rather than falling back) when a
 * provider's libraries or device are missing, so each is tried alone and the next one used (docs/ONNX.md). A
 * provider whose prerequisite is visibly missing is not tried at all (provider-prerequisites.ts).
 */
export async function createSessionWithFallback(
  ort: typeof import('onnxruntime-node'),
  model: string | Uint8Array,
  providers: readonly ExecutionProviderName[],
  intraOpThreads: number | undefined,
  machine: MachineProbe = REAL_MACHINE,
  tuning: SessionTuning = {},
): Promise<StartedSession> {
  const sessionConfig = tuning.config ?? {};
  const failures: ProviderFailure[] = [];
  for (const provider of providers) {
    const missing = missingPrerequisite(provider, machine);
    if (missing !== undefined) {
      failures.push({ provider, error: missing });
      continue;
    }
    const started = Date.now();
    const options: InferenceSession.SessionOptions = {
      executionProviders: [provider],
      // Always an explicit count: ONNX Runtime's default pins its threads (intra-op-threads.ts).
      intraOpNumThreads: resolveIntraOpThreads(intraOpThreads),
      ...(Object.keys(sessionConfig).length > 0 ? { extra: sessionConfig } : {}),
      ...(tuning.memoryPattern === false ? { enableMemPattern: false } : {}),
    };
    try {
      const session = typeof model === 'string'
        ? await ort.InferenceSession.create(model, options)
        : await ort.InferenceSession.create(model, options);
      return { session, executionProvider: provider, failures, createMs: Date.now() - started };
    } catch (error) {
      failures.push({ provider, error: shortProviderError(String((error as Error).message ?? error)) });
    }
  }
  throw new Error(`no execution provider could start: ${failures.map((f) => `${f.provider}: ${f.error}`).join('; ')}`);
}
