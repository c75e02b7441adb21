/**
 * An image in display space: intensities in [0, 1], channel-planar ([channels][height][width]), before the model's
 * normalisation. Corruptions and resizing work on this; `toModelTensor` turns it into the model input.
 */
export interface PlanarImage {
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: number;
  /** channels·height·width values in [0, 1]. */
  data: Float32Array;
}

export function createImage(width: number, height: number, channels: number): PlanarImage {
  return { width, height, channels, data: new Float32Array(width * height * channels) };
}

export function cloneImage(image: PlanarImage): PlanarImage {
  return { ...image, data: new Float32Array(image.data) };
}

export function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/** Mean absolute difference of two images of the same shape (used to check corruptions grow with severity). */
export function meanAbsoluteDifference(a: PlanarImage, b: PlanarImage): number {
  if (a.data.length !== b.data.length) throw new RangeError('images differ in shape');
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}
