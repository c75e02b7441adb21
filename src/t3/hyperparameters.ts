import { T3InputError } from './errors';

/** Hyperparameters of the T3 coefficient (docs/T3.md §2). */
export interface T3Hyperparameters {
  /** Temperatures: probabilities are softmax(z_pt / tPt) and softmax(z_ft / tFt). */
  tPt: number;
  tFt: number;
  /** λ = lambdaMin + (lambdaMax − lambdaMin)·σ(γ·JS); lambdaMin > lambdaMax reverses the direction. */
  lambdaMin: number;
  lambdaMax: number;
  gamma: number;
  /** Base of the logarithm of the JS divergence; null = natural log (nats). Entropies are always in nats. */
  logBase: number | null;
  /** 0 = exact log-space JS; > 0 = smoothed JS Σ a·(ln(a+eps) − ln(M+eps)) (a reproduction aid, not the default). */
  eps: number;
  /** Extrapolation guard: when min(H_pt, H_ft) < extTau, λ' = λ + extDelta·sign(H_pt − H_ft). */
  extTau: number;
  extDelta: number;
}

export const DEFAULT_T3_HYPERPARAMETERS: T3Hyperparameters = Object.freeze({
  tPt: 1,
  tFt: 1,
  lambdaMin: 0,
  lambdaMax: 1,
  gamma: 0.5,
  logBase: null,
  eps: 0,
  extTau: 0.1,
  extDelta: 0.1,
});

/** Throws T3InputError when a temperature is not positive, a value is not finite, or logBase cannot be a log base. */
export function validateTemperature(temperature: number, what: string): void {
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
    throw new T3InputError(`${what} must be a positive finite number, got ${String(temperature)}`);
  }
}

/** Checks every field, so a bad configuration fails once at load time rather than as NaN coefficients later. */
export function validateHyperparameters(hp: T3Hyperparameters): void {
  validateTemperature(hp.tPt, 'temperature tPt');
  validateTemperature(hp.tFt, 'temperature tFt');
  for (const key of ['lambdaMin', 'lambdaMax', 'gamma', 'extTau', 'extDelta'] as const) {
    const v = hp[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new T3InputError(`hyperparameter ${key} must be a finite number, got ${String(v)}`);
    }
  }
  if (typeof hp.eps !== 'number' || !Number.isFinite(hp.eps) || hp.eps < 0) {
    throw new T3InputError(`hyperparameter eps must be a finite number >= 0, got ${String(hp.eps)}`);
  }
  if (hp.logBase !== null) {
    if (typeof hp.logBase !== 'number' || !Number.isFinite(hp.logBase) || hp.logBase <= 0 || hp.logBase === 1) {
      throw new T3InputError(`hyperparameter logBase must be null (nats) or a finite number > 0 other than 1, got ${String(hp.logBase)}`);
    }
  }
}

/** Fills missing fields with the defaults and validates the result. */
export function resolveHyperparameters(partial: Partial<T3Hyperparameters> = {}): T3Hyperparameters {
  const hp: T3Hyperparameters = { ...DEFAULT_T3_HYPERPARAMETERS };
  for (const key of Object.keys(DEFAULT_T3_HYPERPARAMETERS) as (keyof T3Hyperparameters)[]) {
    const v = partial[key];
    if (v !== undefined) (hp as unknown as Record<string, unknown>)[key] = v;
  }
  validateHyperparameters(hp);
  return hp;
}
