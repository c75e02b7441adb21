import { inflateRawSync } from 'node:zlib';
import { DicomError } from './errors';
import { wrapEncodedDataset } from './part10-header';
import { EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, findTransferSyntax, IMPLICIT_VR_LITTLE_ENDIAN } from './transfer-syntax';

/**
 * A structural walk over the element lengths of a DICOM file. dcmjs reads truncated files without complaint
 * (it stops early or returns a short PixelData), so this walk is what tells "truncated" from "complete", finds
 * the PixelData element with its declared length, and lists the encapsulated fragments byte-exactly.
 */

export interface EncapsulatedPixelData {
  /** Offsets from the Basic Offset Table (empty when the table is empty). */
  basicOffsetTable: number[];
  /** Offset of every fragment's item tag, relative to the first fragment's item tag (BOT semantics). */
  fragmentOffsets: number[];
  fragments: Uint8Array[];
}

export interface PixelDataElement {
  /** 'OB' | 'OW' | …, or '' in Implicit VR. */
  vr: string;
  /** Native pixel data: the value bytes, byte order as stored. */
  native?: Uint8Array;
  encapsulated?: EncapsulatedPixelData;
}

export interface DicomStructure {
  transferSyntaxUid: string;
  /** How the object arrived: a Part 10 file, one lacking the 128-byte preamble, or a bare dataset. */
  form: 'part10' | 'no-preamble' | 'bare-dataset';
  /**
   * The header as bytes dcmjs can read with DicomMessage.readFile: preamble, DICM, meta group and the dataset up to
   * its pixel data element (a deflated dataset whole, since it cannot be cut before inflating). The pixel data is
   * left out so that reading the header never copies it: a 131 MB multi-frame object costs its header's bytes.
   */
  header: Uint8Array;
  pixelData?: PixelDataElement;
  /** Float/Double Float Pixel Data are reported rather than decoded. */
  floatPixelData: boolean;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const ALL_VRS = new Set([...LONG_VRS, 'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT',
  'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US']);
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITER = 0xfffee00d;
const SEQUENCE_DELIMITER = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const FLOAT_PIXEL_DATA = 0x7fe00008;
const DOUBLE_FLOAT_PIXEL_DATA = 0x7fe00009;

class Truncated extends Error {}
class Malformed extends Error {}

class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly littleEndian: boolean) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(pos: number, count: number): void {
    if (pos + count > this.bytes.length) throw new Truncated(`element at byte ${pos} needs ${count} bytes, ${this.bytes.length - pos} left`);
  }
  u16(pos: number): number { this.need(pos, 2); return this.view.getUint16(pos, this.littleEndian); }
  u32(pos: number): number { this.need(pos, 4); return this.view.getUint32(pos, this.littleEndian); }
  tag(pos: number): number { return ((this.u16(pos) << 16) | this.u16(pos + 2)) >>> 0; }
  vr(pos: number): string { this.need(pos, 2); return String.fromCharCode(this.bytes[pos], this.bytes[pos + 1]); }
}

interface ElementHeader { tag: number; vr: string; length: number; start: number; valueStart: number; }

function readElementHeader(r: Reader, pos: number, explicitVr: boolean): ElementHeader {
  const tag = r.tag(pos);
  if ((tag >>> 16) === 0xfffe || !explicitVr) return { tag, vr: '', length: r.u32(pos + 4), start: pos, valueStart: pos + 8 };
  const vr = r.vr(pos + 4);
  if (!ALL_VRS.has(vr)) throw new Malformed(`invalid VR "${vr.replace(/[^\x20-\x7e]/g, '?')}" at byte ${pos}`);
  if (LONG_VRS.has(vr)) return { tag, vr, length: r.u32(pos + 8), start: pos, valueStart: pos + 12 };
  return { tag, vr, length: r.u16(pos + 6), start: pos, valueStart: pos + 8 };
}

/** Skips the items of an undefined-length sequence; returns the position after its delimiter. */
function skipSequence(r: Reader, pos: number, explicitVr: boolean): number {
  for (;;) {
    const item = readElementHeader(r, pos, false);
    if (item.tag === SEQUENCE_DELIMITER) return item.valueStart;
    if (item.tag !== ITEM) throw new Malformed(`expected an item tag in a sequence at byte ${pos}`);
    if (item.length === UNDEFINED) {
      pos = walk(r, item.valueStart, explicitVr, false, () => undefined);
    } else {
      r.need(item.valueStart, item.length);
      pos = item.valueStart + item.length;
    }
  }
}

/**
 * Walks elements from pos. Nested (item) walks stop at an Item Delimiter and return the position after it;
 * the top-level walk stops at the end of the bytes. onElement sees each element of this level.
 */
