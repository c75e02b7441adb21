import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildMergedModel, type MergedGraphForm, type MergeSummary } from './merged-graph';

/** Bumped whenever the merged graph's layout changes, so stale cache entries are never reused. */
export const MERGED_GRAPH_FORMAT = 2;

export interface MergedModelFile {
  path: string;
  summary: MergeSummary;
  /** True when the file came from the cache rather than being built now. */
  cached: boolean;
  cacheDir: string;
}

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

/** The folder used when the preferred cache folder cannot be written (read-only bundle mounts). */
export function fallbackCacheDir(): string {
  return path.join(os.tmpdir(), 'orthanc-t3-merged-cache');
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

function cacheFileName(request: MergedCacheRequest): string {
  return `merged-v${MERGED_GRAPH_FORMAT}-${request.form ?? 'lerp'}-${request.generalistSha256.slice(0, 20)}-${request.expertSha256.slice(0, 20)}.onnx`;
}

async function readCached(file: string): Promise<MergeSummary | null> {
  try {
    const summary = JSON.parse(await fs.readFile(`${file}.json`, 'utf8')) as MergeSummary;
    const stat = await fs.stat(file);
    return stat.size === summary.outputBytes ? summary : null;
  } catch {
    return null;
  }
}

/**
 * Returns the merged model of the two files, building it only when no cache entry keyed by both files' sha256
 * exists. Writes are atomic (temp file + rename), so concurrent builders never see a half-written model.
 */
export async function getMergedModelFile(request: MergedCacheRequest): Promise<MergedModelFile> {
  const candidates = [request.cacheDir, fallbackCacheDir()];
  for (const dir of candidates) {
    const file = path.join(dir, cacheFileName(request));
    const summary = await readCached(file);
    if (summary) return { path: file, summary, cached: true, cacheDir: dir };
  }
  const [generalist, expert] = await Promise.all([fs.readFile(request.generalistPath), fs.readFile(request.expertPath)]);
  const merged = buildMergedModel(generalist, expert, request.form ?? 'lerp');
  for (const dir of candidates) {
    if (!(await writableDir(dir))) continue;
    const file = path.join(dir, cacheFileName(request));
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      await fs.writeFile(temp, merged.bytes);
      await fs.writeFile(`${file}.json`, JSON.stringify(merged.summary));
      await fs.rename(temp, file);
      return { path: file, summary: merged.summary, cached: false, cacheDir: dir };
    } catch {
      await fs.rm(temp, { force: true });
    }
  }
  throw new Error(`cannot write the merged model to ${candidates.join(' or ')}`);
}
