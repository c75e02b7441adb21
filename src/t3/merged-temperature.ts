import { validateTemperature } from './hyperparameters';

/**
 * Temperature of the merged model θ(λ)'s softmax [project choice, docs/T3.md §2 "output distribution alignment"]:
 * T(λ) = T_pt^(1−λ) · T_ft^λ, the temperatures interpolated along with the weights, on a log scale. It is each
 * model's own fitted temperature at λ = 0 and λ = 1, and it stays positive for any λ, so extrapolated merges
 * (λ < 0 or λ > 1) still get a valid softmax. Predictions (the argmax) do not depend on it; probabilities do.
 */
export function mergedTemperature(lambda: number, tPt: number, tFt: number): number {
  validateTemperature(tPt, 'temperature tPt');
  validateTemperature(tFt, 'temperature tFt');
  if (!Number.isFinite(lambda)) return Number.NaN;
  if (lambda === 0) return tPt;
  if (lambda === 1) return tFt;
  return Math.exp((1 - lambda) * Math.log(tPt) + lambda * Math.log(tFt));
}
