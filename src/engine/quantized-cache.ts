import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CategorizedError } from '../errors';
import { fallbackCacheDir } from './merged-cache';
import { buildQuantizedModel, QUANTIZER_VERSION, type QuantizeOptions, type QuantizeSummary } from './quantized-model';

export interface QuantizedModelFile {
  path: string;
  summary: QuantizeSummary;
  /** True when the file came from the cache rather than being built now. */
  cached: boolean;
  cacheDir: string;
}

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

async function writableDir(dir: string): Promise<boolean> {
  try {
    await fs.mkdir(dir, { recursive: true });
    await fs.access(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function readCached(file: string): Promise<QuantizeSummary | null> {
  try {
    const summary = JSON.parse(await fs.readFile(`${file}.json`, 'utf8')) as QuantizeSummary;
    const stat = await fs.stat(file);
    return stat.size === summary.outputBytes ? summary : null;
  } catch {
    return null;
  }
}

/**
 * Returns the int8 copy of a model (quantized-model.ts), building it only when no cache entry keyed by the model's
 * SHA-256, the quantizer version and the options exists. The preferred folder is used when it can be written (a
 * read-only bundle mount is never written to), else the OS temp dir, as for the merged graph (merged-cache.ts).
 * Writes are atomic (summary first, then the model renamed into place), so a reader never sees a half-written model.
 */
export async function getQuantizedModelFile(request: QuantizedCacheRequest): Promise<QuantizedModelFile> {
  const candidates = [request.cacheDir, fallbackCacheDir()];
  const name = quantizedCacheFileName(request);
  for (const dir of candidates) {
    const file = path.join(dir, name);
    const summary = await readCached(file);
    if (summary) return { path: file, summary, cached: true, cacheDir: dir };
  }
  const quantized = buildQuantizedModel(await fs.readFile(request.modelPath), request.options);
  for (const dir of candidates) {
    if (!(await writableDir(dir))) continue;
    const file = path.join(dir, name);
    const stamp = `${process.pid}.${Date.now()}`;
    const temp = `${file}.${stamp}.tmp`;
    const summaryTemp = `${file}.json.${stamp}.tmp`;
    try {
      await fs.writeFile(temp, quantized.bytes);
      await fs.writeFile(summaryTemp, JSON.stringify(quantized.summary));
      await fs.rename(summaryTemp, `${file}.json`);
      await fs.rename(temp, file);
      return { path: file, summary: quantized.summary, cached: false, cacheDir: dir };
    } catch {
      await fs.rm(temp, { force: true });
      await fs.rm(summaryTemp, { force: true });
    }
  }
  throw new CategorizedError('failed-precondition', `cannot write the quantized model to ${candidates.join(' or ')}`);
}
