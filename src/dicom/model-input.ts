import type { UnitImage } from './render';
import { RESIZE_METHODS, resizePlane } from './resize';
import type { ModelInputSpec } from './types';

/** Checks a ModelInputSpec once, so a bad bundle fails with a clear message rather than NaN tensors. */
export function validateModelInputSpec(spec: ModelInputSpec): void {
  const problems: string[] = [];
  if (!Number.isInteger(spec.width) || spec.width < 1) problems.push(`width ${spec.width}`);
  if (!Number.isInteger(spec.height) || spec.height < 1) problems.push(`height ${spec.height}`);
  if (spec.channels !== 1 && spec.channels !== 3) problems.push(`channels ${spec.channels} (1 or 3)`);
  if (!Array.isArray(spec.mean) || spec.mean.length !== spec.channels || spec.mean.some((v) => !Number.isFinite(v))) problems.push('mean');
  if (!Array.isArray(spec.std) || spec.std.length !== spec.channels || spec.std.some((v) => !Number.isFinite(v) || v === 0)) problems.push('std');
  if (!(RESIZE_METHODS as readonly string[]).includes(spec.resize)) problems.push(`resize "${spec.resize}"`);
  if (problems.length > 0) throw new RangeError(`invalid model input spec: ${problems.join(', ')}`);
}

/**
 * [0,1] display image → model tensor [channels, height, width]: grey replicated to 3 channels (or colour
 * reduced to luma for 1-channel models), resized with the bundle's method, then (x - mean[c]) / std[c].
 */
export function toModelTensor(image: UnitImage, spec: ModelInputSpec): Float32Array {
  const { rows, columns } = image;
  const plane = rows * columns;
  let source = image.data;
  if (spec.channels === 1 && image.channels === 3) {
    source = new Float32Array(plane);
    for (let p = 0; p < plane; p++) source[p] = 0.299 * image.data[p] + 0.587 * image.data[plane + p] + 0.114 * image.data[2 * plane + p];
  }
  const sourceChannels = spec.channels === 1 ? 1 : image.channels;
  const outPlane = spec.width * spec.height;
  const resized = new Float32Array(outPlane * sourceChannels);
  for (let c = 0; c < sourceChannels; c++) {
    resizePlane(source.subarray(c * plane, (c + 1) * plane), columns, rows, spec.width, spec.height, spec.resize, resized, c * outPlane);
  }
  const tensor = new Float32Array(outPlane * spec.channels);
  for (let c = 0; c < spec.channels; c++) {
    const from = sourceChannels === 1 ? 0 : c;
    const mean = spec.mean[c];
    const std = spec.std[c];
    for (let i = 0; i < outPlane; i++) tensor[c * outPlane + i] = (resized[from * outPlane + i] - mean) / std;
  }
  return tensor;
}
