import { createImage, type PlanarImage } from './image';
import type { ModelInputSpec } from '../dicom';
import { resizeImage } from './resize';

/** The part of bundle.json "input" the evaluation needs: the same spec the DICOM preprocessing reads. */
export type ModelInputShape = ModelInputSpec;

/**
 * Display-space image → model tensor [channels, height, width]: resize, replicate grey to every model channel,
 * then `(x − mean[c]) / std[c]` (the bundle's preprocessing contract).
 */
export function toModelTensor(image: PlanarImage, spec: ModelInputShape, out?: Float32Array, offset = 0): Float32Array {
  if (image.channels !== 1 && image.channels !== spec.channels) {
    throw new RangeError(`image has ${image.channels} channels; the model takes ${spec.channels} (or grey)`);
  }
  const resized = resizeImage(image, spec.width, spec.height, spec.resize);
  const plane = spec.width * spec.height;
  const target = out ?? new Float32Array(spec.channels * plane);
  for (let c = 0; c < spec.channels; c++) {
    const srcPlane = image.channels === 1 ? 0 : c;
    const mean = spec.mean[c];
    const std = spec.std[c];
    for (let i = 0; i < plane; i++) target[offset + c * plane + i] = (resized.data[srcPlane * plane + i] - mean) / std;
  }
  return target;
}

/** Model tensor [channels, height, width] → display-space image, the inverse of `toModelTensor` at model size
 *  (used for inputs, such as DICOM frames, that arrive already preprocessed but must still be corrupted). */
export function fromModelTensor(tensor: Float32Array, spec: ModelInputShape): PlanarImage {
  const image = createImage(spec.width, spec.height, spec.channels);
  const plane = spec.width * spec.height;
  for (let c = 0; c < spec.channels; c++) {
    for (let i = 0; i < plane; i++) image.data[c * plane + i] = tensor[c * plane + i] * spec.std[c] + spec.mean[c];
  }
  return image;
}
