import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CategorizedError } from '../errors';

/**
 * Models the engine derives from a bundle's two files (the merged graph, the int8 estimation copies) are built once
 * and kept on disk under a name that carries every input's hash and the builder's version, so a changed model or
 * builder gets a new file and a stale one is never read again. One writer for both, so they share one behaviour:
 * the preferred folder when it can be written (a read-only bundle mount never is), else the OS temp dir; atomic
 * writes (summary, then the model renamed into place), so a reader never sees a half-written model.
 */

export interface CachedModelFile<S> {
  path: string;
  summary: S;
  /** True when the file came from the cache rather than being built now. */
  cached: boolean;
  cacheDir: string;
}

/** What a builder returns: the model's bytes and a summary that records their length (the cache's check). */
export interface BuiltModel<S extends { outputBytes: number }> {
  bytes: Uint8Array;
  summary: S;
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

/** A cache entry whose summary says how long the model is and whose model is that long; else null (rebuild). */
async function readCached<S extends { outputBytes: number }>(file: string): Promise<S | null> {
  try {
    const summary = JSON.parse(await fs.readFile(`${file}.json`, 'utf8')) as S;
    const stat = await fs.stat(file);
    return stat.size === summary.outputBytes ? summary : null;
  } catch {
    return null;
  }
}

/**
 * The cached model named `name` in `preferredDir` or the fallback folder, built by `build` only when neither holds
 * it. `what` names the model in the error thrown when no folder can be written.
 */
export async function cachedModelFile<S extends { outputBytes: number }>(
  preferredDir: string,
  name: string,
  what: string,
  build: () => Promise<BuiltModel<S>>,
): Promise<CachedModelFile<S>> {
  const candidates = [preferredDir, fallbackCacheDir()];
  for (const dir of candidates) {
    const file = path.join(dir, name);
    const summary = await readCached<S>(file);
    if (summary) return { path: file, summary, cached: true, cacheDir: dir };
  }
  const built = await build();
  for (const dir of candidates) {
    if (!(await writableDir(dir))) continue;
    const file = path.join(dir, name);
    const stamp = `${process.pid}.${Date.now()}`;
    const temp = `${file}.${stamp}.tmp`;
    const summaryTemp = `${file}.json.${stamp}.tmp`;
    try {
      await fs.writeFile(temp, built.bytes);
      await fs.writeFile(summaryTemp, JSON.stringify(built.summary));
      await fs.rename(summaryTemp, `${file}.json`);
      await fs.rename(temp, file);
      return { path: file, summary: built.summary, cached: false, cacheDir: dir };
    } catch {
      await fs.rm(temp, { force: true });
      await fs.rm(summaryTemp, { force: true });
    }
  }
  throw new CategorizedError('failed-precondition', `cannot write the ${what} to ${candidates.join(' or ')}`);
}
