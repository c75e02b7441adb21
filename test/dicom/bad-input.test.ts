/** Bad input of every kind gets a typed DicomError naming the source and the cause; nothing hangs or crashes. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { closeSharedFramePool, decodeFrames, DicomError, isImageObject, loadModelInputs, readDicomInfo, type DicomErrorCode } from '../../src/dicom';
import { fixture, samplesDir, tempDir, withEncapsulatedFrames } from './helpers';

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

function syncFailure(run: () => unknown): DicomError {
  try {
    run();
  } catch (error) {
    if (error instanceof DicomError) return error;
    throw new Error(`expected a DicomError, got ${String(error)}`);
  }
  throw new Error('expected a DicomError, but reading succeeded');
}

/** Replaces an ASCII value in the bytes by another of the same length. */
function patch(bytes: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('patch must keep the length');
  const at = bytes.indexOf(Buffer.from(from, 'latin1'));
  if (at < 0) throw new Error(`"${from}" not found`);
  const out = Buffer.from(bytes);
  out.write(to, at, 'latin1');
  return out;
}

describe('truncation at many byte offsets', () => {
  test.each(['ct12s_3f_explicit_le.dcm', 'ct12s_3f_jpegls.dcm', 'ct12s_3f_deflated.dcm', 'rgb8_2f_rle.dcm',
    'ct12s_3f_big_endian.dcm'])('%s', async (name) => {
    const whole = fixture(name);
    const seen = new Map<DicomErrorCode, number>();
    // Every 97th byte plus the last 16 (cuts inside the final fragment or delimiter).
    const cuts = new Set<number>();
    for (let at = 0; at < whole.length; at += 97) cuts.add(at);
    for (let at = whole.length - 16; at < whole.length; at++) cuts.add(at);
    for (const at of cuts) {
      const error = await failure(loadModelInputs(whole.subarray(0, at), spec, { framePolicy: 'first', source: `${name}@${at}`, frameTimeoutMs: 5000 }));
      expect(error.message).toContain(`${name}@${at}`);
      seen.set(error.code, (seen.get(error.code) ?? 0) + 1);
      // Before the preamble ends a cut file is indistinguishable from non-DICOM bytes; a cut exactly between
      // two header elements reads as a complete object without PixelData. Anything else is a truncation.
      if (at >= 132) expect(['truncated', 'no-pixel-data']).toContain(error.code);
      else expect(error.code).toBe('not-dicom');
    }
    expect(seen.get('truncated') ?? 0).toBeGreaterThan(cuts.size / 2);
    // A cut file never stops the next one from decoding.
    const ok = await loadModelInputs(whole, spec, { framePolicy: 'all', source: name });
    expect(ok.frames.length).toBeGreaterThan(0);
  });
});

describe('header reading at every byte-wise cut', () => {
  // Every byte, except every 5th for the deflated file (each cut is inflated again).
  test.each([['ct12s_3f_jpegls.dcm', 1], ['ct12s_3f_deflated.dcm', 5], ['ct12s_3f_bare_dataset_implicit.dcm', 1],
    ['palette8_big_endian.dcm', 1]] as const)('%s', (name, step) => {
    const whole = fixture(name);
    let truncated = 0;
    for (let at = 0; at < whole.length; at += step) {
      try {
        const info = readDicomInfo(whole.subarray(0, at), name);
        // Only a cut exactly between two elements before PixelData reads as complete, and then it has no image.
        expect(isImageObject(info).image).toBe(false);
      } catch (error) {
        expect(error).toBeInstanceOf(DicomError);
        const code = (error as DicomError).code;
        expect(['not-dicom', 'truncated']).toContain(code);
        if (code === 'truncated') truncated++;
      }
    }
    expect(truncated).toBeGreaterThan((whole.length / step) * 0.9);
  });
});

describe('random input never escapes as anything but a DicomError', () => {
  test('300 random buffers, half of them behind a valid preamble', () => {
    let seed = 2024;
    const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
    for (let n = 0; n < 300; n++) {
      const bytes = Buffer.alloc(1 + (next() % 3000));
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() >>> 24;
      if (n % 2 === 1 && bytes.length > 140) {
        bytes.fill(0, 0, 128);
        bytes.write('DICM', 128, 'latin1');
        bytes.writeUInt16LE(0x0002, 132); // a meta group tag, then noise
      }
      try {
        readDicomInfo(bytes, `random-${n}`);
      } catch (error) {
        expect(error).toBeInstanceOf(DicomError);
        expect((error as DicomError).message).toContain(`random-${n}`);
      }
    }
  });
});

