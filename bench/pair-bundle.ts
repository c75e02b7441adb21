// A model bundle made in memory around a generalist/expert pair of ONNX files (the bench's ViT-B pair has no
// bundle.json of its own; the RSS probe opens the demo pair the same way, so both are measured alike).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseBundleManifest, sha256Hex, type ModelBundle } from '../src/engine';

/**
 * 7 classes, input `pixel_values` [N,3,size,size], output `logits`: what make_vitb_pair.py and the demo pair have.
 * `sha256` given (the RSS probe): the files are not read here, so their bytes do not count in the probe's peak.
 */
export async function pairBundle(name: string, generalistPath: string, expertPath: string, size: number,
  sha256?: { generalist: string; expert: string }): Promise<ModelBundle> {
  const hashes: { generalist: string; expert: string } = sha256 ?? await Promise.all([fs.readFile(generalistPath), fs.readFile(expertPath)])
    .then(([g, e]) => ({ generalist: sha256Hex(g), expert: sha256Hex(e) }));
  const classes = ['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((label) => ({ label, prompt: label, code: { value: label, scheme: '99BENCH', meaning: label } }));
  const dir = path.dirname(generalistPath);
  const manifest = parseBundleManifest({
    formatVersion: 1, name, version: '0', modalities: [],
    input: { name: 'pixel_values', width: size, height: size, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'bilinear' },
    output: { name: 'logits' }, classes, logitScale: 100, temperatures: { generalist: 1, expert: 1 },
    models: {
      generalist: { file: path.basename(generalistPath), name: `${name}-generalist`, version: '0', sha256: hashes.generalist },
      expert: { file: path.basename(expertPath), name: `${name}-expert`, version: '0', sha256: hashes.expert },
    },
  }, path.join(dir, 'bundle.json (in memory)'));
  return { dir, manifest, generalistPath, expertPath };
}
