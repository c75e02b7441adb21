import { pairwiseSum } from './pairwise-sum';
import { guardEnabled, type T3Hyperparameters } from './hyperparameters';

/** Logistic function, evaluated on the side that cannot overflow exp(). */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

type MapParameters = Pick<T3Hyperparameters, 'lambdaMin' | 'lambdaMax' | 'gamma'> & Partial<Pick<T3Hyperparameters, 'jsThreshold'>>;

/**
 * T3 per-image coefficient λ(x) = λ_min + (λ_max − λ_min)·σ(γ·(JS(x) − τ_JS)). τ_JS (jsThreshold) defaults to 0,
 * the paper's map; a fitted map moves the half-way point to where in-domain and shifted disagreement separate.
 */
export function t3Lambda(js: number, hp: MapParameters): number {
  return hp.lambdaMin + (hp.lambdaMax - hp.lambdaMin) * sigmoid(hp.gamma * (js - (hp.jsThreshold ?? 0)));
}

export interface GuardedLambda {
  lambdaFinal: number;
  /** True when the guard is enabled and min(H_pt, H_ft) < τ (the shift is 0 when both entropies are equal). */
  triggered: boolean;
}

/**
 * Extrapolation guard [project choice, docs/T3.md §2]: when one model is very confident, shift λ by δ toward it.
 * No clipping afterwards: λ' outside [0, 1] is the intended extrapolation. δ = 0 or τ <= 0 disables it.
 * The two entropies must be on the same temperature scale (see T3Hyperparameters.guardTemperature).
 */
export function applyExtrapolationGuard(
  lambda: number,
  entropyPt: number,
  entropyFt: number,
  hp: Pick<T3Hyperparameters, 'extTau' | 'extDelta'>,
): GuardedLambda {
  if (!guardEnabled(hp) || !(Math.min(entropyPt, entropyFt) < hp.extTau)) return { lambdaFinal: lambda, triggered: false };
  return { lambdaFinal: lambda + hp.extDelta * Math.sign(entropyPt - entropyFt), triggered: true };
}

/** T3B batch coefficient λ_B of the paper: the mean of the guarded per-image coefficients. */
function batchLambda(lambdaFinals: ArrayLike<number>): number {
  if (lambdaFinals.length === 0) return Number.NaN;
  return pairwiseSum(lambdaFinals) / lambdaFinals.length;
}

/**
 * λ_B under the bundle's aggregation (docs/T3.md §2): `mean-lambda` is the mean of λ'(x_i); `lambda-of-mean-js` is
 * the map at the batch's mean JS plus the batch's mean guard shift (so both readings agree when the guard is off
 * and the map is linear, and the guard means the same in both).
 */
export function aggregateBatchLambda(
  images: readonly { js: number; lambda: number; lambdaFinal: number }[],
  hp: Pick<T3Hyperparameters, 'lambdaMin' | 'lambdaMax' | 'gamma' | 'jsThreshold' | 'batchAggregation'>,
): number {
  if (images.length === 0) return Number.NaN;
  if (hp.batchAggregation === 'lambda-of-mean-js') {
    const meanJs = pairwiseSum(images.map((im) => im.js)) / images.length;
    const meanShift = pairwiseSum(images.map((im) => im.lambdaFinal - im.lambda)) / images.length;
    return t3Lambda(meanJs, hp) + meanShift;
  }
  return batchLambda(images.map((im) => im.lambdaFinal));
}
