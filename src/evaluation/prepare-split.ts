import { applyCorruption, type CorruptionName } from './corruptions';
import type { PreparedSplit } from './evaluation-runner';
import type { LabelledImage } from './labelled-dataset';
import { toModelTensor, type ModelInputShape } from './model-input';
import { hashSeed } from './random';

/**
 * Turns labelled images into model tensors, optionally corrupting each one first (at its original resolution, as
 * ImageNet-C corrupts images before the model's preprocessing). The noise seed depends on the corruption, the
 * severity and the file name only, so every run and every policy sees the same corrupted pixels.
 */
export function prepareSplit(
  name: string,
  images: readonly LabelledImage[],
  spec: ModelInputShape,
  corruption?: { name: CorruptionName; severity: number },
): PreparedSplit {
  const perImage = spec.channels * spec.width * spec.height;
  const tensors = new Float32Array(images.length * perImage);
  images.forEach((item, i) => {
    const image = corruption
      ? applyCorruption(item.image, corruption.name, corruption.severity, hashSeed(`${corruption.name}/${corruption.severity}/${item.file}`))
      : item.image;
    toModelTensor(image, spec, tensors, i * perImage);
  });
  return {
    name,
    kind: corruption ? 'corrupted' : 'clean',
    corruption: corruption?.name,
    severity: corruption?.severity,
    tensors,
    labels: images.map((item) => item.classIndex),
  };
}
