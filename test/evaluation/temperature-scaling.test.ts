import { CalibrationError, fitTemperature, temperatureNll, uniformGenerator } from '../../src/evaluation';

/** Labels drawn from softmax(z / trueT): the best temperature for these logits is near trueT. */
function sampleSet(count: number, trueT: number, seed: number): { logits: number[][]; labels: number[] } {
  const rand = uniformGenerator(seed);
  const logits: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const z = Array.from({ length: 5 }, () => 20 * (rand() - 0.5));
    const w = z.map((v) => Math.exp(v / trueT));
    const total = w.reduce((s, v) => s + v, 0);
    let u = rand() * total;
    let label = 0;
    while (label < 4 && u > w[label]) u -= w[label++];
    logits.push(z);
    labels.push(label);
  }
  return { logits, labels };
}

describe('temperature scaling', () => {
  test('recovers the temperature that generated the labels and lowers the NLL', () => {
    const { logits, labels } = sampleSet(4000, 3, 7);
    const fit = fitTemperature(logits, labels);
    expect(fit.temperature).toBeGreaterThan(2.6);
    expect(fit.temperature).toBeLessThan(3.4);
    expect(fit.nllAfter).toBeLessThan(fit.nllBefore);
    // It is the minimum: nearby temperatures are no better.
    expect(temperatureNll(logits, labels, fit.temperature * 1.05)).toBeGreaterThanOrEqual(fit.nllAfter);
    expect(temperatureNll(logits, labels, fit.temperature / 1.05)).toBeGreaterThanOrEqual(fit.nllAfter);
  });

  test('works on log-probabilities as well as logits (a per-row constant does not matter)', () => {
    const { logits, labels } = sampleSet(500, 0.5, 11);
    const shifted = logits.map((row, i) => row.map((v) => v - 17 * i));
    expect(fitTemperature(shifted, labels).temperature).toBeCloseTo(fitTemperature(logits, labels).temperature, 5);
  });

  test('bad inputs get clear errors', () => {
    expect(() => fitTemperature([], [])).toThrow(CalibrationError);
    expect(() => fitTemperature([[1, 2]], [2])).toThrow(/not a class index/);
    expect(() => fitTemperature([[1, Number.NaN]], [0])).toThrow(/non-finite/);
    expect(() => fitTemperature([[1, 2]], [0, 1])).toThrow(/1 outputs for 2 labels/);
  });
});
