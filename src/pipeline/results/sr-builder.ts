import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../worker-script';
import { ReportError, type BuiltSr, type SrInput } from '../../report';

type Reply =
  | { id: number; ok: true; built: BuiltSr }
  | { id: number; ok: false; error: { report: true; field: string; message: string } | { report: false; message: string } };

/**
 * Builds SRs in one long-lived worker thread, one request after another. Errors come back as the report's
 * ReportError (same field and message as a direct call); a crashed worker fails the calls it held and the next call
 * starts a new one.
 */
export class SrBuilder {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (b: BuiltSr) => void; reject: (e: Error) => void }>();

  build(input: SrInput): Promise<BuiltSr> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<BuiltSr>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Referenced while it holds work (so the process waits for it), unreferenced when idle (so it never keeps a
      // finished CLI alive).
      worker.ref();
      try {
        worker.postMessage({ id, input: { ...input, sourceHeader: plainCopy(input.sourceHeader) } });
      } catch (err) {
        this.pending.delete(id);
        if (this.pending.size === 0) worker.unref();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(__filename, 'sr-build-worker');
    worker.on('message', (reply: Reply) => {
      const call = this.pending.get(reply.id);
      if (!call) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.ok) {
        call.resolve({ ...reply.built, bytes: new Uint8Array(reply.built.bytes) });
      } else if (reply.error.report) {
        const field = reply.error.field;
        const prefix = `${field}: `;
        const reason = reply.error.message.startsWith(prefix) ? reply.error.message.slice(prefix.length) : reply.error.message;
        call.reject(new ReportError(field, reason));
      } else {
        call.reject(new Error(`SR build failed: ${reply.error.message}`));
      }
    });
    const failAll = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const call of this.pending.values()) call.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) => failAll(new Error(`SR build worker crashed: ${err.message}`)));
    worker.on('exit', (code) => {
      if (this.pending.size > 0) failAll(new Error(`SR build worker exited with code ${code}`));
      if (this.worker === worker) this.worker = null;
    });
    this.worker = worker;
    return worker;
  }
}

let shared: SrBuilder | null = null;

/** The process's SR builder (one worker thread, started on first use). */
export function sharedSrBuilder(): SrBuilder {
  shared ??= new SrBuilder();
  return shared;
}

/**
 * A structured-clone-safe copy of a dcmjs naturalized dataset: dcmjs puts class instances (value wrappers with
 * methods) among the plain values, which postMessage refuses. Own enumerable data is kept, functions are dropped,
 * binary values are copied as they are.
 */
function plainCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map(plainCopy);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'function') out[k] = plainCopy(v);
  }
  return out;
}