function walk(r: Reader, pos: number, explicitVr: boolean, topLevel: boolean,
  onElement: (header: ElementHeader, end: number) => void): number {
  while (pos < r.bytes.length) {
    const header = readElementHeader(r, pos, explicitVr);
    if (header.tag === ITEM_DELIMITER) {
      if (topLevel) throw new Malformed(`item delimiter outside a sequence at byte ${pos}`);
      return header.valueStart;
    }
    let end: number;
    if (header.length === UNDEFINED) {
      if (header.tag === PIXEL_DATA && topLevel) end = findSequenceEnd(r, header.valueStart);
      // Undefined-length UN holds Implicit VR Little Endian content (PS3.5 6.2.2).
      else end = skipSequence(r, header.valueStart, explicitVr && header.vr !== 'UN');
    } else {
      r.need(header.valueStart, header.length);
      end = header.valueStart + header.length;
    }
    onElement(header, end);
    pos = end;
  }
  if (!topLevel) throw new Truncated('the bytes end inside a sequence item');
  return pos;
}

function findSequenceEnd(r: Reader, pos: number): number {
  for (;;) {
    const item = readElementHeader(r, pos, false);
    if (item.tag === SEQUENCE_DELIMITER) return item.valueStart;
    if (item.tag !== ITEM || item.length === UNDEFINED) throw new Malformed(`bad fragment item at byte ${pos}`);
    r.need(item.valueStart, item.length);
    pos = item.valueStart + item.length;
  }
}

function readEncapsulated(r: Reader, start: number): EncapsulatedPixelData {
  const items: { tagPos: number; value: Uint8Array }[] = [];
  let pos = start;
  for (;;) {
    const item = readElementHeader(r, pos, false);
    if (item.tag === SEQUENCE_DELIMITER) break;
    items.push({ tagPos: pos, value: r.bytes.subarray(item.valueStart, item.valueStart + item.length) });
    pos = item.valueStart + item.length;
  }
  if (items.length === 0) throw new Malformed('encapsulated PixelData lacks the Basic Offset Table item');
  const [table, ...fragments] = items;
  const bot: number[] = [];
  const tv = new DataView(table.value.buffer, table.value.byteOffset, table.value.byteLength);
  for (let i = 0; i + 4 <= table.value.length; i += 4) bot.push(tv.getUint32(i, true));
  const first = fragments.length > 0 ? fragments[0].tagPos : 0;
  return { basicOffsetTable: bot, fragmentOffsets: fragments.map((f) => f.tagPos - first),
    fragments: fragments.map((f) => f.value) };
}

interface MetaResult { transferSyntaxUid: string; end: number; }

function readMeta(bytes: Uint8Array, start: number): MetaResult {
  const r = new Reader(bytes, true);
  let pos = start;
  let uid: string | undefined;
  while (pos < bytes.length && r.u16(pos) === 0x0002) {
    const header = readElementHeader(r, pos, true);
    if (header.length === UNDEFINED) throw new Malformed('undefined length in the file meta group');
    r.need(header.valueStart, header.length);
    if (header.tag === 0x00020010) {
      uid = Buffer.from(bytes.subarray(header.valueStart, header.valueStart + header.length)).toString('latin1')
        .replace(/[\0 ]+$/, '');
    }
    pos = header.valueStart + header.length;
  }
  if (pos >= bytes.length) throw new Truncated('the file ends after the file meta group');
  if (uid === undefined) throw new Malformed('the file meta group has no TransferSyntaxUID (0002,0010)');
  return { transferSyntaxUid: uid, end: pos };
}

function startsWithMetaGroup(bytes: Uint8Array, at: number): boolean {
  return bytes.length >= at + 8 && bytes[at] === 0x02 && bytes[at + 1] === 0x00 && bytes[at + 3] === 0x00
    && ALL_VRS.has(String.fromCharCode(bytes[at + 4], bytes[at + 5]));
}

/**
 * Recognises a bare dataset (no preamble, no meta) by its first element, which must lie in group 0x0004
 * (DICOMDIR) or 0x0008. Such objects are Implicit VR Little Endian by default (PS3.5 A.1); Explicit VR in
 * either byte order is recognised by its VR letters.
 */
function guessBareDataset(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8) return undefined;
  const vrLetters = ALL_VRS.has(String.fromCharCode(bytes[4], bytes[5]));
  const groupLe = bytes[0] | (bytes[1] << 8);
  const elementLe = bytes[2] | (bytes[3] << 8);
  if ((groupLe === 0x0008 || groupLe === 0x0004) && elementLe <= 0x1fff) {
    if (vrLetters) return EXPLICIT_VR_LITTLE_ENDIAN;
    const length = (bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)) >>> 0;
    return length <= bytes.length - 8 ? IMPLICIT_VR_LITTLE_ENDIAN : undefined;
  }
  const groupBe = (bytes[0] << 8) | bytes[1];
  const elementBe = (bytes[2] << 8) | bytes[3];
  if ((groupBe === 0x0008 || groupBe === 0x0004) && elementBe <= 0x1fff && vrLetters) return EXPLICIT_VR_BIG_ENDIAN;
  return undefined;
}

