import { T3InputError } from './errors';
import { validateTemperature } from './hyperparameters';
import { pairwiseSum } from './pairwise-sum';

/**
 * ln softmax(logits / temperature). The maximum is subtracted before exponentiating, so logits of magnitude 1e4
 * (CLIP scale times a large similarity) give exact results instead of overflowing to Infinity/NaN.
 */
export function logSoftmax(logits: ArrayLike<number>, temperature = 1): number[] {
  validateTemperature(temperature, 'temperature');
  const n = logits.length;
  if (n === 0) throw new T3InputError('logits must have at least one class');
  const scaled = new Array<number>(n);
  let max = -Infinity;
  for (let c = 0; c < n; c++) {
    const z = logits[c];
    if (typeof z !== 'number' || !Number.isFinite(z)) {
      throw new T3InputError(`logit at column ${c} is ${String(z)}; logits must be finite numbers`);
    }
    const s = z / temperature;
    scaled[c] = s;
    if (s > max) max = s;
  }
  const exps = new Array<number>(n);
  for (let c = 0; c < n; c++) {
    scaled[c] -= max;
    exps[c] = Math.exp(scaled[c]);
  }
  // The sum is >= 1 (the maximum contributes exp(0)), so the log is finite.
  const logSum = Math.log(pairwiseSum(exps));
  for (let c = 0; c < n; c++) scaled[c] -= logSum;
  return scaled;
}

/** softmax(logits / temperature), computed through logSoftmax for the same overflow safety. */
export function softmax(logits: ArrayLike<number>, temperature = 1): number[] {
  return logSoftmax(logits, temperature).map(Math.exp);
}
