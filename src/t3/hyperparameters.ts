import { T3InputError } from './errors';

/**
 * How T3B turns a batch's per-image values into its one coefficient λ_B (docs/T3.md §2):
 * - `mean-lambda`: λ_B = mean_i λ'(x_i), the paper's;
 * - `lambda-of-mean-js`: λ_B = λ(mean_i JS(x_i)) plus the mean guard shift, the map applied to the batch's mean JS
 *   (the golden file's `batch_lambda_alt_of_mean_js` when the guard is off).
 */
export type BatchAggregation = 'mean-lambda' | 'lambda-of-mean-js';
export const BATCH_AGGREGATIONS: readonly BatchAggregation[] = Object.freeze(['mean-lambda', 'lambda-of-mean-js'] as BatchAggregation[]);

/**
 * What grouped T3B (t3/batch-groups.ts) splits a batch by:
 * - `js-step`: the side of the map's step each image's JS falls on;
 * - `series`: the image's source series (its SeriesInstanceUID in a PACS: one scanner, one protocol), which the
 *   caller passes with the batch; the engine cannot infer it from pixels.
 */
export type GroupBy = 'js-step' | 'series';
export const GROUP_BY_MODES: readonly GroupBy[] = Object.freeze(['js-step', 'series'] as GroupBy[]);

/** Hyperparameters of the T3 coefficient (docs/T3.md §2). */
export interface T3Hyperparameters {
  /** Temperatures: probabilities are softmax(z_pt / tPt) and softmax(z_ft / tFt). */
  tPt: number;
  tFt: number;
  /**
   * λ = lambdaMin + (lambdaMax − lambdaMin)·σ(γ·(JS − jsThreshold)), λ the expert's weight. The paper's direction
   * (disagreement defers to the generalist) is lambdaMin > lambdaMax; lambdaMin < lambdaMax reverses it. Any reals:
   * values outside [0, 1] extrapolate beyond the two models.
   */
  lambdaMin: number;
  lambdaMax: number;
  gamma: number;
  /** τ_JS of σ(γ·(JS − τ_JS)): the JS at which λ is half-way between the endpoints. 0 is the paper's map. */
  jsThreshold: number;
  /** Base of the logarithm of the JS divergence; null = natural log (nats). Entropies are always in nats. */
  logBase: number | null;
  /** 0 = exact log-space JS; > 0 = smoothed JS Σ a·(ln(a+eps) − ln(M+eps)) (a reproduction aid, not the default). */
  eps: number;
  /** Extrapolation guard: when min(H_pt, H_ft) < extTau, λ' = λ + extDelta·sign(H_pt − H_ft). Off when extDelta = 0. */
  extTau: number;
  extDelta: number;
  /**
   * Temperature at which the guard compares the two entropies: a number T compares H(softmax(z_pt/T)) with
   * H(softmax(z_ft/T)); null uses each model's own temperature (tPt, tFt), the golden file's convention, which is
   * a like-for-like comparison only when tPt = tFt. Bundles that turn the guard on must give a number.
   */
  guardTemperature: number | null;
  batchAggregation: BatchAggregation;
  /**
   * Grouped T3B (policy t3b-grouped, t3/batch-groups.ts): the fewest images a group of a batch may hold, and the most
   * groups a batch may split into. maxGroups = 1 (the default) makes t3b-grouped exactly t3b, so a bundle written
   * before these fields existed behaves as it did.
   */
  minGroupSize: number;
  maxGroups: number;
  /** What grouped T3B splits by (GroupBy); `js-step` by default, as bundles written before this field behaved. */
  groupBy: GroupBy;
}

/**
 * The paper's map in this project's convention (λ = the expert's weight): λ = 1 − σ(0.5·JS), so rising disagreement
 * moves the merge toward the generalist. The guard is off: it is a project addition that only a fit turns on.
 */
export const DEFAULT_T3_HYPERPARAMETERS: T3Hyperparameters = Object.freeze({
  tPt: 1,
  tFt: 1,
  lambdaMin: 1,
  lambdaMax: 0,
  gamma: 0.5,
  jsThreshold: 0,
  logBase: null,
  eps: 0,
  extTau: 0.1,
  extDelta: 0,
  guardTemperature: null,
  batchAggregation: 'mean-lambda',
  minGroupSize: 8,
  maxGroups: 1,
  groupBy: 'js-step',
});

/** True when the extrapolation guard can move λ (docs/T3.md §2: δ = 0 or τ <= 0 disables it). */
export function guardEnabled(hp: Pick<T3Hyperparameters, 'extTau' | 'extDelta'>): boolean {
  return hp.extDelta !== 0 && hp.extTau > 0;
}

/** Throws T3InputError when a temperature is not positive, a value is not finite, or logBase cannot be a log base. */
export function validateTemperature(temperature: number, what: string): void {
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
    throw new T3InputError(`${what} must be a positive finite number, got ${String(temperature)}`);
  }
}

function isBatchAggregation(value: unknown): value is BatchAggregation {
  return typeof value === 'string' && (BATCH_AGGREGATIONS as readonly string[]).includes(value);
}

export function isGroupBy(value: unknown): value is GroupBy {
  return typeof value === 'string' && (GROUP_BY_MODES as readonly string[]).includes(value);
}

/** Checks every field, so a bad configuration fails once at load time rather than as NaN coefficients later. */
export function validateHyperparameters(hp: T3Hyperparameters): void {
  validateTemperature(hp.tPt, 'temperature tPt');
  validateTemperature(hp.tFt, 'temperature tFt');
  for (const key of ['lambdaMin', 'lambdaMax', 'gamma', 'jsThreshold', 'extTau', 'extDelta'] as const) {
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
  const tg = hp.guardTemperature;
  if (tg !== null && (typeof tg !== 'number' || !Number.isFinite(tg) || tg <= 0)) {
    throw new T3InputError(`hyperparameter guardTemperature must be null (each model's own temperature) or a positive finite number, got ${String(tg)}`);
  }
  for (const key of ['minGroupSize', 'maxGroups'] as const) {
    const v = hp[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new T3InputError(`hyperparameter ${key} must be an integer >= 1, got ${String(v)}`);
    }
  }
  if (!isGroupBy(hp.groupBy)) {
    throw new T3InputError(`hyperparameter groupBy must be one of ${GROUP_BY_MODES.join(', ')}, got ${JSON.stringify(hp.groupBy)}`);
  }
  if (!isBatchAggregation(hp.batchAggregation)) {
    throw new T3InputError(`hyperparameter batchAggregation must be one of ${BATCH_AGGREGATIONS.join(', ')}, got ${JSON.stringify(hp.batchAggregation)}`);
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
