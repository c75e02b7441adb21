import { wrapEncodedDataset } from './part10-header';
import type { PixelLayout } from './pixel-layout';
import { SECONDARY_CAPTURE_IMAGE_STORAGE } from './sop-classes';

function element(group: number, elementNumber: number, vr: string, value: Buffer): Buffer {
  const long = vr === 'OB';
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elementNumber, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

function us(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value, 0);
  return b;
}

function text(value: string, pad: string): Buffer {
  return Buffer.from(value.length % 2 ? value + pad : value, 'latin1');
}

function item(tag: number, value: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(0xfffe, 0);
  head.writeUInt16LE(tag, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, Buffer.from(value)]);
}

/** Any UID does: the file lives only for the one decoder call. */
const TRANSIENT_SOP_INSTANCE_UID = '2.25.1';

/**
 * A minimal Part 10 file holding one encapsulated frame and only the Image Pixel attributes, so a whole-file
 * decoder (GDCM) decodes exactly that frame's stored values: no rescale, no other frames, nothing from the
 * original header that it might apply.
 */
export function singleFramePart10(frame: Uint8Array, layout: PixelLayout, transferSyntaxUid: string): Uint8Array {
  const even = frame.length % 2 ? Buffer.concat([Buffer.from(frame), Buffer.alloc(1)]) : Buffer.from(frame);
  const pixelHeader = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  // The dataset is assembled here because its pixel data is one already-encoded fragment, kept byte for byte.
  const dataset = Buffer.concat([
    element(0x0008, 0x0016, 'UI', text(SECONDARY_CAPTURE_IMAGE_STORAGE, '\0')),
    element(0x0008, 0x0018, 'UI', text(TRANSIENT_SOP_INSTANCE_UID, '\0')),
    element(0x0028, 0x0002, 'US', us(layout.samplesPerPixel)),
    element(0x0028, 0x0004, 'CS', text(layout.photometricInterpretation, ' ')),
    element(0x0028, 0x0010, 'US', us(layout.rows)),
    element(0x0028, 0x0011, 'US', us(layout.columns)),
    element(0x0028, 0x0100, 'US', us(layout.bitsAllocated)),
    element(0x0028, 0x0101, 'US', us(layout.bitsStored)),
    element(0x0028, 0x0102, 'US', us(layout.highBit)),
    element(0x0028, 0x0103, 'US', us(layout.signed ? 1 : 0)),
    pixelHeader, item(0xe000, new Uint8Array(0)), item(0xe000, even), item(0xe0dd, new Uint8Array(0)),
  ]);
  return wrapEncodedDataset(
    { transferSyntaxUid, sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE, sopInstanceUid: TRANSIENT_SOP_INSTANCE_UID }, dataset);
}
