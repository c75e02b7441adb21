/**
 * Secondary Capture images made from raw pixel arrays (gRPC classify requests): the same model input as the DICOM
 * file the pixels came from, a file dicom3tools' dciodvfy finds no error in, and refusals that name the field.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  closeSharedFramePool, dcmjs, loadModelInputs, newPixelArrayContext, PixelArrayError, pixelArrayToDicom, readDicomInfo,
  SECONDARY_CAPTURE_IMAGE_STORAGE, type ModelInputSpec, type PixelArrayMessage,
} from '../../src/dicom';
import { samplesDir, tempDir } from './helpers';

afterAll(() => closeSharedFramePool());

const spec: ModelInputSpec = { width: 64, height: 64, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'bilinear' };

function pixelArray(overrides: Partial<PixelArrayMessage> = {}): PixelArrayMessage {
  const data = new Uint8Array(4 * 4 * 2);
  for (let i = 0; i < 16; i++) data[2 * i] = i * 13;
  return { rows: 4, columns: 4, samplesPerPixel: 0, photometricInterpretation: 'MONOCHROME2', bitsAllocated: 16, bitsStored: 12,
    signed: false, numberOfFrames: 0, data, modality: 'CT', ...overrides };
}

test('the pixels of a CT file, as a pixel array, give exactly the model input of the file', async () => {
  const bytes = fs.readFileSync(path.join(samplesDir, 'pydicom_CT_small.dcm'));
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
    dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).dict,
  ) as Record<string, any>;
  const first = (v: unknown) => (Array.isArray(v) ? Number(v[0]) : v === undefined ? undefined : Number(v));
  const pixels = new Uint8Array(ds.PixelData[0] as ArrayBuffer);
  const wrapped = pixelArrayToDicom(pixelArray({
    rows: ds.Rows, columns: ds.Columns, photometricInterpretation: ds.PhotometricInterpretation, bitsAllocated: ds.BitsAllocated,
    bitsStored: ds.BitsStored, signed: ds.PixelRepresentation === 1, data: pixels.subarray(0, ds.Rows * ds.Columns * 2),
    rescaleSlope: first(ds.RescaleSlope), rescaleIntercept: first(ds.RescaleIntercept),
    ...(ds.WindowCenter !== undefined ? { windowCenter: first(ds.WindowCenter), windowWidth: first(ds.WindowWidth) } : {}),
    modality: ds.Modality,
  }), newPixelArrayContext(), 0);

  const info = readDicomInfo(wrapped);
  expect(info).toMatchObject({ sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE, modality: 'CT', rows: ds.Rows, columns: ds.Columns });
  const fromFile = await loadModelInputs(new Uint8Array(bytes), spec, { framePolicy: 'first' });
  const fromPixels = await loadModelInputs(wrapped, spec, { framePolicy: 'first' });
  expect(Array.from(fromPixels.frames[0].tensor)).toEqual(Array.from(fromFile.frames[0].tensor));
});

test('the wrapped image is a valid Secondary Capture object (dciodvfy reports no error)', () => {
  const dir = tempDir('sc');
  try {
    const file = path.join(dir, 'sc.dcm');
    fs.writeFileSync(file, pixelArrayToDicom(pixelArray({ rescaleSlope: 1, rescaleIntercept: -1024, windowCenter: 40, windowWidth: 400 }),
      newPixelArrayContext(), 0));
    // dciodvfy writes its findings to stderr and exits non-zero on warnings alone; errors start with "Error".
    const report = execFileSync('sh', ['-c', 'dciodvfy "$1" 2>&1 || true', 'sh', file], { encoding: 'utf8' });
    expect(report).toContain('SCImage');
    expect(report.split('\n').filter((line) => line.startsWith('Error'))).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('images of one call share study and series; the same pixels at the same index get the same instance UID', () => {
  const context = newPixelArrayContext();
  const a = readDicomInfo(pixelArrayToDicom(pixelArray(), context, 0));
  const b = readDicomInfo(pixelArrayToDicom(pixelArray(), context, 1));
  expect(b.studyInstanceUid).toBe(a.studyInstanceUid);
  expect(b.seriesInstanceUid).toBe(a.seriesInstanceUid);
  expect(b.sopInstanceUid).not.toBe(a.sopInstanceUid);
  expect(readDicomInfo(pixelArrayToDicom(pixelArray(), context, 0)).sopInstanceUid).toBe(a.sopInstanceUid);
});

test.each([
  [{ data: new Uint8Array(31) }, 'data has 31 bytes but rows·columns·samples·bytes·frames = 4·4·1·2·1 = 32'],
  [{ bitsAllocated: 12 }, 'bits_allocated must be 8 or 16, got 12'],
  [{ photometricInterpretation: 'YBR_FULL' }, 'photometric_interpretation must be MONOCHROME1, MONOCHROME2 or RGB, got "YBR_FULL"'],
  [{ rescaleSlope: 0 }, 'rescale_slope must not be 0'],
  [{ windowCenter: 40 }, 'window_center and window_width must be given together'],
])('a pixel array that is not an image is refused, naming the field (%o)', (overrides, reason) => {
  let thrown: unknown;
  try {
    pixelArrayToDicom(pixelArray(overrides), newPixelArrayContext(), 0);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(PixelArrayError);
  expect((thrown as PixelArrayError).reason).toBe(reason);
});