describe('malformed objects', () => {
  test('random bytes are not DICOM', async () => {
    let seed = 99;
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) random[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const error = await failure(loadModelInputs(random, spec, { framePolicy: 'first', source: 'random.bin' }));
    expect(error.code).toBe('not-dicom');
    expect(error.message).toMatch(/^random\.bin: not-dicom: /);
    expect(syncFailure(() => readDicomInfo(Buffer.from('%PDF-1.4 not a dicom file at all'), 'doc.pdf')).code).toBe('not-dicom');
    expect(syncFailure(() => readDicomInfo(Buffer.alloc(0), 'empty.dcm')).code).toBe('not-dicom');
  });

  test('random bytes after a valid preamble and DICM are reported, not crashed on', async () => {
    let seed = 7;
    const bytes = Buffer.alloc(2048);
    bytes.write('DICM', 128, 'latin1');
    for (let i = 132; i < bytes.length; i++) bytes[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const error = await failure(loadModelInputs(bytes, spec, { framePolicy: 'first', source: 'noise.dcm' }));
    expect(['not-dicom', 'truncated', 'no-pixel-data']).toContain(error.code);
  });

  test('a valid header with a short PixelData value is a pixel-length error', async () => {
    const whole = fixture('ct12s_3f_explicit_le.dcm');
    const tag = whole.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57])); // (7FE0,0010) OW
    const declared = whole.readUInt32LE(tag + 8);
    const shortened = Buffer.from(whole.subarray(0, whole.length - 1000));
    shortened.writeUInt32LE(declared - 1000, tag + 8);
    const error = await failure(loadModelInputs(shortened, spec, { framePolicy: 'first', source: 'short.dcm' }));
    expect(error.code).toBe('pixel-length');
    expect(error.message).toContain('short.dcm');
    expect(error.message).toMatch(/PixelData holds 17432 bytes, 18432 expected/);
  });

  test('an unknown transfer syntax is named in the error', async () => {
    const bytes = patch(fixture('ct12s_3f_explicit_le.dcm'), '1.2.840.10008.1.2.1\0', '1.2.840.10008.9.9.9\0');
    const error = await failure(loadModelInputs(bytes, spec, { framePolicy: 'first', source: 'odd-ts.dcm' }));
    expect(error.code).toBe('unsupported-transfer-syntax');
    expect(error.message).toContain('1.2.840.10008.9.9.9');
  });

  test('a JPEG stream of a precision no DICOM process uses is unsupported, naming the cause', async () => {
    const original = fixture('xa8_4f_jpeg_baseline.dcm');
    const { readDicomStructure } = await import('../../src/dicom/part10-structure');
    const frame = new Uint8Array(readDicomStructure(original).pixelData!.encapsulated!.fragments[0]);
    const sof = Buffer.from(frame).indexOf(Buffer.from([0xff, 0xc0]));
    frame[sof + 4] = 16; // SOF0 sample precision 8 → 16
    const error = await failure(loadModelInputs(withEncapsulatedFrames(original, [frame, frame, frame, frame]), spec,
      { framePolicy: 'first', source: 'p16.dcm' }));
    expect(error.code).toBe('unsupported-transfer-syntax');
    expect(error.message).toContain('16-bit samples');
  });

  test('an image without PixelData is no-pixel-data; the SR sample is not-an-image', async () => {
    const whole = fixture('ct12s_3f_explicit_le.dcm');
    const withoutPixels = whole.subarray(0, whole.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57])));
    const noPixels = await failure(loadModelInputs(withoutPixels, spec, { framePolicy: 'first' }));
    expect(noPixels.code).toBe('no-pixel-data');
    // With no caller-given name the SOP Instance UID identifies the object.
    expect(noPixels.message.startsWith(readDicomInfo(whole).sopInstanceUid)).toBe(true);
    const sr = await failure(loadModelInputs(fs.readFileSync(path.join(samplesDir, 'pydicom_test-SR.dcm')), spec, { framePolicy: 'first', source: 'test-SR.dcm' }));
    expect(sr.code).toBe('not-an-image');
    expect(sr.message).toContain('Structured Report');
  });

  test('a frame index outside the object is bad-frame-index', async () => {
    const bytes = fixture('ct12s_3f_explicit_le.dcm');
    for (const policy of [3, -1, 1.5]) {
      const error = await failure(loadModelInputs(bytes, spec, { framePolicy: policy, source: 'ct.dcm' }));
      expect(error.code).toBe('bad-frame-index');
    }
  });

  test('fragments that cannot be regrouped into NumberOfFrames are a pixel-length error', async () => {
    const lying = Buffer.from(fixture('ct12s_3f_jpegls.dcm'));
    // NumberOfFrames "3 " → "5 ": three single-fragment frames cannot make five.
    const at = lying.indexOf(Buffer.from([0x28, 0x00, 0x08, 0x00, 0x49, 0x53, 0x02, 0x00]));
    lying.write('5', at + 8, 'latin1');
    const error = await failure(loadModelInputs(lying, spec, { framePolicy: 'first', source: 'lying.dcm' }));
    expect(error.code).toBe('pixel-length');
    expect(error.message).toMatch(/cannot be regrouped into NumberOfFrames 5/);
  });

  test('a corrupt JPEG frame is a codec-failure and the next frame of another file still decodes', async () => {
    const original = fixture('xa8_4f_jpeg_baseline.dcm');
    const garbage = new Uint8Array(600).fill(0x55);
    garbage.set([0xff, 0xd8, 0xff, 0xdb], 0);
    const broken = withEncapsulatedFrames(original, [garbage, garbage, garbage, garbage]);
    const error = await failure(loadModelInputs(broken, spec, { framePolicy: 'first', source: 'garbage.dcm' }));
    expect(error.code).toBe('codec-failure');
    expect(error.message).toMatch(/^garbage\.dcm: codec-failure: frame 1 \(JPEG Baseline/);
    const ok = await loadModelInputs(original, spec, { framePolicy: 'first' });
    expect(ok.frames).toHaveLength(1);
  });

  test('a JPEG 2000 frame whose size contradicts the header is caught (OpenJPEG does not throw)', async () => {
    const j2k = fixture('ct12s_3f_j2k.dcm');
    const rgb = fixture('rgb8_2f_j2k.dcm');
    const rgbFrames = (await import('../../src/dicom/part10-structure')).readDicomStructure(rgb).pixelData!.encapsulated!.fragments;
    const mixed = withEncapsulatedFrames(j2k, [rgbFrames[0], rgbFrames[1], rgbFrames[0]]);
    const error = await failure(decodeFrames(mixed, { framePolicy: 'first', source: 'mixed.dcm' }));
    expect(error.code).toBe('codec-failure');
    expect(error.message).toMatch(/does not match the header/);
  });
});

