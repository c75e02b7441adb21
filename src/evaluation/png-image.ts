import { PNG, type PNGWithMetadata } from 'pngjs';
import { createImage, type PlanarImage } from './image';

export class ImageDecodeError extends Error {
  constructor(readonly source: string, reason: string) {
    super(`${source}: ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

/**
 * Decodes a PNG (any bit depth and colour type pngjs reads: grey, grey+alpha, RGB, RGBA, palette) into a
 * display-space image: grey PNGs give one channel, colour PNGs three; alpha is ignored; 16-bit samples keep their
 * precision.
 */
export function decodePng(bytes: Uint8Array, source: string): PlanarImage {
  let png: PNGWithMetadata;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
  } catch (err) {
    throw new ImageDecodeError(source, `not a readable PNG (${err instanceof Error ? err.message : String(err)})`);
  }
  const { width, height } = png;
  if (!width || !height) throw new ImageDecodeError(source, 'PNG has no pixels');
  // With skipRescale, 16-bit images come back as a Uint16Array of RGBA samples, 8-bit ones as a Buffer.
  const data = png.data as unknown as ArrayLike<number>;
  const max = png.depth === 16 ? 65535 : 255;
  const colour = (png.colorType & 2) !== 0;    // bit 1 of the PNG colour type: RGB samples (2, 6, or palette 3)
  const channels = colour ? 3 : 1;
  const plane = width * height;
  const image = createImage(width, height, channels);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < channels; c++) image.data[c * plane + i] = data[i * 4 + c] / max;
  }
  return image;
}
