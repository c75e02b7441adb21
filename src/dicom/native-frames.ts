import { DicomError } from './errors';
import { nativeFrameBits, nativeSamplesPerFrame, type PixelLayout } from './pixel-layout';
import type { RawFrame } from './raw-frame';

/**
 * Cuts one frame out of native (uncompressed) PixelData and brings it to little-endian words: Explicit VR Big
 * Endian stores OW words byte-swapped and dcmjs does not swap them. 1-bit data is unpacked to one byte a sample.
 */
export function nativeFrame(pixelData: Uint8Array, vr: string, littleEndian: boolean, layout: PixelLayout,
  frameIndex: number, source: string): RawFrame {
  const frameBits = nativeFrameBits(layout);
  const totalBits = frameBits * layout.numberOfFrames;
  if (pixelData.length * 8 < totalBits) {
    throw new DicomError('pixel-length', `PixelData holds ${pixelData.length} bytes, ${Math.ceil(totalBits / 8)} ` +
      `expected for ${layout.numberOfFrames} frame(s) of ${layout.columns}×${layout.rows}×${layout.samplesPerPixel} ` +
      `at ${layout.bitsAllocated} bits`, source);
  }
  const photometricInterpretation = layout.photometricInterpretation;
  const subsampled422 = photometricInterpretation === 'YBR_FULL_422';
  const planar = layout.samplesPerPixel > 1 && layout.planarConfiguration === 1 && !subsampled422;
  if (layout.bitsAllocated === 1) {
    const count = nativeSamplesPerFrame(layout);
    const bytes = new Uint8Array(count);
    const first = frameIndex * frameBits;
    // PS3.5 8.1.1: the first pixel sits in the least significant bit of the first byte.
    for (let i = 0; i < count; i++) bytes[i] = (pixelData[(first + i) >> 3] >> ((first + i) & 7)) & 1;
    return { bytes, bytesPerSample: 1, planar, subsampled422, photometricInterpretation };
  }
  const bytesPerSample = (layout.bitsAllocated / 8) as 1 | 2 | 4;
  const frameBytes = frameBits / 8;
  const start = frameIndex * frameBytes;
  let bytes: Uint8Array;
  if (littleEndian || (bytesPerSample === 1 && vr !== 'OW')) {
    bytes = new Uint8Array(pixelData.subarray(start, start + frameBytes));
  } else if (bytesPerSample === 1) {
    // 8-bit samples in an OW value of a big-endian file: every pair of bytes is swapped.
    bytes = new Uint8Array(frameBytes);
    for (let i = 0; i < frameBytes; i++) bytes[i] = pixelData[(start + i) ^ 1] ?? 0;
  } else {
    bytes = new Uint8Array(frameBytes);
    for (let i = 0; i < frameBytes; i += bytesPerSample) {
      for (let b = 0; b < bytesPerSample; b++) bytes[i + b] = pixelData[start + i + bytesPerSample - 1 - b];
    }
  }
  return { bytes, bytesPerSample, planar, subsampled422, photometricInterpretation };
}