describe('a truncated JPEG-LS frame (CharLS spins for seconds on one)', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('jls');
    // A 512×512 12-bit image: large enough that CharLS spins on its cut codestream instead of failing fast.
    let seed = 7;
    const raw = Buffer.alloc(512 * 512 * 2);
    for (let y = 0; y < 512; y++) for (let x = 0; x < 512; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      raw.writeUInt16LE(Math.floor(1000 + 800 * Math.sin(x / 40) * Math.cos(y / 30) + (seed / 2 ** 32) * 200), 2 * (y * 512 + x));
    }
    fs.writeFileSync(path.join(dir, 'big.raw'), raw);
    fs.writeFileSync(path.join(dir, 'big.dump'), ['(0008,0016) UI =CTImageStorage', '(0008,0018) UI 2.25.4242',
      '(0008,0060) CS [CT]', '(0028,0002) US 1', '(0028,0004) CS [MONOCHROME2]', '(0028,0010) US 512', '(0028,0011) US 512',
      '(0028,0100) US 16', '(0028,0101) US 12', '(0028,0102) US 11', '(0028,0103) US 0', `(7fe0,0010) OW =${path.join(dir, 'big.raw')}`].join('\n'));
    execFileSync('dump2dcm', ['--write-xfer-little', path.join(dir, 'big.dump'), path.join(dir, 'big.dcm')], { stdio: 'pipe' });
    execFileSync('dcmcjpls', [path.join(dir, 'big.dcm'), path.join(dir, 'big_jls.dcm')], { stdio: 'pipe' });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('times out, its worker is terminated, and the next file decodes', async () => {
    const good = fs.readFileSync(path.join(dir, 'big_jls.dcm'));
    const { readDicomStructure } = await import('../../src/dicom/part10-structure');
    const frame = readDicomStructure(good).pixelData!.encapsulated!.fragments[0];
    const cut = withEncapsulatedFrames(good, [frame.subarray(0, frame.length >> 1)]);
    const started = Date.now();
    const error = await failure(loadModelInputs(cut, spec, { framePolicy: 'first', source: 'cut-jls.dcm', frameTimeoutMs: 1500 }));
    expect(error.code).toBe('codec-timeout');
    expect(error.message).toMatch(/^cut-jls\.dcm: codec-timeout: frame 1 \(JPEG-LS Lossless\)/);
    expect(Date.now() - started).toBeLessThan(8000);
    const next = await decodeFrames(good, { framePolicy: 'first' });
    expect(next.frames[0].samples.length).toBe(512 * 512);
  });

  test('in a batch decoded concurrently, only the spinning file fails', async () => {
    const good = fs.readFileSync(path.join(dir, 'big_jls.dcm'));
    const { readDicomStructure } = await import('../../src/dicom/part10-structure');
    const frame = readDicomStructure(good).pixelData!.encapsulated!.fragments[0];
    const cut = withEncapsulatedFrames(good, [frame.subarray(0, frame.length >> 1)]);
    const batch = [good, cut, fixture('ct12s_3f_rle.dcm'), Buffer.from('not dicom at all'), fixture('rgb8_2f_j2k.dcm')];
    const results = await Promise.allSettled(batch.map((bytes, i) =>
      loadModelInputs(bytes, spec, { framePolicy: 'all', source: `item-${i}`, frameTimeoutMs: 1500 })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as DicomError).code).toBe('codec-timeout');
    expect(((results[3] as PromiseRejectedResult).reason as DicomError).code).toBe('not-dicom');
    expect((results[2] as PromiseFulfilledResult<{ frames: unknown[] }>).value.frames).toHaveLength(3);
  });
});
