import { promises as fs } from 'node:fs';
import { cachedModelFile, type CachedModelFile } from './model-file-cache';
import { buildMergedModel, type MergedGraphForm, type MergeSummary } from './merged-graph';

/** Bumped whenever the merged graph's layout changes, so stale cache entries are never reused. */
export const MERGED_GRAPH_FORMAT = 2;

export type MergedModelFile = CachedModelFile<MergeSummary>;

export interface MergedCacheRequest {
  generalistPath: string;
  expertPath: string;
  generalistSha256: string;
  expertSha256: string;
  /** How differing weights are recomputed from λ (default lerp: exact at both ends); part of the cache key. */
  form?: MergedGraphForm;
  /** Preferred cache folder (default: `<bundle>/.cache/`); used when writable, else the OS temp dir. */
  cacheDir: string;
}

function cacheFileName(request: MergedCacheRequest): string {
  return `merged-v${MERGED_GRAPH_FORMAT}-${request.form ?? 'lerp'}-${request.generalistSha256.slice(0, 20)}-${request.expertSha256.slice(0, 20)}.onnx`;
}

/**
 * Returns the merged model of the two files, building it only when no cache entry keyed by both files' sha256
 * exists. Writes are atomic (temp file + rename), so concurrent builders never see a half-written model.
 */
export async function getMergedModelFile(request: MergedCacheRequest): Promise<MergedModelFile> {
  return cachedModelFile(request.cacheDir, cacheFileName(request), 'merged model', async () => {
    const [generalist, expert] = await Promise.all([fs.readFile(request.generalistPath), fs.readFile(request.expertPath)]);
    return buildMergedModel(generalist, expert, request.form ?? 'lerp');
  });
}
