import { frameClassification } from '../../src/pipeline/classification/classify-images';
import type { BatchInference, ImageInference } from '../../src/engine';

const classes = [{ label: 'A', code: { value: '1', scheme: '99T3', meaning: 'A' } }, { label: 'B', code: { value: '2', scheme: '99T3', meaning: 'B' } }];

function image(group: number | undefined, lambda: number): ImageInference {
  return { probabilities: [0.7, 0.3], js: 0.1, lambda, lambdaFinal: lambda, entropyPt: 0.5, entropyFt: 0.4, extrapolationTriggered: false, appliedLambda: lambda, ...(group === undefined ? {} : { group }) };
}

function batch(images: ImageInference[], groupLambdas: number[] | undefined, batchLambda: number | null): BatchInference {
  return { batchId: 'b1', policy: 't3b-grouped', batchLambda, images, passes: 2 + (groupLambdas?.length ?? 1), executionProvider: 'cpu', durationMs: 1, coefficientSample: null, ...(groupLambdas ? { groupLambdas } : {}) };
}

test('a split batch reads as one batch per group, each with its own λ', () => {
  const b = batch([image(0, 1.05), image(1, 0.12)], [1.05, 0.12], null);
  const frames = b.images.map((im, i) => frameClassification(im, b, classes, 1, 2, i));
  expect(frames.map((f) => f.batchId)).toEqual(['b1/g0', 'b1/g1']);
  expect(frames.map((f) => f.batchLambda)).toEqual([1.05, 0.12]);
  expect(frames.map((f) => f.group)).toEqual([0, 1]);
});

test('a batch that stayed one group reads as a T3B batch', () => {
  const b = batch([image(0, 0.9), image(0, 0.9)], [0.9], 0.9);
  const frames = b.images.map((im, i) => frameClassification(im, b, classes, 1, 2, i));
  expect(frames.map((f) => f.batchId)).toEqual(['b1', 'b1']);
  expect(frames.map((f) => f.batchLambda)).toEqual([0.9, 0.9]);
});
