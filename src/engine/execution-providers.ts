import type { InferenceSession } from 'onnxruntime-node';

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

/**
 * Creates a session on the first provider that starts. ONNX Runtime throws (rather than falling back) when a
 * provider's libraries or device are missing, so each is tried alone and the next one used (docs/ONNX.md).
 */
export async function createSessionWithFallback(
  ort: typeof import('onnxruntime-node'),
  model: string | Uint8Array,
  providers: readonly ExecutionProviderName[],
  intraOpThreads: number | undefined,
): Promise<StartedSession> {
  const failures: ProviderFailure[] = [];
  for (const provider of providers) {
    const started = Date.now();
    const options: InferenceSession.SessionOptions = {
      executionProviders: [provider],
      ...(intraOpThreads ? { intraOpNumThreads: intraOpThreads } : {}),
    };
    try {
      const session = typeof model === 'string'
        ? await ort.InferenceSession.create(model, options)
        : await ort.InferenceSession.create(model, options);
      return { session, executionProvider: provider, failures, createMs: Date.now() - started };
    } catch (error) {
      failures.push({ provider, error: String((error as Error).message ?? error).split('\n')[0].slice(0, 300) });
    }
  }
  throw new Error(`no execution provider could start: ${failures.map((f) => `${f.provider}: ${f.error}`).join('; ')}`);
}
