import { promises as fs } from 'node:fs';
import { cachedModelFile, type CachedModelFile } from './model-file-cache';
import { buildQuantizedModel, QUANTIZER_VERSION, type QuantizeOptions, type QuantizeSummary } from './quantized-model';

export type QuantizedModelFile = CachedModelFile<QuantizeSummary>;

export interface QuantizedCacheRequest {
  modelPath: string;
  /** SHA-256 of the model file's bytes (bundle.json's, which loadBundle checks against the file): the cache key. */
  modelSha256: string;
  options: QuantizeOptions;
  /** Preferred cache folder (default: `<bundle>/.cache/`); used when writable, else the OS temp dir. */
  cacheDir: string;
}

/**
 * One file per source model, quantizer version and options. A changed model has another hash, so it gets a new
 * file and the old one is never read again.
 */
export function quantizedCacheFileName(request: Pick<QuantizedCacheRequest, 'modelSha256' | 'options'>): string {
  return `quantized-v${QUANTIZER_VERSION}-int8${request.options.conv ? '-conv' : ''}-${request.modelSha256.slice(0, 32)}.onnx`;
}

/**
 * Returns the int8 copy of a model (quantized-model.ts), building it only when no cache entry keyed by the model's
 * SHA-256, the quantizer version and the options exists. The preferred folder is used when it can be written (a
 * read-only bundle mount is never written to), else the OS temp dir (model-file-cache.ts, shared with the merged graph).
 * Writes are atomic (summary first, then the model renamed into place), so a reader never sees a half-written model.
 */
export async function getQuantizedModelFile(request: QuantizedCacheRequest): Promise<QuantizedModelFile> {
  return cachedModelFile(request.cacheDir, quantizedCacheFileName(request), 'quantized model', async () =>
    buildQuantizedModel(await fs.readFile(request.modelPath), request.options));
}
