import { pairwiseSum } from './pairwise-sum';
import type { T3Hyperparameters } from './hyperparameters';

/** Logistic function, evaluated on the side that cannot overflow exp(). */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** T3 per-image coefficient λ(x) = λ_min + (λ_max − λ_min)·σ(γ·JS(x)). */
export function t3Lambda(js: number, hp: Pick<T3Hyperparameters, 'lambdaMin' | 'lambdaMax' | 'gamma'>): number {
  return hp.lambdaMin + (hp.lambdaMax - hp.lambdaMin) * sigmoid(hp.gamma * js);
}

export interface GuardedLambda {
  lambdaFinal: number;
  /** True when the guard is enabled and min(H_pt, H_ft) < τ (the shift is 0 when both entropies are equal). */
  triggered: boolean;
}

/**
 * Extrapolation guard [project choice, docs/T3.md §2]: when one model is very confident, shift λ by δ toward it.
 * No clipping afterwards: λ' outside [0, 1] is the intended extrapolation. δ = 0 or τ <= 0 disables it.
 */
export function applyExtrapolationGuard(
  lambda: number,
  entropyPt: number,
  entropyFt: number,
  hp: Pick<T3Hyperparameters, 'extTau' | 'extDelta'>,
): GuardedLambda {
  const enabled = hp.extDelta !== 0 && hp.extTau > 0;
  if (!enabled || !(Math.min(entropyPt, entropyFt) < hp.extTau)) return { lambdaFinal: lambda, triggered: false };
  return { lambdaFinal: lambda + hp.extDelta * Math.sign(entropyPt - entropyFt), triggered: true };
}

/** T3B batch coefficient λ_B: the mean of the guarded per-image coefficients. */
export function batchLambda(lambdaFinals: ArrayLike<number>): number {
  if (lambdaFinals.length === 0) return Number.NaN;
  return pairwiseSum(lambdaFinals) / lambdaFinals.length;
}
