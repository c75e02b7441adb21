import type { PixelLayout } from './pixel-layout';
import type { RawFrame } from './raw-frame';

/**
 * RLE Lossless (PS3.5 Annex G): a 64-byte header of up to 15 segment offsets, then one PackBits segment per
 * byte plane — for each sample, most significant byte first. Output is colour-by-plane, little-endian words.
 */
export function decodeRleFrame(frame: Uint8Array, layout: PixelLayout): RawFrame {
  const bytesPerSample = layout.bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample)) throw new Error(`RLE cannot hold BitsAllocated ${layout.bitsAllocated}`);
  if (frame.length < 64) throw new Error(`RLE frame of ${frame.length} bytes is shorter than its 64-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segmentCount = view.getUint32(0, true);
  const expectedSegments = layout.samplesPerPixel * bytesPerSample;
  if (segmentCount !== expectedSegments) {
    throw new Error(`RLE header lists ${segmentCount} segments, ${expectedSegments} expected for ` +
      `${layout.samplesPerPixel} sample(s) of ${layout.bitsAllocated} bits`);
  }
  const offsets: number[] = [];
  for (let i = 0; i < segmentCount; i++) offsets.push(view.getUint32(4 + 4 * i, true));
  const pixels = layout.rows * layout.columns;
  const out = new Uint8Array(pixels * expectedSegments);
  for (let segment = 0; segment < segmentCount; segment++) {
    const start = offsets[segment];
    const end = segment + 1 < segmentCount ? offsets[segment + 1] : frame.length;
    if (start < 64 || end > frame.length || start > end) throw new Error(`RLE segment ${segment + 1} offset ${start} is out of range`);
    const sample = Math.floor(segment / bytesPerSample);
    const byteInWord = bytesPerSample - 1 - (segment % bytesPerSample); // MSB segment first → little-endian slot
    const base = sample * pixels * bytesPerSample + byteInWord;
    const written = unpackBits(frame, start, end, out, base, bytesPerSample, pixels);
    if (written < pixels) throw new Error(`RLE segment ${segment + 1} decodes to ${written} bytes, ${pixels} expected`);
  }
  return { bytes: out, bytesPerSample: bytesPerSample as 1 | 2 | 4, planar: true,
    photometricInterpretation: layout.photometricInterpretation };
}

/** PackBits: n ≥ 0 copies n+1 literal bytes, -127 ≤ n ≤ -1 repeats the next byte 1-n times, -128 is a no-op. */
function unpackBits(src: Uint8Array, pos: number, end: number, out: Uint8Array, base: number, stride: number,
  limit: number): number {
  let written = 0;
  while (pos < end && written < limit) {
    const n = src[pos++];
    if (n < 128) {
      const count = Math.min(n + 1, limit - written, end - pos);
      for (let i = 0; i < count; i++) out[base + stride * written++] = src[pos + i];
      pos += n + 1;
    } else if (n > 128) {
      if (pos >= end) break;
      const value = src[pos++];
      const count = Math.min(257 - n, limit - written);
      for (let i = 0; i < count; i++) out[base + stride * written++] = value;
    }
  }
  return written;
}
