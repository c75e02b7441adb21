/** Native frame extraction corner cases that no sample file covers: 1-bit packing, 8-bit OW in big endian, high bits. */
import { nativeFrame } from '../../src/dicom/native-frames';
import type { PixelLayout } from '../../src/dicom/pixel-layout';
import { decodeRleFrame } from '../../src/dicom/rle';
import { toStoredValues } from '../../src/dicom/stored-values';

const layout = (over: Partial<PixelLayout>): PixelLayout => ({ rows: 2, columns: 3, samplesPerPixel: 1, bitsAllocated: 16,
  bitsStored: 16, highBit: 15, signed: false, planarConfiguration: 0, photometricInterpretation: 'MONOCHROME2',
  numberOfFrames: 1, ...over });

test('1-bit frames are unpacked least significant bit first, and the second frame starts mid-byte', () => {
  const l = layout({ bitsAllocated: 1, bitsStored: 1, highBit: 0, numberOfFrames: 2 });
  // 12 bits: frame 1 = 1,0,1,1,0,0 ; frame 2 = 0,1,1,1,1,0
  const packed = Uint8Array.from([0b10001101, 0b00000111]);
  const second = nativeFrame(packed, 'OB', true, l, 1, 'test');
  expect(Array.from(toStoredValues(second, l))).toEqual([0, 1, 1, 1, 1, 0]);
  expect(Array.from(toStoredValues(nativeFrame(packed, 'OB', true, l, 0, 'test'), l))).toEqual([1, 0, 1, 1, 0, 0]);
});

test('16-bit big-endian words are swapped; 8-bit samples in a big-endian OW value are swapped pairwise', () => {
  const l16 = layout({});
  const be = Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c]);
  expect(Array.from(toStoredValues(nativeFrame(be, 'OW', false, l16, 0, 'test'), l16)))
    .toEqual([0x0102, 0x0304, 0x0506, 0x0708, 0x090a, 0x0b0c]);
  const l8 = layout({ bitsAllocated: 8, bitsStored: 8, highBit: 7 });
  expect(Array.from(toStoredValues(nativeFrame(be.subarray(0, 6), 'OW', false, l8, 0, 'test'), l8))).toEqual([2, 1, 4, 3, 6, 5]);
  expect(Array.from(toStoredValues(nativeFrame(be.subarray(0, 6), 'OB', false, l8, 0, 'test'), l8))).toEqual([1, 2, 3, 4, 5, 6]);
});

test('bits above HighBit are masked off and BitsStored below a shifted HighBit are sign-extended', () => {
  // 12 bits stored at HighBit 13 (bits 2..13); top bits hold an overlay.
  const l = layout({ bitsStored: 12, highBit: 13, signed: true, columns: 2, rows: 1 });
  const words = Uint16Array.from([0xc000 | (0x7ff << 2), 0x8000 | (0x800 << 2)]);
  const raw = { bytes: new Uint8Array(words.buffer), bytesPerSample: 2 as const, planar: false, photometricInterpretation: 'MONOCHROME2' };
  expect(Array.from(toStoredValues(raw, l))).toEqual([2047, -2048]);
});

test('a short PixelData value is a pixel-length error naming the sizes', () => {
  expect(() => nativeFrame(new Uint8Array(10), 'OW', true, layout({}), 0, 'short.dcm'))
    .toThrow(/^short\.dcm: pixel-length: PixelData holds 10 bytes, 12 expected/);
});

test('RLE: literal and replicate runs, and a segment that decodes short is an error', () => {
  const l = layout({ bitsAllocated: 8, bitsStored: 8, highBit: 7 });
  const header = new Uint8Array(64);
  new DataView(header.buffer).setUint32(0, 1, true);
  new DataView(header.buffer).setUint32(4, 64, true);
  const segment = Uint8Array.from([0x01, 7, 8, 0xfd, 9]); // literal [7, 8], then 9 repeated 4 times
  const frame = new Uint8Array([...header, ...segment]);
  expect(Array.from(decodeRleFrame(frame, l).bytes)).toEqual([7, 8, 9, 9, 9, 9]);
  expect(() => decodeRleFrame(frame.subarray(0, frame.length - 2), l)).toThrow(/decodes to 2 bytes, 6 expected/);
});
