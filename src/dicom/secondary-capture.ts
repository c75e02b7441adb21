import { createHash, randomUUID } from 'node:crypto';
import { dcmjs } from './dcmjs-library';
import { writePart10 } from './part10-writer';
import { SECONDARY_CAPTURE_IMAGE_STORAGE } from './sop-classes';
import { EXPLICIT_VR_LITTLE_ENDIAN } from './transfer-syntax';

/*
 * A Secondary Capture image made from a raw pixel array (t3.v1.PixelArray in a gRPC classify request), so bare pixels
 * enter the same decoding path as DICOM files.
 */

/** t3.v1.PixelArray as the proto loader gives it (camelCase; optional fields absent when unset). */
export interface PixelArrayMessage {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  photometricInterpretation: string;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  numberOfFrames: number;
  data: Uint8Array;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  windowCenter?: number;
  windowWidth?: number;
  modality: string;
}

/** The study and series every pixel-array image of one call is placed in. */
export interface PixelArrayContext {
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

/** A pixel array that cannot be described as an image; `reason` says which field and why. */
export class PixelArrayError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PixelArrayError';
  }
}

/** Frames above this are refused: the message-size limit bounds bytes, this bounds per-frame work. */
const MAX_FRAMES = 1024;

/** A `2.25.<decimal>` UID from 16 bytes (the form PS3.5 B.2 gives for UUID-derived UIDs). */
function uidFromBytes(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes.subarray(0, 16)).toString('hex');
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

export function newPixelArrayContext(): PixelArrayContext {
  const uuid = () => Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
  return { studyInstanceUid: uidFromBytes(uuid()), seriesInstanceUid: uidFromBytes(uuid()) };
}

/** A decimal string (DICOM DS) of at most 16 characters for a finite number. */
function decimalString(value: number, field: string): string {
  if (!Number.isFinite(value)) throw new PixelArrayError(`${field} must be a finite number, got ${value}`);
  for (let precision = 12; precision >= 1; precision--) {
    const text = String(Number(value.toPrecision(precision)));
    if (text.length <= 16) return text;
  }
  throw new PixelArrayError(`${field} ${value} cannot be written as a DICOM decimal string`);
}

