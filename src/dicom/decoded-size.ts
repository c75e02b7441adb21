import { DicomError } from './errors';
import type { PixelLayout } from './pixel-layout';

/**
 * Default bound on what one image may declare it decodes to. Decoding holds several times this at its peak (the
 * decoder's words, 32-bit stored values, float display values), so 256 MiB keeps a worst case near 1.5 GiB per
 * image being decoded, while the largest single pictures a PACS sends (mammography, large DX, scanned film: tens
 * of MiB) and multi-frame series under the `all` frame policy (a 512-frame 512×512 16-bit CT) still fit.
 */
export const DEFAULT_MAX_DECODED_IMAGE_BYTES = 256 * 1024 * 1024;

/** Bytes one frame decodes to: 1-bit samples are unpacked to a byte, others keep BitsAllocated. */
export function declaredFrameBytes(layout: PixelLayout): number {
  return layout.rows * layout.columns * layout.samplesPerPixel * Math.max(1, Math.ceil(layout.bitsAllocated / 8));
}

function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Refuses an image whose header declares more decoded bytes than `limit`, before any decoding: the size comes
 * from the header alone, so a small file that declares a huge picture (a "decompression bomb") costs nothing. The
 * message gives the declared dimensions and the limit only; headers carry no patient data into it.
 */
export function refuseOversizedImage(layout: PixelLayout, framesToDecode: number, limit: number, source: string): void {
  const frameBytes = declaredFrameBytes(layout);
  const shape = `${layout.columns}×${layout.rows} pixels × ${layout.samplesPerPixel} sample(s) × ${layout.bitsAllocated} bits allocated`;
  // A single frame over the limit is refused whatever the frame policy: no policy decodes less than one frame.
  if (frameBytes > limit) {
    throw new DicomError('image-too-large', `one frame declares ${shape} = ${frameBytes} bytes (${mebibytes(frameBytes)}) ` +
      `decoded, over the limit of ${limit} bytes (${mebibytes(limit)})`, source);
  }
  const total = frameBytes * framesToDecode;
  if (total > limit) {
    throw new DicomError('image-too-large', `${framesToDecode} frame(s) to decode of ${shape} = ${total} bytes ` +
      `(${mebibytes(total)}) decoded, over the limit of ${limit} bytes (${mebibytes(limit)})`, source);
  }
}
