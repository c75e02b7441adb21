import { corruptionErrors, expectedCalibrationError, meanNegativeLogLikelihood, top1Accuracy } from '../../src/evaluation';

describe('metrics', () => {
  test('top-1 accuracy and NLL on a hand-made set', () => {
    const p = [
      [0.7, 0.2, 0.1],
      [0.1, 0.8, 0.1],
      [0.5, 0.3, 0.2],
      [0.2, 0.2, 0.6],
    ];
    const labels = [0, 1, 1, 2];
    expect(top1Accuracy(p, labels)).toBe(0.75);
    expect(meanNegativeLogLikelihood(p, labels)).toBeCloseTo(-(Math.log(0.7) + Math.log(0.8) + Math.log(0.3) + Math.log(0.6)) / 4, 12);
    expect(() => top1Accuracy(p, [0])).toThrow(RangeError);
  });

  test('ECE of a perfectly calibrated bin is 0, of an overconfident one its gap', () => {
    // Four predictions at confidence 0.75, three right: calibrated.
    const p = [[0.75, 0.25], [0.75, 0.25], [0.75, 0.25], [0.75, 0.25]];
    expect(expectedCalibrationError(p, [0, 0, 0, 1])).toBeCloseTo(0, 12);
    // Confidence 0.9, half right: gap 0.4.
    expect(expectedCalibrationError([[0.9, 0.1], [0.9, 0.1]], [0, 1])).toBeCloseTo(0.4, 12);
  });

  test('mCE follows the ImageNet-C definition on a hand-made error table', () => {
    // Errors per severity 1..3 for two corruptions.
    const reference = { noise: [0.2, 0.4, 0.6], blur: [0.1, 0.1, 0.2] };
    const model = { noise: [0.1, 0.2, 0.3], blur: [0.1, 0.2, 0.3] };
    const e = corruptionErrors(model, 0.05, reference, 0.1);
    // CE_noise = 0.6 / 1.2 = 0.5; CE_blur = 0.6 / 0.4 = 1.5; mCE = 1.0
    expect(e.ce.noise).toBeCloseTo(0.5, 12);
    expect(e.ce.blur).toBeCloseTo(1.5, 12);
    expect(e.mce).toBeCloseTo(1.0, 12);
    // Relative: noise (0.6 − 3·0.05) / (1.2 − 3·0.1) = 0.45 / 0.9 = 0.5; blur (0.6 − 0.15) / (0.4 − 0.3) = 4.5
    expect(e.relativeCe.noise).toBeCloseTo(0.5, 12);
    expect(e.relativeCe.blur).toBeCloseTo(4.5, 12);
    expect(e.relativeMce).toBeCloseTo(2.5, 12);
  });

  test('the reference has mCE 1, and a corruption the reference never errs on is left out of the mean', () => {
    const reference = { noise: [0.2, 0.4], jpeg: [0, 0] };
    const self = corruptionErrors(reference, 0.1, reference, 0.1);
    expect(self.ce.noise).toBe(1);
    expect(Number.isNaN(self.ce.jpeg)).toBe(true);
    expect(self.mce).toBe(1);
    expect(() => corruptionErrors({ noise: [0.1] }, 0, reference, 0)).toThrow(/severities/);
    expect(() => corruptionErrors({ noise: [0.1, 0.2] }, 0, reference, 0)).toThrow(/missing/);
  });
});