function checkUint(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PixelArrayError(`${field} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/** The pixel array's geometry and sample format, checked against each other and against the data's length. */
interface CheckedPixels {
  rows: number;
  columns: number;
  photometric: string;
  samples: number;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  frames: number;
  data: Uint8Array;
}

function checkedPixels(pixels: PixelArrayMessage): CheckedPixels {
  const rows = checkUint(pixels.rows, 'rows', 1, 65535);
  const columns = checkUint(pixels.columns, 'columns', 1, 65535);
  const photometric = (pixels.photometricInterpretation || 'MONOCHROME2').trim().toUpperCase();
  const samplesForPhotometric: Record<string, number> = { MONOCHROME1: 1, MONOCHROME2: 1, RGB: 3 };
  const expectedSamples = samplesForPhotometric[photometric];
  if (expectedSamples === undefined) {
    throw new PixelArrayError(`photometric_interpretation must be MONOCHROME1, MONOCHROME2 or RGB, got "${pixels.photometricInterpretation}"`);
  }
  const samples = pixels.samplesPerPixel === 0 ? expectedSamples : pixels.samplesPerPixel;
  if (samples !== expectedSamples) {
    throw new PixelArrayError(`samples_per_pixel ${samples} does not match photometric_interpretation ${photometric} (${expectedSamples})`);
  }
  const bitsAllocated = pixels.bitsAllocated;
  if (bitsAllocated !== 8 && bitsAllocated !== 16) throw new PixelArrayError(`bits_allocated must be 8 or 16, got ${bitsAllocated}`);
  const bitsStored = pixels.bitsStored === 0 ? bitsAllocated : checkUint(pixels.bitsStored, 'bits_stored', 1, bitsAllocated);
  if (photometric === 'RGB' && (bitsAllocated !== 8 || pixels.signed)) {
    throw new PixelArrayError('RGB pixel arrays must be unsigned 8-bit');
  }
  const frames = pixels.numberOfFrames === 0 ? 1 : checkUint(pixels.numberOfFrames, 'number_of_frames', 1, MAX_FRAMES);
  const expectedBytes = rows * columns * samples * (bitsAllocated / 8) * frames;
  const data = pixels.data ?? new Uint8Array(0);
  if (data.length !== expectedBytes) {
    throw new PixelArrayError(
      `data has ${data.length} bytes but rows·columns·samples·bytes·frames = ${rows}·${columns}·${samples}·${bitsAllocated / 8}·${frames} = ${expectedBytes}`,
    );
  }
  return { rows, columns, photometric, samples, bitsAllocated, bitsStored, frames, data };
}

/** Checks the rescale and window values (each optional; a window needs both halves); returns the modality code. */
function checkedModality(pixels: PixelArrayMessage): string {
  if (pixels.rescaleSlope === 0) throw new PixelArrayError('rescale_slope must not be 0');
  if ((pixels.windowCenter === undefined) !== (pixels.windowWidth === undefined)) {
    throw new PixelArrayError('window_center and window_width must be given together');
  }
  if (pixels.windowWidth !== undefined && !(pixels.windowWidth >= 1)) {
    throw new PixelArrayError(`window_width must be ≥ 1, got ${pixels.windowWidth}`);
  }
  const modality = (pixels.modality || 'OT').trim().toUpperCase();
  if (!/^[A-Z0-9 _]{1,16}$/.test(modality)) throw new PixelArrayError(`modality must be a DICOM code string of 1–16 characters, got "${pixels.modality}"`);
  return modality;
}

/**
 * Wraps a raw pixel array in a Secondary Capture DICOM object (Explicit VR Little Endian) so it goes through the
 * same decoding and preprocessing as DICOM input (modality LUT, VOI, photometric, resize, normalisation): a pixel
 * array and the DICOM file it came from give the same tensor. Throws PixelArrayError naming the bad field.
 */
export function pixelArrayToDicom(pixels: PixelArrayMessage, context: PixelArrayContext, index: number): Uint8Array {
  const { rows, columns, photometric, samples, bitsAllocated, bitsStored, frames, data } = checkedPixels(pixels);
  const modality = checkedModality(pixels);
  const hasSlope = pixels.rescaleSlope !== undefined;
  const hasIntercept = pixels.rescaleIntercept !== undefined;

  const sopInstanceUid = uidFromBytes(createHash('sha256').update(context.seriesInstanceUid).update(String(index)).update(data).digest());
  // Pixel data is padded to an even length, as DICOM requires.
  const padded = new Uint8Array(data.length + (data.length % 2));
  padded.set(data);
  const dataset: Record<string, unknown> = {
    SOPClassUID: SECONDARY_CAPTURE_IMAGE_STORAGE,
    SOPInstanceUID: sopInstanceUid,
    StudyInstanceUID: context.studyInstanceUid,
    SeriesInstanceUID: context.seriesInstanceUid,
    Modality: modality,
    ConversionType: 'WSD',
    PatientID: '',
    PatientName: '',
    PatientBirthDate: '',
    PatientSex: '',
    StudyDate: '',
    StudyTime: '',
    AccessionNumber: '',
    ReferringPhysicianName: '',
    StudyID: '',
    SeriesNumber: '1',
    InstanceNumber: String(index + 1),
    Laterality: '',
    PatientOrientation: '',
    Rows: rows,
    Columns: columns,
    SamplesPerPixel: samples,
    PhotometricInterpretation: photometric,
    BitsAllocated: bitsAllocated,
    BitsStored: bitsStored,
    HighBit: bitsStored - 1,
    PixelRepresentation: pixels.signed ? 1 : 0,
    ...(samples === 3 ? { PlanarConfiguration: 0 } : {}),
    ...(frames > 1 ? { NumberOfFrames: String(frames) } : {}),
    ...(hasSlope || hasIntercept
      ? {
        RescaleSlope: decimalString(pixels.rescaleSlope ?? 1, 'rescale_slope'),
        RescaleIntercept: decimalString(pixels.rescaleIntercept ?? 0, 'rescale_intercept'),
        RescaleType: 'US',
      }
      : {}),
    ...(pixels.windowCenter !== undefined && pixels.windowWidth !== undefined
      ? { WindowCenter: decimalString(pixels.windowCenter, 'window_center'), WindowWidth: decimalString(pixels.windowWidth, 'window_width') }
      : {}),
  };
  const denaturalized = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
  // dcmjs cannot tell OB from OW for PixelData on its own, so the element is added with its VR spelled out.
  denaturalized['7FE00010'] = { vr: bitsAllocated === 8 ? 'OB' : 'OW', Value: [padded.buffer] };
  return writePart10(
    { transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE, sopInstanceUid }, denaturalized);
}
