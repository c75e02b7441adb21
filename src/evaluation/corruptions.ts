import jpeg from 'jpeg-js';
import { clamp01, cloneImage, createImage, type PlanarImage } from './image';
import { encodeJpeg } from './jpeg-encoder';
import { normalGenerator } from './random';
import { resizeImage } from './resize';

/**
 * The corruptions of the evaluation (after Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common
 * Corruptions and Perturbations", ICLR 2019, the ImageNet-C definition), each at severities 1..5. Parameters are
 * ImageNet-C's where they do not depend on image size; the blur radius is ImageNet-C's scaled from 224 px to the
 * 64-px demo images (×64/224), so that severity means a similar loss of detail relative to the image.
 *
 * Size-dependent parameters (the blur's σ, in pixels) are given for a 64 × 64 image and scaled per image by
 * √(width·height) / 64, so a severity takes the same share of the image's detail at any size: σ is unchanged on
 * 64 × 64 images (factor exactly 1, so earlier 64-px results reproduce bit for bit), 0.44 × on 28 × 28 images, and
 * ImageNet-C's own [1, 2, 3, 4, 6] (within 0.02) on 224 × 224 images. The other parameters are sizeless: noise,
 * contrast and brightness act per pixel, pixelation is a fraction of the side. JPEG's 8 × 8 blocks have a fixed
 * size in pixels and quality has no size to scale by, so JPEG stays somewhat harsher on small images.
 */
export const CORRUPTION_NAMES = ['gaussian-noise', 'gaussian-blur', 'contrast', 'brightness', 'jpeg', 'pixelate'] as const;
export type CorruptionName = (typeof CORRUPTION_NAMES)[number];
export const SEVERITIES = [1, 2, 3, 4, 5] as const;

/** Per-severity parameter of each corruption (index 0 is severity 1). */
export const CORRUPTION_PARAMETERS: Readonly<Record<CorruptionName, readonly number[]>> = {
  /** standard deviation of additive noise on [0,1] intensities (ImageNet-C) */
  'gaussian-noise': [0.08, 0.12, 0.18, 0.26, 0.38],
  /** Gaussian σ in pixels: ImageNet-C's [1, 2, 3, 4, 6] at 224 px, scaled to 64 px */
  'gaussian-blur': [0.29, 0.57, 0.86, 1.14, 1.71],
  /** factor applied to the deviation from the mean intensity (ImageNet-C) */
  contrast: [0.4, 0.3, 0.2, 0.1, 0.05],
  /** offset added to the intensity, then clipped (ImageNet-C adds it to HSV value) */
  brightness: [0.1, 0.2, 0.3, 0.4, 0.5],
  /** JPEG quality (ImageNet-C) */
  jpeg: [25, 18, 15, 10, 7],
  /** fraction of the side the image is box-downsampled to before nearest upsampling (ImageNet-C) */
  pixelate: [0.6, 0.5, 0.4, 0.3, 0.25],
};

/** The image side, in pixels, that size-dependent parameters are given for. */
export const CORRUPTION_REFERENCE_SIDE = 64;

/** Corruptions whose parameter is a length in pixels, scaled by corruptionSizeScale. */
export const SIZE_SCALED_CORRUPTIONS: readonly CorruptionName[] = Object.freeze(['gaussian-blur'] as CorruptionName[]);

/** The factor a size-dependent parameter is multiplied by on a width × height image: √(width·height) / 64, the side
 *  of the square with as many pixels relative to the reference (non-square images count by their area). */
export function corruptionSizeScale(width: number, height: number): number {
  return Math.sqrt(width * height) / CORRUPTION_REFERENCE_SIDE;
}

/** The parameter `applyCorruption` uses for a corruption and severity on a width × height image. */
export function corruptionParameter(name: CorruptionName, severity: number, width: number, height: number): number {
  const value = CORRUPTION_PARAMETERS[name][severity - 1];
  return SIZE_SCALED_CORRUPTIONS.includes(name) ? value * corruptionSizeScale(width, height) : value;
}

export class CorruptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptionError';
  }
}

export function parseCorruptionName(text: string): CorruptionName {
  const name = text.trim().toLowerCase();
  if ((CORRUPTION_NAMES as readonly string[]).includes(name)) return name as CorruptionName;
  throw new CorruptionError(`unknown corruption "${text}"; expected one of ${CORRUPTION_NAMES.join(', ')}`);
}

/**
 * Returns a corrupted copy of `image` (intensities in [0,1]); the input is not changed. `seed` drives the random
 * corruptions (noise), so the same (image, corruption, severity, seed) always gives the same pixels.
 */
