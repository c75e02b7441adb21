/** Classification metrics over per-image class probabilities. */

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Fraction of images whose most probable class is the label. */
export function top1Accuracy(probabilities: readonly ArrayLike<number>[], labels: readonly number[]): number {
  if (probabilities.length !== labels.length) throw new RangeError(`${probabilities.length} predictions for ${labels.length} labels`);
  if (labels.length === 0) throw new RangeError('no images to score');
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (argmax(probabilities[i]) === labels[i]) correct++;
  return correct / labels.length;
}

/** Mean −ln p(label); probabilities of exactly 0 are floored at 1e-300 so one image cannot make it infinite. */
export function meanNegativeLogLikelihood(probabilities: readonly ArrayLike<number>[], labels: readonly number[]): number {
  if (probabilities.length !== labels.length) throw new RangeError(`${probabilities.length} predictions for ${labels.length} labels`);
  if (labels.length === 0) throw new RangeError('no images to score');
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum -= Math.log(Math.max(probabilities[i][labels[i]], 1e-300));
  return sum / labels.length;
}

/**
 * Expected calibration error with equal-width confidence bins: Σ_b (n_b/N)·|accuracy_b − confidence_b|.
 */
export function expectedCalibrationError(probabilities: readonly ArrayLike<number>[], labels: readonly number[], bins = 15): number {
  const count = new Array<number>(bins).fill(0);
  const correct = new Array<number>(bins).fill(0);
  const confidence = new Array<number>(bins).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const k = argmax(probabilities[i]);
    const p = probabilities[i][k];
    const b = Math.min(bins - 1, Math.floor(p * bins));
    count[b]++;
    confidence[b] += p;
    if (k === labels[i]) correct[b]++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b] > 0) ece += Math.abs(correct[b] - confidence[b]) / labels.length;
  return ece;
}

/** Top-1 error rates of one model per corruption, index s−1 for severity s. */
export type CorruptionErrorTable = Record<string, readonly number[]>;

export interface CorruptionErrorSummary {
  /** CE_c = Σ_s E_{s,c} / Σ_s E^ref_{s,c} per corruption c. */
  ce: Record<string, number>;
  /** mCE = mean over corruptions of CE_c (1 = as robust as the reference; lower is better). */
  mce: number;
  /** Relative CE_c = Σ_s (E_{s,c} − E_clean) / Σ_s (E^ref_{s,c} − E^ref_clean), and its mean. */
  relativeCe: Record<string, number>;
  relativeMce: number;
}

/**
 * Corruption error (Hendrycks & Dietterich 2019, ImageNet-C): a model's top-1 errors summed over severities, divided
 * by the reference model's summed errors on the same corruption; mCE is the mean over corruptions. Relative mCE
 * subtracts each model's clean error first (the degradation, not the level). Ratios with a zero denominator are
 * NaN (the reference made no error on that corruption at any severity), and such corruptions are left out of the
 * means.
 */
export function corruptionErrors(model: CorruptionErrorTable, modelClean: number, reference: CorruptionErrorTable, referenceClean: number): CorruptionErrorSummary {
  const ce: Record<string, number> = {};
  const relativeCe: Record<string, number> = {};
  const names = Object.keys(reference);
  if (names.length === 0) throw new RangeError('no corruptions in the reference table');
  for (const name of names) {
    const m = model[name];
    const r = reference[name];
    if (!m) throw new RangeError(`corruption "${name}" missing from the model's table`);
    if (m.length !== r.length) throw new RangeError(`corruption "${name}": ${m.length} severities for the model, ${r.length} for the reference`);
    const sum = (values: readonly number[], offset: number) => values.reduce((s, v) => s + (v - offset), 0);
    const denominator = sum(r, 0);
    ce[name] = denominator > 0 ? sum(m, 0) / denominator : Number.NaN;
    const relativeDenominator = sum(r, referenceClean);
    relativeCe[name] = relativeDenominator !== 0 ? sum(m, modelClean) / relativeDenominator : Number.NaN;
  }
  const mean = (values: number[]) => {
    const finite = values.filter(Number.isFinite);
    return finite.length ? finite.reduce((s, v) => s + v, 0) / finite.length : Number.NaN;
  };
  return { ce, mce: mean(Object.values(ce)), relativeCe, relativeMce: mean(Object.values(relativeCe)) };
}
