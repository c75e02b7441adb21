import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { PlanarImage } from './image';
import { parseLabelsCsv, LabelsError } from './labels-csv';
import { decodePng } from './png-image';

/** What the evaluation needs to know about the bundle's classes to map labels.csv entries to class indices. */
export interface ClassRef {
  label: string;
  code: { value: string };
}

export interface LabelledImage {
  file: string;
  classIndex: number;
  image: PlanarImage;
}

export interface LabelledSplit {
  name: string;
  dir: string;
  images: LabelledImage[];
  /** Images listed in labels.csv that could not be read or decoded; the rest of the split is still used. */
  failures: { file: string; error: string }[];
}

/** Decodes a DICOM file into a display-space image (injected by the caller, which owns the DICOM decoder). */
export type DicomImageReader = (bytes: Uint8Array, source: string) => Promise<PlanarImage>;

export interface LoadSplitOptions {
  /** Use at most this many images (the first ones listed). */
  limit?: number;
  /** Reads files that are not PNG; without it, such files are recorded as failures. */
  readDicom?: DicomImageReader;
}

export const LABELS_FILE = 'labels.csv';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/** Maps a labels.csv entry to a class index: exact label, then label ignoring case, then code value. */
function resolveClassIndex(classes: readonly ClassRef[], label: string): number {
  let index = classes.findIndex((c) => c.label === label);
  if (index < 0) index = classes.findIndex((c) => c.label.toLowerCase() === label.toLowerCase());
  if (index < 0) index = classes.findIndex((c) => c.code.value === label);
  return index;
}

/**
 * Reads one labelled folder (labels.csv + PNG or DICOM files). Unknown labels fail the whole split (they mean the
 * data set does not belong to the bundle); an unreadable image is recorded in `failures` and skipped.
 */
export async function loadLabelledSplit(dir: string, name: string, classes: readonly ClassRef[], options: LoadSplitOptions = {}): Promise<LabelledSplit> {
  const labelsPath = path.join(dir, LABELS_FILE);
  const text = await fs.readFile(labelsPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new LabelsError(labelsPath, null, err.code === 'ENOENT' ? 'missing (a labelled folder needs labels.csv)' : err.message);
  });
  let rows = parseLabelsCsv(text, labelsPath);
  for (const row of rows) {
    if (resolveClassIndex(classes, row.label) < 0) {
      throw new LabelsError(labelsPath, row.line, `label "${row.label}" is neither a class label nor a code of the bundle (${classes.map((c) => c.label).join(', ')})`);
    }
  }
  if (options.limit !== undefined) rows = rows.slice(0, options.limit);
  const images: LabelledImage[] = [];
  const failures: { file: string; error: string }[] = [];
  for (const row of rows) {
    const filePath = path.join(dir, row.file);
    try {
      const bytes = new Uint8Array(await fs.readFile(filePath));
      let image: PlanarImage;
      if (isPng(bytes)) image = decodePng(bytes, row.file);
      else if (options.readDicom) image = await options.readDicom(bytes, row.file);
      else throw new Error('not a PNG, and no DICOM reader is available');
      images.push({ file: row.file, classIndex: resolveClassIndex(classes, row.label), image });
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err);
      failures.push({ file: row.file, error: reason });
    }
  }
  return { name, dir, images, failures };
}

/** Preferred order of well-known split names in reports; others follow alphabetically. */
const SPLIT_ORDER = ['in-domain', 'shifted'];

/**
 * The labelled folders under `dataDir`: the folder itself when it holds labels.csv (one split named after it), else
 * every direct subfolder holding labels.csv, in-domain first, then shifted, then the rest by name.
 */
export async function discoverSplits(dataDir: string, exclude: readonly string[] = []): Promise<{ name: string; dir: string }[]> {
  const stat = await fs.stat(dataDir).catch(() => null);
  if (!stat || !stat.isDirectory()) throw new LabelsError(dataDir, null, 'data folder does not exist');
  const hasLabels = async (dir: string) => (await fs.stat(path.join(dir, LABELS_FILE)).catch(() => null))?.isFile() ?? false;
  if (await hasLabels(dataDir)) return [{ name: path.basename(path.resolve(dataDir)), dir: dataDir }];
  const entries = await fs.readdir(dataDir, { withFileTypes: true });
  const splits: { name: string; dir: string }[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || exclude.includes(e.name)) continue;
    const dir = path.join(dataDir, e.name);
    if (await hasLabels(dir)) splits.push({ name: e.name, dir });
  }
  const rank = (n: string) => (SPLIT_ORDER.includes(n) ? SPLIT_ORDER.indexOf(n) : SPLIT_ORDER.length);
  splits.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  if (splits.length === 0) throw new LabelsError(dataDir, null, `neither the folder nor any subfolder holds ${LABELS_FILE}`);
  return splits;
}
