import { lookUp } from './lut';
import type { PixelLayout } from './pixel-layout';
import type { RenderPlan, VoiTransform } from './render-plan';
import type { StoredValues } from './stored-values';

/** A frame as display values in [0,1], colour-by-plane: channels × rows × columns. */
export interface UnitImage { channels: 1 | 3; rows: number; columns: number; data: Float32Array; }

function applyVoi(values: Float64Array, voi: VoiTransform, stored: StoredValues, padding: number | undefined): Float32Array {
  const out = new Float32Array(values.length);
  if (voi.kind === 'lut') {
    const max = 2 ** voi.lut.bits - 1;
    for (let i = 0; i < values.length; i++) out[i] = Math.min(1, Math.max(0, lookUp(voi.lut, values[i]) / max));
    return out;
  }
  if (voi.kind === 'minmax') {
    let min = Infinity;
    let max = -Infinity;
    const skipPadding = padding !== undefined;
    for (let i = 0; i < values.length; i++) {
      if (skipPadding && stored[i] === padding) continue;
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const range = max - min;
    if (!(range > 0)) return out; // a flat image carries no contrast: all zeros
    const scale = 1 / range;
    for (let i = 0; i < values.length; i++) {
      const y = (values[i] - min) * scale;
      out[i] = y < 0 ? 0 : y > 1 ? 1 : y; // padding may lie outside [min, max]
    }
    return out;
  }
  const { center: c, width: w, fn } = voi;
  // PS3.3 C.11.2.1.2 with output range [0,1].
  if (fn === 'LINEAR') {
    const low = c - 0.5 - (w - 1) / 2;
    const high = c - 0.5 + (w - 1) / 2;
    const scale = 1 / (w - 1);
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      out[i] = x <= low ? 0 : x > high ? 1 : (x - (c - 0.5)) * scale + 0.5;
    }
    return out;
  }
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    let y: number;
    if (fn === 'SIGMOID') y = 1 / (1 + Math.exp((-4 * (x - c)) / w));
    else if (fn === 'LINEAR_EXACT') y = x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5;
    else y = x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5;
    out[i] = y;
  }
  return out;
}

function renderGrey(stored: StoredValues, plan: RenderPlan): Float32Array {
  const values = new Float64Array(stored.length);
  const m = plan.modality;
  if (m.kind === 'lut') for (let i = 0; i < stored.length; i++) values[i] = lookUp(m.lut, stored[i]);
  else {
    const { slope, intercept } = m;
    for (let i = 0; i < stored.length; i++) values[i] = stored[i] * slope + intercept;
  }
  const out = applyVoi(values, plan.voi, stored, plan.pixelPaddingValue);
  if (plan.invert) for (let i = 0; i < out.length; i++) out[i] = 1 - out[i];
  return out;
}

function renderColour(stored: StoredValues, layout: PixelLayout, photometric: string, pixels: number, plan: RenderPlan): Float32Array {
  const out = new Float32Array(pixels * 3);
  const [r, g, b] = [0, pixels, 2 * pixels];
  if (plan.palette) {
    const { red, green, blue } = plan.palette;
    const [rm, gm, bm] = [2 ** red.bits - 1, 2 ** green.bits - 1, 2 ** blue.bits - 1];
    for (let p = 0; p < pixels; p++) {
      const v = stored[p];
      out[r + p] = lookUp(red, v) / rm;
      out[g + p] = lookUp(green, v) / gm;
      out[b + p] = lookUp(blue, v) / bm;
    }
    return out;
  }
  const max = 2 ** layout.bitsStored - 1;
  if (photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422') {
    // PS3.3 C.7.6.3.1.2, scaled to the sample range.
    const half = 2 ** (layout.bitsStored - 1);
    for (let p = 0; p < pixels; p++) {
      const y = stored[3 * p];
      const cb = stored[3 * p + 1] - half;
      const cr = stored[3 * p + 2] - half;
      out[r + p] = clamp01((y + 1.402 * cr) / max);
      out[g + p] = clamp01((y - 0.344136 * cb - 0.714136 * cr) / max);
      out[b + p] = clamp01((y + 1.772 * cb) / max);
    }
    return out;
  }
  for (let p = 0; p < pixels; p++) {
    out[r + p] = clamp01(stored[3 * p] / max);
    out[g + p] = clamp01(stored[3 * p + 1] / max);
    out[b + p] = clamp01(stored[3 * p + 2] / max);
  }
  return out;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** Stored values → display values in [0,1]: modality LUT, VOI, MONOCHROME1 inversion, or colour conversion. */
export function renderToUnit(stored: StoredValues, layout: PixelLayout, decodedPhotometric: string, plan: RenderPlan): UnitImage {
  const pixels = layout.rows * layout.columns;
  if (plan.palette || layout.samplesPerPixel === 3) {
    return { channels: 3, rows: layout.rows, columns: layout.columns,
      data: renderColour(stored, layout, decodedPhotometric, pixels, plan) };
  }
  return { channels: 1, rows: layout.rows, columns: layout.columns, data: renderGrey(stored, plan) };
}
