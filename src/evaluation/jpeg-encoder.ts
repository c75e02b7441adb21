import { readFileSync } from 'node:fs';
import vm from 'node:vm';

interface JpegEncoderInstance {
  encode(image: { width: number; height: number; data: Uint8Array }, quality: number): Uint8Array;
}
type JpegEncoderClass = new (quality: number) => JpegEncoderInstance;

let encoderClass: JpegEncoderClass | null = null;
const encoders = new Map<number, JpegEncoderInstance>();

/**
 * jpeg-js's `encode()` builds a new encoder for every image, and building one (its Huffman and colour tables) costs
 * ~40–180 ms, against ~0.5 ms to encode a 64×64 image with it: the JPEG corruption of 2,560 evaluation images spent
 * minutes there. jpeg-js does not export its JPEGEncoder class, so its encoder file is evaluated once in a sandbox
 * (as a browser script, where the class is a global) and one encoder per quality is reused. The bytes are identical
 * to `encode()`'s: same code, same tables.
 */
function encoderFor(quality: number): JpegEncoderInstance {
  let encoder = encoders.get(quality);
  if (encoder) return encoder;
  if (!encoderClass) {
    const source = readFileSync(require.resolve('jpeg-js/lib/encoder.js'), 'utf8');
    const sandbox: Record<string, unknown> = { window: {}, Buffer, Uint8Array, Float32Array, Int32Array, Array, Math };
    vm.runInNewContext(source, sandbox, { filename: 'jpeg-js/lib/encoder.js' });
    if (typeof sandbox.JPEGEncoder !== 'function') throw new Error('jpeg-js/lib/encoder.js no longer defines JPEGEncoder');
    encoderClass = sandbox.JPEGEncoder as JpegEncoderClass;
  }
  encoder = new encoderClass(quality);
  encoders.set(quality, encoder);
  return encoder;
}

/** Baseline JPEG of RGBA pixels at `quality` (1–100): the bytes jpeg-js's encode() writes. */
export function encodeJpeg(image: { width: number; height: number; data: Uint8Array }, quality: number): Uint8Array {
  return encoderFor(quality).encode(image, quality);
}
