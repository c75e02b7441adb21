import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dcmjs from 'dcmjs';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures', 'dicom');
export { samplesDir, samplePath, sampleNames } from '../helpers/samples';

export function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(fixturesDir, name));
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `orthanc-t3-dicom-${prefix}-`));
}

function header(file: string): Record<string, unknown> {
  const bytes = fs.readFileSync(file);
  const dict = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
    { untilTag: '7FE00010' });
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
}

export interface ReferencePixels {
  photometricInterpretation: string;
  frames: number;
  /** Stored values of all frames, colour-by-pixel, masked and sign-extended here (independently of src/dicom). */
  samples: Int32Array | Float64Array;
}

/**
 * Decodes with a reference tool from Debian into an uncompressed file, dumps its PixelData with `dcmdump +W`,
 * and turns the raw words into stored values with this file's own few lines of bit handling.
 */
export function referencePixels(input: string, tool: 'dcmdjpeg' | 'dcmdrle' | 'dcmdjpls' | 'gdcmconv' | 'dcmconv'): ReferencePixels {
  const dir = tempDir('ref');
  try {
    const out = path.join(dir, 'decoded.dcm');
    const args = tool === 'gdcmconv' ? ['--raw', input, out] : tool === 'dcmconv' ? ['+te', input, out] : [input, out];
    execFileSync(tool, args, { stdio: 'pipe' });
    execFileSync('dcmdump', ['+W', dir, out], { stdio: 'pipe', maxBuffer: 64 * 1024 * 1024 });
    const rawFile = fs.readdirSync(dir).find((f) => f.endsWith('.raw'));
    if (!rawFile) throw new Error(`dcmdump wrote no raw PixelData for ${input}`);
    const raw = fs.readFileSync(path.join(dir, rawFile));
    const h = header(out);
    const n = (k: string, d: number): number => (h[k] === undefined || h[k] === null ? d : Number(h[k]));
    const rows = n('Rows', 0);
    const columns = n('Columns', 0);
    const spp = n('SamplesPerPixel', 1);
    const frames = n('NumberOfFrames', 1);
    const bitsAllocated = n('BitsAllocated', 16);
    const bitsStored = n('BitsStored', bitsAllocated);
    const highBit = n('HighBit', bitsStored - 1);
    const signed = n('PixelRepresentation', 0) === 1;
    const planar = n('PlanarConfiguration', 0) === 1;
    const perFrame = rows * columns * spp;
    const count = perFrame * frames;
    const words = bitsAllocated === 8 ? new Uint8Array(raw.buffer, raw.byteOffset, count)
      : bitsAllocated === 16 ? new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + 2 * count))
        : new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + 4 * count));
    // 32-bit unsigned values do not fit Int32Array.
    const values = bitsAllocated === 32 && !signed ? new Float64Array(count) : new Int32Array(count);
    const shift = 2 ** (highBit + 1 - bitsStored);
    const range = 2 ** bitsStored;
    // Loops run slowly inside jest's sandbox: take the native copy whenever no bit handling is needed.
    if (shift === 1 && range === 2 ** bitsAllocated && !signed && bitsAllocated < 32) values.set(words);
    else for (let i = 0; i < count; i++) {
      let v = Math.floor(words[i] / shift) % range;
      if (signed && v >= range / 2) v -= range;
      values[i] = v;
    }
    let samples = values;
    if (planar && spp > 1) {
      samples = bitsAllocated === 32 && !signed ? new Float64Array(count) : new Int32Array(count);
      const pixels = rows * columns;
      for (let f = 0; f < frames; f++) for (let s = 0; s < spp; s++) for (let p = 0; p < pixels; p++) {
        samples[f * perFrame + p * spp + s] = values[f * perFrame + s * pixels + p];
      }
    }
    return { photometricInterpretation: String(h.PhotometricInterpretation), frames, samples };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Largest absolute difference between two sample arrays of equal length. */
export function maxAbsDiff(a: Int32Array | Uint32Array, b: Int32Array | Float64Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  // Identical bytes first (native compare): loops over millions of samples are slow inside jest.
  // (arrays posted by a worker belong to another realm than jest's sandbox, so no instanceof here)
  const tag = (x: unknown): string => Object.prototype.toString.call(x);
  if (tag(a) === '[object Int32Array]' && tag(b) === '[object Int32Array]' && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0) return 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Rebuilds a DICOM file with the given frames encapsulated (one fragment each, empty offset table). */
export function withEncapsulatedFrames(original: Buffer, frames: Uint8Array[]): Buffer {
  const pixelTag = original.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42]));
  if (pixelTag < 0) throw new Error('no encapsulated PixelData tag found');
  const item = (value: Uint8Array): Buffer => {
    const even = value.length % 2 ? Buffer.concat([Buffer.from(value), Buffer.alloc(1)]) : Buffer.from(value);
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0xfffe, 0); h.writeUInt16LE(0xe000, 2); h.writeUInt32LE(even.length, 4);
    return Buffer.concat([h, even]);
  };
  return Buffer.concat([original.subarray(0, pixelTag), Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]),
    item(new Uint8Array(0)), ...frames.map(item), Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0])]);
}
