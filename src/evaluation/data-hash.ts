import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LABELS_FILE } from './labelled-dataset';

/**
 * sha256 over a labelled folder as a fit or an evaluation used it: labels.csv, then each used image's name and
 * bytes in order. Two folders with this hash hold the same labelled data, so a fit's provenance can be checked.
 */
export async function hashLabelledFolder(dir: string, files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await fs.readFile(path.join(dir, LABELS_FILE)));
  for (const file of files) {
    hash.update(`\n${file}\n`);
    hash.update(await fs.readFile(path.join(dir, file)));
  }
  return hash.digest('hex');
}

/** One hash over several splits' hashes (in the order given). */
export function combineHashes(parts: readonly { name: string; sha256: string }[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(`${p.name}:${p.sha256}\n`);
  return hash.digest('hex');
}
