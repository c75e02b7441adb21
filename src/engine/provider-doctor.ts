import type { ExecutionProviderName } from './execution-providers';
import { createSessionWithFallback, EXECUTION_PROVIDER_NAMES, shortProviderError } from './execution-providers';
import { providerPrerequisites, realRuntime, type MissingPiece, type RuntimeProbe } from './provider-diagnosis';

/** Whether one execution provider can start here, and if not, the first missing piece and how to get it. */
export interface ProviderReport {
  provider: ExecutionProviderName;
  canStart: boolean;
  /** Milliseconds to create a session on the probe model, when it started. */
  startMs: number | null;
  /** Why it cannot start (the first missing piece, or ONNX Runtime's error when every piece is there). */
  reason: string | null;
  /** How to get the first missing piece. */
  how: string | null;
  /** Every visibly missing piece, in order. */
  missing: MissingPiece[];
}

export interface DoctorOptions {
  providers?: readonly ExecutionProviderName[];
  /** A small ONNX model to start sessions on (the demo bundle's generalist). */
  probeModel: string;
  /** Also start providers whose pieces all seem present (default true); false only reads the machine. */
  start?: boolean;
  runtime?: RuntimeProbe;
}

/**
 * For each provider: the pieces it needs that are visibly missing; when none is, a session is started on the probe
 * model to prove it (a provider may still fail: a driver older than its CUDA, no GPU behind the driver).
 */
export async function diagnoseProviders(options: DoctorOptions): Promise<ProviderReport[]> {
  const runtime = options.runtime ?? realRuntime();
  const reports: ProviderReport[] = [];
  for (const provider of options.providers ?? EXECUTION_PROVIDER_NAMES) {
    const { missing } = providerPrerequisites(provider, runtime);
    if (missing.length > 0) {
      reports.push({ provider, canStart: false, startMs: null, reason: `no ${missing[0].what}`, how: missing[0].how, missing });
      continue;
    }
    if (options.start === false) {
      reports.push({ provider, canStart: false, startMs: null, reason: 'not tried (nothing visibly missing)', how: null, missing });
      continue;
    }
    const ort = await import('onnxruntime-node');
    try {
      const started = await createSessionWithFallback(ort, options.probeModel, [provider], 1);
      await started.session.release();
      reports.push({ provider, canStart: true, startMs: started.createMs, reason: null, how: null, missing });
    } catch (error) {
      const message = String((error as Error).message).replace(/^no execution provider could start: \w+: /, '');
      reports.push({ provider, canStart: false, startMs: null, reason: shortProviderError(message), how: howAfterStartFailure(provider), missing });
    }
  }
  return reports;
}

function howAfterStartFailure(provider: ExecutionProviderName): string {
  if (provider === 'cuda') return 'check that the driver supports CUDA 13 (nvidia-smi) and that a GPU is visible (in a container: --gpus all)';
  if (provider === 'webgpu') return 'check that the Vulkan driver sees the GPU (vulkaninfo --summary)';
  return 'reinstall onnxruntime-node (npm ci)';
}

/** One line per provider: "cuda    cannot start: no … — how (+N more missing)". */
export function formatProviderReport(report: ProviderReport): string {
  const name = report.provider.padEnd(7);
  if (report.canStart) return `${name}starts (a session on the probe model in ${report.startMs} ms)`;
  const more = report.missing.length > 1 ? ` (+${report.missing.length - 1} more missing: ${report.missing.slice(1).map((m) => m.name).join(', ')})` : '';
  return `${name}cannot start: ${report.reason}${report.how ? ` — ${report.how}` : ''}${more}`;
}
