/**
 * Images made in the tests with the project's Part 10 writer: the header is a dcmjs dataset written by writePart10,
 * the PixelData element is appended as bytes (native: one OW value; encapsulated: items), so an image can declare
 * any size whatever its pixel bytes hold.
 */
import { dcmjs, EXPLICIT_VR_LITTLE_ENDIAN, SECONDARY_CAPTURE_IMAGE_STORAGE, writePart10 } from '../../src/dicom';

export const RLE_LOSSLESS = '1.2.840.10008.1.2.5';

export interface GeneratedShape {
  rows: number;
  columns: number;
  frames: number;
  /** 16-bit unsigned MONOCHROME2 throughout. */
  sopInstanceUid?: string;
}

function header(shape: GeneratedShape, transferSyntaxUid: string): Uint8Array {
  const sopInstanceUid = shape.sopInstanceUid ?? `2.25.${shape.rows}${shape.columns}${shape.frames}`;
  const dataset = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    SOPClassUID: SECONDARY_CAPTURE_IMAGE_STORAGE, SOPInstanceUID: sopInstanceUid,
    StudyInstanceUID: `${sopInstanceUid}.1`, SeriesInstanceUID: `${sopInstanceUid}.2`, Modality: 'OT',
    Rows: shape.rows, Columns: shape.columns, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0,
    ...(shape.frames > 1 ? { NumberOfFrames: String(shape.frames) } : {}),
  });
  return writePart10({ transferSyntaxUid, sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE, sopInstanceUid }, dataset);
}

function elementHeader(vr: 'OW' | 'OB', length: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16LE(0x7fe0, 0); h.writeUInt16LE(0x0010, 2); h.write(vr, 4, 'latin1'); h.writeUInt32LE(length >>> 0, 8);
  return h;
}

/**
 * Explicit VR Little Endian, `frames` frames of 16-bit samples, each frame filled with its own 0-based index so a
 * test can tell which frame was decoded.
 */
export function nativeMultiframe(shape: GeneratedShape): Buffer {
  const frameWords = shape.rows * shape.columns;
  const pixels = Buffer.alloc(frameWords * 2 * shape.frames);
  for (let f = 0; f < shape.frames; f++) pixels.fill(Buffer.from([f & 0xff, f >> 8]), f * frameWords * 2, (f + 1) * frameWords * 2);
  return Buffer.concat([header(shape, EXPLICIT_VR_LITTLE_ENDIAN), elementHeader('OW', pixels.length), pixels]);
}

function item(value: Uint8Array): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0xfffe, 0); h.writeUInt16LE(0xe000, 2); h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}

/**
 * One RLE Lossless frame (PS3.5 Annex G) of 16-bit samples all equal to `value`: two segments (high byte, low
 * byte), each `pixels` bytes of PackBits repeat runs of up to 128. Literal runs pad it to `literalBytes` per
 * segment when asked, so a frame can be made as large as a real one.
 */
export function rleFrame(pixels: number, value: number, literalBytes = 0): Buffer {
  const segment = (byte: number): Buffer => {
    const parts: Buffer[] = [];
    let left = pixels;
    // Literal runs first (n = 127: 128 bytes follow), then repeat runs (n = 129: the next byte 128 times).
    let literal = Math.min(literalBytes, pixels);
    while (literal > 0) {
      const n = Math.min(128, literal);
      parts.push(Buffer.from([n - 1]), Buffer.alloc(n, byte));
      literal -= n; left -= n;
    }
    while (left > 0) {
      const n = Math.min(128, left);
      parts.push(Buffer.from([257 - n, byte]));
      left -= n;
    }
    const out = Buffer.concat(parts);
    return out.length % 2 ? Buffer.concat([out, Buffer.from([0x80])]) : out; // -128 is a no-op: pads to even
  };
  const high = segment(value >> 8);
  const low = segment(value & 0xff);
  const head = Buffer.alloc(64);
  head.writeUInt32LE(2, 0);
  head.writeUInt32LE(64, 4);
  head.writeUInt32LE(64 + high.length, 8);
  return Buffer.concat([head, high, low]);
}

/**
 * RLE Lossless with the given frames, each split into `fragmentsPerFrame` fragments and located by a filled Basic
 * Offset Table (so a decoder has to join a frame's fragments).
 */
export function rleImage(shape: GeneratedShape, frames: Buffer[], fragmentsPerFrame = 1): Buffer {
  const fragmentItems: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const frame of frames) {
    offsets.push(at);
    const size = Math.ceil(frame.length / fragmentsPerFrame / 2) * 2;
    for (let start = 0; start < frame.length; start += size) {
      const it = item(frame.subarray(start, start + size));
      fragmentItems.push(it);
      at += it.length;
    }
  }
  const bot = Buffer.alloc(4 * offsets.length);
  offsets.forEach((o, i) => bot.writeUInt32LE(o, 4 * i));
  return Buffer.concat([header(shape, RLE_LOSSLESS), elementHeader('OB', 0xffffffff), item(bot), ...fragmentItems,
    Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0])]);
}

/**
 * A decompression bomb: a few kilobytes of RLE whose header declares 40000×40000 16-bit pixels (3.2 GB decoded).
 * Its segments are valid PackBits that stop short, as a decoder would only find out after allocating the frame.
 */
export function rleBomb(): Buffer {
  const shape = { rows: 40000, columns: 40000, frames: 1, sopInstanceUid: '2.25.40000' };
  return rleImage(shape, [rleFrame(64 * 1024, 0x1234)]);
}
