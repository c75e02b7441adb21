import { createImage, type PlanarImage } from './image';

export type ResizeMethod = 'bilinear' | 'nearest' | 'area';

/**
 * Resizes every channel to width×height. Pixel centres are at half-integer coordinates (the convention of
 * PyTorch's `align_corners=False` and of the DICOM preprocessing), edges are clamped; `area` averages the source
 * pixels each target pixel covers, weighted by the covered fraction (the right choice for shrinking).
 */
export function resizeImage(image: PlanarImage, width: number, height: number, method: ResizeMethod): PlanarImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`target size must be positive integers, got ${width}×${height}`);
  }
  if (image.width === width && image.height === height) return { ...image, data: new Float32Array(image.data) };
  const out = createImage(width, height, image.channels);
  const sx = image.width / width;
  const sy = image.height / height;
  const srcPlane = image.width * image.height;
  const dstPlane = width * height;
  for (let c = 0; c < image.channels; c++) {
    const src = image.data.subarray(c * srcPlane, (c + 1) * srcPlane);
    const dst = out.data.subarray(c * dstPlane, (c + 1) * dstPlane);
    if (method === 'nearest') {
      for (let y = 0; y < height; y++) {
        const yy = Math.min(image.height - 1, Math.floor((y + 0.5) * sy));
        for (let x = 0; x < width; x++) dst[y * width + x] = src[yy * image.width + Math.min(image.width - 1, Math.floor((x + 0.5) * sx))];
      }
    } else if (method === 'bilinear') {
      for (let y = 0; y < height; y++) {
        const fy = Math.min(image.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
        const y0 = Math.floor(fy);
        const y1 = Math.min(image.height - 1, y0 + 1);
        const wy = fy - y0;
        for (let x = 0; x < width; x++) {
          const fx = Math.min(image.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
          const x0 = Math.floor(fx);
          const x1 = Math.min(image.width - 1, x0 + 1);
          const wx = fx - x0;
          const top = src[y0 * image.width + x0] * (1 - wx) + src[y0 * image.width + x1] * wx;
          const bottom = src[y1 * image.width + x0] * (1 - wx) + src[y1 * image.width + x1] * wx;
          dst[y * width + x] = top * (1 - wy) + bottom * wy;
        }
      }
    } else {
      for (let y = 0; y < height; y++) {
        const ya = y * sy;
        const yb = (y + 1) * sy;
        for (let x = 0; x < width; x++) {
          const xa = x * sx;
          const xb = (x + 1) * sx;
          let sum = 0;
          let weight = 0;
          for (let yy = Math.floor(ya); yy < Math.min(image.height, Math.ceil(yb)); yy++) {
            const wy = Math.min(yb, yy + 1) - Math.max(ya, yy);
            for (let xx = Math.floor(xa); xx < Math.min(image.width, Math.ceil(xb)); xx++) {
              const w = wy * (Math.min(xb, xx + 1) - Math.max(xa, xx));
              sum += w * src[yy * image.width + xx];
              weight += w;
            }
          }
          dst[y * width + x] = weight > 0 ? sum / weight : 0;
        }
      }
    }
  }
  return out;
}
