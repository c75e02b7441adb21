import { dcmjs } from './dcmjs-library';
import { DicomError } from './errors';
import { readDicomStructure, type DicomStructure } from './part10-structure';
import { nonImageKind } from './sop-classes';
import type { DicomInstanceInfo } from './types';

/** What one read of the bytes yields: the contract's info plus the located pixel data. */
export interface ParsedDicom {
  info: DicomInstanceInfo;
  structure: DicomStructure;
  /** The name errors should carry: the caller's source, else the SOP Instance UID. */
  source: string;
}

const PIXEL_KEYWORDS = ['PixelData', 'FloatPixelData', 'DoubleFloatPixelData'];

function text(value: unknown): string {
  if (Array.isArray(value)) return value.length > 0 ? text(value[0]) : '';
  // Values arrive as strings or numbers; anything else (absent, an object) is no usable text.
  return typeof value === 'string' || typeof value === 'number' ? String(value).replace(/\0/g, '').trim() : '';
}

function integer(value: unknown, fallback: number): number {
  const n = Number(Array.isArray(value) ? value[0] : value);
  return Number.isFinite(n) ? Math.trunc(n) : fallback;
}

export function parseDicom(bytes: Uint8Array, source?: string): ParsedDicom {
  const structure = readDicomStructure(bytes, source);
  const part10 = structure.header;
  let header: Record<string, unknown>;
  try {
    // A copy of the header only (structure.header ends before the pixel data): dcmjs needs an ArrayBuffer of its own.
    const buffer = part10.buffer.slice(part10.byteOffset, part10.byteOffset + part10.byteLength) as ArrayBuffer;
    const dict = dcmjs.data.DicomMessage.readFile(buffer, { untilTag: '7FE00010', includeUntilTagValue: false });
    header = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  } catch (error) {
    throw new DicomError('not-dicom', `dcmjs could not read the header (${(error as Error)?.message ?? String(error)})`, source);
  }
  for (const keyword of PIXEL_KEYWORDS) delete header[keyword];

  const sopInstanceUid = text(header.SOPInstanceUID);
  const info: DicomInstanceInfo & { hasPixelData: boolean } = {
    sopClassUid: text(header.SOPClassUID),
    sopInstanceUid,
    studyInstanceUid: text(header.StudyInstanceUID),
    seriesInstanceUid: text(header.SeriesInstanceUID),
    modality: text(header.Modality),
    numberOfFrames: Math.max(1, integer(header.NumberOfFrames, 1)),
    transferSyntaxUid: structure.transferSyntaxUid,
    rows: integer(header.Rows, 0),
    columns: integer(header.Columns, 0),
    photometricInterpretation: text(header.PhotometricInterpretation),
    header,
    hasPixelData: structure.pixelData !== undefined,
  };
  return { info, structure, source: source ?? (sopInstanceUid || 'DICOM object without SOPInstanceUID') };
}

/** Reads the header of a DICOM object (Part 10, no-preamble or bare dataset). Throws DicomError. */
export function readDicomInfo(bytes: Uint8Array, source?: string): DicomInstanceInfo {
  return parseDicom(bytes, source).info;
}

/** Whether an object holds a picture to classify; when not, why (SR, KOS, PR, RT, waveform, PDF, no pixels…). */
export function isImageObject(info: DicomInstanceInfo): { image: true } | { image: false; reason: string } {
  const kind = nonImageKind(info.sopClassUid);
  if (kind !== undefined) return { image: false, reason: `${kind} (SOP Class ${info.sopClassUid}) holds no image to classify` };
  const hasPixelData = (info as { hasPixelData?: boolean }).hasPixelData;
  if (hasPixelData === false) return { image: false, reason: `no PixelData element (SOP Class ${info.sopClassUid || 'missing'})` };
  if (info.rows <= 0 || info.columns <= 0) return { image: false, reason: `Rows/Columns missing or zero (${info.rows}×${info.columns})` };
  return { image: true };
}
