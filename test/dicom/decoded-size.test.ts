/**
 * Bounded by size, not by time: an image is refused by the decoded size its header declares, before decoding, and
 * a long multi-frame object decodes (and copies) only the frames the frame policy uses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { closeSharedFramePool, decodeFrames, DicomError, loadModelInputs, readDicomInfo } from '../../src/dicom';
import { DEFAULT_MAX_DECODED_IMAGE_BYTES } from '../../src/dicom/decoded-size';
import { runNodeEntry } from '../helpers/node-process';
import { fixturesDir, tempDir } from './helpers';
import { nativeMultiframe, rleBomb, rleFrame, rleImage } from './generated-images';

const spec = { width: 16, height: 16, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'bilinear' as const };

afterAll(() => closeSharedFramePool());

async function failure(promise: Promise<unknown>): Promise<DicomError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DicomError) return error;
    throw new Error(`expected a DicomError, got ${String(error)}`);
  }
  throw new Error('expected a DicomError, but decoding succeeded');
}

describe('an image declaring more decoded bytes than the limit is refused before decoding', () => {
  test('an RLE bomb of a few kilobytes declaring 40000×40000 16-bit pixels: image-too-large, at once', async () => {
    const bomb = rleBomb();
    expect(bomb.length).toBeLessThan(8192);
    expect(readDicomInfo(bomb)).toMatchObject({ rows: 40000, columns: 40000 });
    const started = performance.now();
    const error = await failure(loadModelInputs(bomb, spec, { framePolicy: 'middle', source: 'bomb.dcm' }));
    expect(error.code).toBe('image-too-large');
    expect(error.category).toBe('invalid-argument');
    // Nothing was decoded: the old path ran the RLE decoder on a 3.2 GB frame (50 s until the codec timeout).
    expect(performance.now() - started).toBeLessThan(2000);
    expect(error.message).toContain('bomb.dcm');
    expect(error.message).toContain('40000×40000');
    expect(error.message).toContain(String(DEFAULT_MAX_DECODED_IMAGE_BYTES));
    // decodeFrames (stored values, for callers that render themselves) applies the same bound.
    expect((await failure(decodeFrames(bomb, { framePolicy: 'first' }))).code).toBe('image-too-large');
  });

  test('native PixelData declaring 40000×40000 is refused by its size, before its length is even checked', async () => {
    // A 1×1 file with Rows/Columns patched to 40000: its PixelData holds 2 bytes.
    const patched = patchDimensions(nativeMultiframe({ rows: 1, columns: 1, frames: 1 }), 40000, 40000);
    expect(readDicomInfo(patched)).toMatchObject({ rows: 40000, columns: 40000 });
    const error = await failure(loadModelInputs(patched, spec, { framePolicy: 'first', source: 'declared.dcm' }));
    expect(error.code).toBe('image-too-large');
  });

  test('the limit counts the frames the policy decodes, and one frame over it is refused under any policy', async () => {
    // 20 frames of 256×256 16-bit: 128 KiB a frame, 2.5 MiB in all.
    const file = nativeMultiframe({ rows: 256, columns: 256, frames: 20 });
    const frameBytes = 256 * 256 * 2;
    const middle = await loadModelInputs(file, spec, { framePolicy: 'middle', maxDecodedImageBytes: 8 * frameBytes });
    expect(middle.frames.map((f) => f.frameNumber)).toEqual([10]);
    const all = await failure(loadModelInputs(file, spec, { framePolicy: 'all', maxDecodedImageBytes: 8 * frameBytes }));
    expect(all.code).toBe('image-too-large');
    expect((await loadModelInputs(file, spec, { framePolicy: 'all', maxDecodedImageBytes: 20 * frameBytes })).frames).toHaveLength(20);
    for (const framePolicy of ['first', 'middle', 3] as const) {
      const one = await failure(loadModelInputs(file, spec, { framePolicy, maxDecodedImageBytes: frameBytes - 1 }));
      expect(one.code).toBe('image-too-large');
    }
  });

  test('multi-frame fixtures of several syntaxes decode whole under the default limit', async () => {
    for (const name of ['ct12s_3f_rle.dcm', 'mr16u_2f_jpegls_fragments_no_bot.dcm', 'rgb8_2f_explicit_le.dcm']) {
      const bytes = fs.readFileSync(path.join(fixturesDir, name));
      expect((await loadModelInputs(bytes, spec, { framePolicy: 'all', source: name })).frames.length).toBeGreaterThan(1);
    }
  });
});

/** Rewrites the (0028,0010) Rows and (0028,0011) Columns US values of an Explicit VR Little Endian file. */
function patchDimensions(bytes: Buffer, rows: number, columns: number): Buffer {
  const out = Buffer.from(bytes);
  for (const [element, value] of [[0x0010, rows], [0x0011, columns]] as const) {
    const tag = Buffer.from([0x28, 0x00, element, 0x00, 0x55, 0x53]); // (0028,00xx) US
    const at = out.indexOf(tag);
    if (at < 0) throw new Error(`(0028,${element.toString(16).padStart(4, '0')}) not found`);
    out.writeUInt16LE(value, at + 8);
  }
  return out;
}

describe('a 1000-frame object with a one-frame policy decodes one frame with bounded memory', () => {
  // 1000 frames of 256×256 16-bit: 131 MB, as in the issue. Each frame holds its own index, so the decoded frame
  // shows which one it was. Measured in a child process (peak RSS is a high-water mark): before this bound the
  // header read copied the whole file and the encapsulated path joined every frame, +126–128 MiB of peak RSS.
  const shape = { rows: 256, columns: 256, frames: 1000 };
  const warmup = path.join(fixturesDir, 'ct12s_3f_explicit_le.dcm');
  let dir: string;
  beforeAll(() => { dir = tempDir('multiframe'); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['native', () => nativeMultiframe(shape)],
    // RLE frames of full size (literal runs), two fragments each, located by the Basic Offset Table.
    ['RLE, two fragments a frame', () => rleImage(shape, Array.from({ length: shape.frames }, (_, f) => rleFrame(256 * 256, f, 256 * 256)), 2)],
  ])('%s', async (_kind, make) => {
    const file = path.join(dir, 'multiframe.dcm');
    const bytes = make();
    expect(bytes.length).toBeGreaterThan(130_000_000);
    fs.writeFileSync(file, bytes);
    const run = await runNodeEntry('test/dicom/decode-memory-probe.ts', [warmup, file, 'middle'], 120000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const probe = JSON.parse(run.stdout.trim()) as { peakBeforeKiB: number; peakAfterKiB: number; frameNumbers: number[]; firstSample: number[] };
    expect(probe.frameNumbers).toEqual([500]);
    expect(probe.firstSample).toEqual([499]);
    // One 128 KiB frame and its stored values; a copy of the pixel data would add 125 MiB.
    expect((probe.peakAfterKiB - probe.peakBeforeKiB) / 1024).toBeLessThan(32);
  });
});
