import { resizePlane, type ResizeMethod } from '../dicom/resize';
import { createImage, type PlanarImage } from './image';

export type { ResizeMethod };

/**
 * Resizes every channel to width×height with the same plane resizer the DICOM preprocessing uses, so evaluation on
 * PNG images and classification of DICOM images feed the model identically (pixel centres at half-integer
 * coordinates, as PyTorch's `align_corners=False`; `area` averages the covered source pixels).
 */
export function resizeImage(image: PlanarImage, width: number, height: number, method: ResizeMethod): PlanarImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`target size must be positive integers, got ${width}×${height}`);
  }
  if (image.width === width && image.height === height) return { ...image, data: new Float32Array(image.data) };
  const out = createImage(width, height, image.channels);
  const srcPlane = image.width * image.height;
  for (let c = 0; c < image.channels; c++) {
    const src = image.data.subarray(c * srcPlane, (c + 1) * srcPlane);
    resizePlane(src, image.width, image.height, width, height, method, out.data, c * width * height);
  }
  return out;
}
