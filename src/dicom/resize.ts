/**
 * Resizing of one channel plane (Float32, row-major). Sample positions use pixel centres (half-pixel offsets),
 * as PyTorch's interpolate(align_corners=False) and PIL do, so a model trained on their output sees the same.
 */
/** The resize methods a bundle may name (bundle.json input.resize). */
export const RESIZE_METHODS = ['bilinear', 'nearest', 'area'] as const;
export type ResizeMethod = (typeof RESIZE_METHODS)[number];

export function resizePlane(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number,
  method: ResizeMethod, dst: Float32Array, dstOffset: number): void {
  if (method === 'nearest') return nearest(src, srcW, srcH, dstW, dstH, dst, dstOffset);
  if (method === 'area') return area(src, srcW, srcH, dstW, dstH, dst, dstOffset);
  return bilinear(src, srcW, srcH, dstW, dstH, dst, dstOffset);
}

function nearest(src: Float32Array, sw: number, sh: number, dw: number, dh: number, dst: Float32Array, o: number): void {
  const sx = sw / dw;
  const sy = sh / dh;
  for (let y = 0; y < dh; y++) {
    const yy = Math.min(sh - 1, Math.floor((y + 0.5) * sy));
    for (let x = 0; x < dw; x++) dst[o + y * dw + x] = src[yy * sw + Math.min(sw - 1, Math.floor((x + 0.5) * sx))];
  }
}

function bilinear(src: Float32Array, sw: number, sh: number, dw: number, dh: number, dst: Float32Array, o: number): void {
  const sx = sw / dw;
  const sy = sh / dh;
  const x0s = new Int32Array(dw);
  const x1s = new Int32Array(dw);
  const fxs = new Float32Array(dw);
  for (let x = 0; x < dw; x++) {
    const fx = Math.max(0, (x + 0.5) * sx - 0.5);
    x0s[x] = Math.min(sw - 1, Math.floor(fx));
    x1s[x] = Math.min(sw - 1, x0s[x] + 1);
    fxs[x] = fx - x0s[x];
  }
  for (let y = 0; y < dh; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(sh - 1, Math.floor(fy));
    const y1 = Math.min(sh - 1, y0 + 1);
    const wy = fy - y0;
    const r0 = y0 * sw;
    const r1 = y1 * sw;
    for (let x = 0; x < dw; x++) {
      const wx = fxs[x];
      const top = src[r0 + x0s[x]] * (1 - wx) + src[r0 + x1s[x]] * wx;
      const bottom = src[r1 + x0s[x]] * (1 - wx) + src[r1 + x1s[x]] * wx;
      dst[o + y * dw + x] = top * (1 - wy) + bottom * wy;
    }
  }
}

/** Box filter: each output pixel averages the source area it covers, with fractional edge weights. */
function area(src: Float32Array, sw: number, sh: number, dw: number, dh: number, dst: Float32Array, o: number): void {
  const sx = sw / dw;
  const sy = sh / dh;
  const rowAcc = new Float64Array(sw);
  for (let y = 0; y < dh; y++) {
    const ya = y * sy;
    const yb = ya + sy;
    rowAcc.fill(0);
    for (let yy = Math.floor(ya); yy < Math.min(sh, Math.ceil(yb)); yy++) {
      const w = Math.min(yb, yy + 1) - Math.max(ya, yy);
      if (w <= 0) continue;
      const r = yy * sw;
      for (let xx = 0; xx < sw; xx++) rowAcc[xx] += src[r + xx] * w;
    }
    for (let x = 0; x < dw; x++) {
      const xa = x * sx;
      const xb = xa + sx;
      let sum = 0;
      for (let xx = Math.floor(xa); xx < Math.min(sw, Math.ceil(xb)); xx++) {
        const w = Math.min(xb, xx + 1) - Math.max(xa, xx);
        if (w > 0) sum += rowAcc[xx] * w;
      }
      dst[o + y * dw + x] = sum / (sx * sy);
    }
  }
}
