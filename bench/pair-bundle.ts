// A model bundle made in memory around a generalist/expert pair of ONNX files (the bench's ViT-B pair has no
// bundle.json of its own; the RSS probe opens the demo pair the same way, so both are measured alike).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseBundleManifest, sha256Hex, type ModelBundle } from '../src/engine';

/** 7 classes, input `pixel_values` [N,3,size,size], output `logits`: what make_vitb_pair.py and the demo pair have. */
export async function pairBundle(name: string, generalistPath: string, expertPath: string, size: number): Promise<ModelBundle> {
  const [g, e] = await Promise.all([fs.readFile(generalistPath), fs.readFile(expertPath)]);
  const classes = ['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((label) => ({ label, prompt: label, code: { value: label, scheme: '99BENCH', meaning: label } }));
  const dir = path.dirname(generalistPath);
  const manifest = parseBundleManifest({
    formatVersion: 1, name, version: '0', modalities: [],
    input: { name: 'pixel_values', width: size, height: size, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'bilinear' },
    output: { name: 'logits' }, classes, logitScale: 100, temperatures: { generalist: 1, expert: 1 },
    models: {
      generalist: { file: path.basename(generalistPath), name: `${name}-generalist`, version: '0', sha256: sha256Hex(g) },
      expert: { file: path.basename(expertPath), name: `${name}-expert`, version: '0', sha256: sha256Hex(e) },
    },
  }, path.join(dir, 'bundle.json (in memory)'));
  return { dir, manifest, generalistPath, expertPath };
}
