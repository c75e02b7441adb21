import type { PixelLayout } from './pixel-layout';
import type { RawFrame } from './raw-frame';

/** Stored pixel values: BitsStored bits taken from below HighBit, sign-extended when PixelRepresentation = 1. */
export type StoredValues = Int32Array | Uint32Array;

/**
 * Turns decoder output into stored values, colour-by-pixel, one value per sample per pixel.
 * Masking matters: bits above HighBit may hold overlays or garbage (PS3.5 8.1.1).
 */
export function toStoredValues(raw: RawFrame, layout: PixelLayout): StoredValues {
  const { rows, columns, bitsStored, highBit, signed } = layout;
  const spp = layout.samplesPerPixel;
  const pixels = rows * columns;
  const count = raw.subsampled422 ? pixels * 2 : pixels * spp;
  const words = readWords(raw, count);
  const shift = highBit + 1 - bitsStored;
  const unsigned32 = bitsStored === 32 && !signed;
  const values = new Int32Array(count);
  if (bitsStored < 32) {
    // Integer bit operations: the common case, and several times faster than floating-point arithmetic.
    const mask = (1 << bitsStored) - 1;
    const extend = 32 - bitsStored;
    if (signed) for (let i = 0; i < count; i++) values[i] = (((words[i] >>> shift) & mask) << extend) >> extend;
    else for (let i = 0; i < count; i++) values[i] = (words[i] >>> shift) & mask;
  } else {
    for (let i = 0; i < count; i++) values[i] = words[i] | 0; // 32 of 32 bits: reinterpret (sign handled below)
  }
  const source: StoredValues = unsigned32 ? new Uint32Array(values.buffer) : values;
  if (!raw.subsampled422 && !(raw.planar && spp > 1)) {
    return count === pixels * spp ? source : source.slice(0, pixels * spp);
  }
  const out: StoredValues = unsigned32 ? new Uint32Array(pixels * spp) : new Int32Array(pixels * spp);
  if (raw.subsampled422) {
    // Y0 Y1 Cb Cr → (Y0 Cb Cr)(Y1 Cb Cr); an odd last column reuses its pair's chroma.
    for (let y = 0; y < rows; y++) {
      const rowIn = y * columns * 2;
      for (let x = 0; x < columns; x++) {
        const pair = rowIn + (x >> 1) * 4;
        const o = (y * columns + x) * 3;
        out[o] = source[pair + (x & 1)];
        out[o + 1] = source[pair + 2];
        out[o + 2] = source[pair + 3];
      }
    }
  } else {
    for (let s = 0; s < spp; s++) for (let p = 0; p < pixels; p++) out[p * spp + s] = source[s * pixels + p];
  }
  return out;
}

function readWords(raw: RawFrame, count: number): ArrayLike<number> {
  const { bytes, bytesPerSample } = raw;
  if (bytes.length < count * bytesPerSample) {
    throw new RangeError(`frame holds ${bytes.length} bytes, ${count * bytesPerSample} needed`);
  }
  if (bytesPerSample === 1) return bytes;
  // Typed-array views need aligned offsets: copy when the bytes start at an odd place.
  const aligned = bytes.byteOffset % bytesPerSample === 0 ? bytes : new Uint8Array(bytes);
  if (bytesPerSample === 2) return new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  return new Uint32Array(aligned.buffer, aligned.byteOffset, count);
}
