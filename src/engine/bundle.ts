import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BundleError } from './bundle-error';
import { parseBundleManifest, type BundleManifest } from './bundle-manifest';
import { decodeOnnxModel, graphInputDims } from './onnx-model-file';

export interface ModelBundle {
  dir: string;
  manifest: BundleManifest;
  generalistPath: string;
  expertPath: string;
}

/** The demo bundle committed with the repository: the embedded default when no bundle is configured. */
export function demoBundleDir(): string {
  // The trained, calibrated pair (scripts/train-demo). bundles/demo holds the untrained generated pair that the
  // engine's own tests and the generator in scripts/demo-bundle use.
  return path.resolve(__dirname, '..', '..', 'bundles', 'demo-trained');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads and validates a bundle folder: bundle.json field by field, both ONNX files present, parseable as ONNX
 * models with the declared input and output, their sha256 equal to the manifest's. Throws BundleError naming the
 * file and field.
 */
export async function loadBundle(dir: string): Promise<ModelBundle> {
  const absDir = path.resolve(dir);
  const stat = await fs.stat(absDir).catch(() => null);
  if (!stat) throw new BundleError(absDir, null, 'bundle folder does not exist');
  if (!stat.isDirectory()) throw new BundleError(absDir, null, 'bundle path is not a folder');

  const manifestPath = path.join(absDir, 'bundle.json');
  const text = await fs.readFile(manifestPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new BundleError(manifestPath, null, error.code === 'ENOENT' ? 'missing (every bundle needs a bundle.json)' : `cannot be read: ${error.message}`);
  });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new BundleError(manifestPath, null, `invalid JSON: ${(error as Error).message}`);
  }
  const manifest = parseBundleManifest(raw, manifestPath);

  const paths: Record<'generalist' | 'expert', string> = { generalist: '', expert: '' };
  for (const role of ['generalist', 'expert'] as const) {
    const entry = manifest.models[role];
    const modelPath = path.join(absDir, entry.file);
    const bytes = await fs.readFile(modelPath).catch((error: NodeJS.ErrnoException) => {
      throw new BundleError(manifestPath, `models.${role}.file`,
        error.code === 'ENOENT' ? `ONNX file ${modelPath} does not exist` : `ONNX file ${modelPath} cannot be read: ${error.message}`);
    });
    const actual = sha256Hex(bytes);
    if (actual !== entry.sha256) {
      throw new BundleError(modelPath, `models.${role}.sha256`, `sha256 mismatch: bundle.json says ${entry.sha256}, the file has ${actual}`);
    }
    let model;
    try {
      model = decodeOnnxModel(bytes);
    } catch (error) {
      throw new BundleError(modelPath, `models.${role}.file`, (error as Error).message);
    }
    const dims = graphInputDims(model, manifest.input.name);
    if (!dims) throw new BundleError(modelPath, 'input.name', `the model has no graph input "${manifest.input.name}"`);
    const expected = [null, manifest.input.channels, manifest.input.height, manifest.input.width];
    if (dims.length !== 4) throw new BundleError(modelPath, 'input', `graph input "${manifest.input.name}" has rank ${dims.length}, expected [batch, channels, height, width]`);
    for (let i = 1; i < 4; i++) {
      if (dims[i] !== null && dims[i] !== expected[i]) {
        throw new BundleError(modelPath, 'input', `graph input "${manifest.input.name}" has shape [${dims.map((d) => d ?? '?').join(', ')}], bundle.json says [?, ${expected.slice(1).join(', ')}]`);
      }
    }
    const outDims = graphInputDims(model, manifest.output.name, 'output');
    if (!outDims) throw new BundleError(modelPath, 'output.name', `the model has no graph output "${manifest.output.name}"`);
    const classCount = outDims[outDims.length - 1];
    if (outDims.length !== 2 || (classCount !== null && classCount !== manifest.classes.length)) {
      throw new BundleError(modelPath, 'classes', `graph output "${manifest.output.name}" has shape [${outDims.map((d) => d ?? '?').join(', ')}], but bundle.json lists ${manifest.classes.length} classes (expected [batch, ${manifest.classes.length}])`);
    }
    paths[role] = modelPath;
  }
  return { dir: absDir, manifest, generalistPath: paths.generalist, expertPath: paths.expert };
}