export function applyCorruption(image: PlanarImage, name: CorruptionName, severity: number, seed: number): PlanarImage {
  if (!Number.isInteger(severity) || severity < 1 || severity > 5) {
    throw new CorruptionError(`severity must be an integer from 1 to 5, got ${severity}`);
  }
  const parameters = CORRUPTION_PARAMETERS[name];
  if (!parameters) throw new CorruptionError(`unknown corruption "${String(name)}"`);
  const c = corruptionParameter(name, severity, image.width, image.height);
  switch (name) {
    case 'gaussian-noise': return gaussianNoise(image, c, seed);
    case 'gaussian-blur': return gaussianBlur(image, c);
    case 'contrast': return contrast(image, c);
    case 'brightness': return brightness(image, c);
    case 'jpeg': return jpegRoundTrip(image, c);
    case 'pixelate': return pixelate(image, c);
  }
}

function gaussianNoise(image: PlanarImage, sigma: number, seed: number): PlanarImage {
  const out = cloneImage(image);
  const normal = normalGenerator(seed);
  for (let i = 0; i < out.data.length; i++) out.data[i] = clamp01(out.data[i] + sigma * normal());
  return out;
}

/** Separable Gaussian filter with a kernel of radius ⌈3σ⌉, edges replicated. */
export function gaussianBlur(image: PlanarImage, sigma: number): PlanarImage {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let k = -radius; k <= radius; k++) total += kernel[k + radius] = Math.exp(-0.5 * (k / sigma) ** 2);
  for (let k = 0; k < kernel.length; k++) kernel[k] /= total;
  const { width, height } = image;
  const plane = width * height;
  const tmp = new Float32Array(plane);
  const out = createImage(width, height, image.channels);
  for (let c = 0; c < image.channels; c++) {
    const src = image.data.subarray(c * plane, (c + 1) * plane);
    const dst = out.data.subarray(c * plane, (c + 1) * plane);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) s += kernel[k + radius] * src[y * width + Math.min(width - 1, Math.max(0, x + k))];
        tmp[y * width + x] = s;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = -radius; k <= radius; k++) s += kernel[k + radius] * tmp[Math.min(height - 1, Math.max(0, y + k)) * width + x];
        dst[y * width + x] = clamp01(s);
      }
    }
  }
  return out;
}

function contrast(image: PlanarImage, factor: number): PlanarImage {
  const out = cloneImage(image);
  const plane = image.width * image.height;
  for (let c = 0; c < image.channels; c++) {
    const channel = out.data.subarray(c * plane, (c + 1) * plane);
    let mean = 0;
    for (let i = 0; i < plane; i++) mean += channel[i];
    mean /= plane;
    for (let i = 0; i < plane; i++) channel[i] = clamp01((channel[i] - mean) * factor + mean);
  }
  return out;
}

function brightness(image: PlanarImage, offset: number): PlanarImage {
  const out = cloneImage(image);
  for (let i = 0; i < out.data.length; i++) out.data[i] = clamp01(out.data[i] + offset);
  return out;
}

/** Encodes to baseline JPEG at `quality` and decodes again (jpeg-js, pure JavaScript). Grey images are encoded as
 *  equal R=G=B (what a grey JPEG looks like through an RGB pipeline) and read back as the mean of the channels. */
function jpegRoundTrip(image: PlanarImage, quality: number): PlanarImage {
  const { width, height, channels } = image;
  const plane = width * height;
  const rgba = Buffer.alloc(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) {
      const value = image.data[(channels === 1 ? 0 : k) * plane + i];
      rgba[i * 4 + k] = Math.round(clamp01(value) * 255);
    }
    rgba[i * 4 + 3] = 255;
  }
  const encoded = encodeJpeg({ width, height, data: rgba }, quality);
  const decoded = jpeg.decode(encoded, { useTArray: true, formatAsRGBA: true });
  if (decoded.width !== width || decoded.height !== height) {
    throw new CorruptionError(`JPEG round trip changed the size from ${width}×${height} to ${decoded.width}×${decoded.height}`);
  }
  const out = createImage(width, height, channels);
  for (let i = 0; i < plane; i++) {
    if (channels === 1) {
      out.data[i] = (decoded.data[i * 4] + decoded.data[i * 4 + 1] + decoded.data[i * 4 + 2]) / (3 * 255);
    } else {
      for (let k = 0; k < channels; k++) out.data[k * plane + i] = decoded.data[i * 4 + k] / 255;
    }
  }
  return out;
}

function pixelate(image: PlanarImage, fraction: number): PlanarImage {
  const small = resizeImage(image, Math.max(1, Math.round(image.width * fraction)), Math.max(1, Math.round(image.height * fraction)), 'area');
  return resizeImage(small, image.width, image.height, 'nearest');
}