/**
 * A deflated dataset is inflated whole before its header can be read, so the declared-size check cannot come first:
 * this bounds what a "deflate bomb" (megabytes that inflate to gigabytes) may take. Deflated Explicit VR is used for
 * small non-image objects and thumbnails; 1 GiB is far above any real one.
 */
const MAX_INFLATED_DATASET_BYTES = 1024 * 1024 * 1024;

export function readDicomStructure(bytes: Uint8Array, source?: string): DicomStructure {
  const hasMagic = bytes.length >= 132 && Buffer.from(bytes.subarray(128, 132)).toString('latin1') === 'DICM';
  // Some writers drop only the preamble and keep "DICM"; others drop both and start with the meta group.
  const magicFirst = !hasMagic && bytes.length >= 12 && Buffer.from(bytes.subarray(0, 4)).toString('latin1') === 'DICM'
    && startsWithMetaGroup(bytes, 4);
  let form: DicomStructure['form'];
  let transferSyntaxUid: string;
  let metaStart = 0;
  let datasetStart: number;
  try {
    if (hasMagic || magicFirst || startsWithMetaGroup(bytes, 0)) {
      form = hasMagic ? 'part10' : 'no-preamble';
      metaStart = hasMagic ? 132 : magicFirst ? 4 : 0;
      const meta = readMeta(bytes, metaStart);
      transferSyntaxUid = meta.transferSyntaxUid;
      datasetStart = meta.end;
    } else {
      const guess = guessBareDataset(bytes);
      if (guess === undefined) {
        const why = bytes.length < 132 ? `only ${bytes.length} bytes, no DICOM preamble or dataset start`
          : 'no "DICM" magic at byte 128 and the bytes do not start like a DICOM dataset';
        throw new DicomError('not-dicom', why, source);
      }
      form = 'bare-dataset';
      transferSyntaxUid = guess;
      datasetStart = 0;
    }
  } catch (error) {
    throw asDicomError(error, source);
  }

  const syntax = findTransferSyntax(transferSyntaxUid);
  // Unknown syntaxes are still walked as Explicit VR Little Endian (PS3.5 A.4: every encapsulated syntax is).
  const explicitVr = syntax?.explicitVr ?? true;
  const littleEndian = syntax?.littleEndian ?? true;
  let dataset = bytes.subarray(datasetStart);
  if (syntax?.deflated) {
    try {
      dataset = inflateRawSync(dataset, { maxOutputLength: MAX_INFLATED_DATASET_BYTES });
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new DicomError('image-too-large', `the deflated dataset inflates to more than ${MAX_INFLATED_DATASET_BYTES} bytes`, source);
      }
      throw new DicomError('truncated', `the deflated dataset does not inflate (${(error as Error).message})`, source);
    }
  }

  const r = new Reader(dataset, littleEndian);
  let pixelData: PixelDataElement | undefined;
  let floatPixelData = false;
  let pixelStart: number | undefined;
  try {
    walk(r, 0, explicitVr, true, (header, end) => {
      const pixel = header.tag === PIXEL_DATA || header.tag === FLOAT_PIXEL_DATA || header.tag === DOUBLE_FLOAT_PIXEL_DATA;
      if (pixel) pixelStart ??= header.start;
      if (header.tag === FLOAT_PIXEL_DATA || header.tag === DOUBLE_FLOAT_PIXEL_DATA) floatPixelData = true;
      if (header.tag !== PIXEL_DATA) return;
      pixelData = header.length === UNDEFINED
        ? { vr: header.vr, encapsulated: readEncapsulated(r, header.valueStart) }
        : { vr: header.vr, native: dataset.subarray(header.valueStart, end) };
    });
  } catch (error) {
    throw asDicomError(error, source);
  }
  // The header ends where the first pixel data element starts (dcmjs stops there anyway); offsets inside a
  // deflated dataset say nothing about the compressed bytes, so that one is handed over whole.
  const headerEnd = syntax?.deflated || pixelStart === undefined ? bytes.length : datasetStart + pixelStart;
  const headerBytes = bytes.subarray(0, headerEnd);
  let header: Uint8Array;
  if (form === 'part10') header = headerBytes;
  else if (form === 'no-preamble') header = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), headerBytes.subarray(metaStart)]);
  // dcmjs reads only Part 10; the wrapper lives for this read, so its meta group names no SOP instance.
  else header = wrapEncodedDataset({ transferSyntaxUid }, headerBytes);
  return { transferSyntaxUid, form, header, pixelData, floatPixelData };
}

function asDicomError(error: unknown, source?: string): DicomError {
  if (error instanceof DicomError) return error;
  if (error instanceof Truncated) return new DicomError('truncated', `the file is cut short: ${error.message}`, source);
  if (error instanceof Malformed) return new DicomError('not-dicom', `malformed DICOM structure: ${error.message}`, source);
  return new DicomError('not-dicom', `unreadable: ${(error as Error).message}`, source);
}
