import type { BatchInference } from '../../src/engine';
import { createImage, runEvaluation, type InferenceRunner, type LabelledSplit } from '../../src/evaluation';
import { defaultPolicyConfig, type PolicyConfig } from '../../src/t3';

/**
 * Relative mCE subtracts each model's clean error from its corrupted errors, so both must come from the same images
 * (issue 12: the clean error used to come from the whole split, the corrupted ones from its first N images).
 * Hand-made: grey 2×2 images of one intensity each; the "generalist" predicts class 1 at intensity ≥ 0.5, the
 * "expert" at ≥ 0.3; brightness severity 1 adds 0.1.
 */
const runner: InferenceRunner = {
  async infer(pixels: Float32Array, count: number, policy: PolicyConfig): Promise<BatchInference> {
    const threshold = policy.name === 'generalist' ? 0.5 : 0.3;
    const images = Array.from({ length: count }, (_, i) => {
      const v = pixels.subarray(i * 4, i * 4 + 4).reduce((s, x) => s + x, 0) / 4;
      const one = v >= threshold - 1e-9 ? 1 : 0;
      return {
        probabilities: one ? [0, 1] : [1, 0], js: Number.NaN, lambda: 0, lambdaFinal: 0, entropyPt: Number.NaN,
        entropyFt: Number.NaN, extrapolationTriggered: false, appliedLambda: 0,
      };
    });
    return { batchId: 'b', policy: policy.name, batchLambda: null, coefficientSample: null, images, passes: 1, executionProvider: 'cpu', durationMs: 0 };
  },
};

function grey(value: number) {
  const image = createImage(2, 2, 1);
  image.data.fill(value);
  return image;
}

test('relative mCE takes the clean error from the very images that were corrupted', async () => {
  // The first four images are corrupted; the other four are dark images that both models get wrong clean.
  const values = [0.2, 0.35, 0.45, 0.6, 0.1, 0.1, 0.1, 0.1];
  const labels = [0, 1, 1, 1, 1, 1, 1, 1];
  const split: LabelledSplit = {
    name: 'base', dir: '.', failures: [],
    images: values.map((v, i) => ({ file: `img${i}.png`, classIndex: labels[i], image: grey(v) })),
  };
  const result = await runEvaluation({
    runner,
    spec: { width: 2, height: 2, channels: 1, mean: [0], std: [1], resize: 'bilinear' },
    policies: (['generalist', 'expert'] as const).map((name) => ({ id: name, label: name, config: defaultPolicyConfig(name), batchSize: 4 })),
    splits: [split],
    corruptionBase: { split, limit: 4 },
    corruptions: ['brightness'],
    severities: [1],
    referencePolicyId: 'generalist',
  });
  expect(result.corruptionCleanSplit).toBe('base/clean');
  expect(result.scores.generalist['base/clean'].accuracy).toBe(0.5);
  expect(result.scores.expert['base/clean'].accuracy).toBe(1);
  // Corrupted (intensities 0.3, 0.45, 0.55, 0.7): both models err on one image of four.
  expect(result.scores.generalist['base/brightness/1'].accuracy).toBe(0.75);
  expect(result.scores.expert['base/brightness/1'].accuracy).toBe(0.75);
  // Relative CE of the expert: (0.25 − 0) / (0.25 − 0.5) = −1. With the whole split's clean errors (0.5 and 0.75) it
  // would have been (0.25 − 0.5) / (0.25 − 0.75) = 0.5.
  expect(result.summary.expert.relativeMce).toBeCloseTo(-1, 12);
  expect(result.summary.expert.mce).toBeCloseTo(1, 12);
  // The subset is not a clean split of its own in the summary.
  expect(Object.keys(result.summary.expert.clean)).toEqual(['base']);
});
