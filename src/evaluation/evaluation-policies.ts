import { defaultLambdaEstimatorSettings, defaultPolicyConfig, type LambdaEstimatorSettings, type PolicyConfig, type PolicyName, type T3Hyperparameters } from '../t3';

/** One row of the evaluation table: a policy with its parameters and the batch size it runs at. */
export interface EvaluatedPolicy {
  /** Stable id used in JSON and plots, e.g. "wise-0.5", "t3b-32". */
  id: string;
  /** Human-readable name for tables, e.g. "WiSE-FT α=0.5", "T3B (batch 32)". */
  label: string;
  config: PolicyConfig;
  /** Images per engine call. Only T3B's results depend on it (λ_B is shared by the batch); the other policies
   *  treat every image on its own and run at the default batch size. */
  batchSize: number;
  /** T3B with λ_B from this many images of each batch (batching.coefficientSample); absent: every image. */
  coefficientSample?: number;
  /**
   * T3B with λ_B from the bundle's estimators (docs/LAMBDA-ESTIMATORS.md): the settings with the estimators this policy
   * runs turned on (sequential sampling, series reuse, or both); absent: full T3B.
   */
  lambdaEstimators?: LambdaEstimatorSettings;
  /** Which estimator variant lambdaEstimators is (T3B_ESTIMATORS). */
  lambdaEstimator?: T3bEstimatorName;
}

/**
 * The λ_B estimators the evaluation can put beside full T3B, and the policy id each gets (`t3b-<name>-<B>`).
 * `grouped-sequential` runs grouped T3B (policy t3b-grouped) with each series group's λ by sequential sampling, and
 * `grouped-series-sequential` with series reuse per group as well; under a map whose groupBy is js-step both are
 * grouped T3B exactly (the engine ignores the estimation there).
 */
export const T3B_ESTIMATORS = ['sequential', 'series', 'series-sequential', 'grouped-sequential', 'grouped-series-sequential'] as const;
export type T3bEstimatorName = (typeof T3B_ESTIMATORS)[number];

export interface PolicySetOptions {
  wiseAlphas: readonly number[];
  t3bBatchSizes: readonly number[];
  /** Batch size for policies whose results do not depend on it. */
  defaultBatchSize: number;
  hyperparameters: T3Hyperparameters;
  /** T3B "sampled k" variants, at the largest of t3bBatchSizes: λ_B from k images per batch (ids t3b-<B>-sample-<k>). */
  t3bCoefficientSamples?: readonly number[];
  /** T3B estimator variants at every size of t3bBatchSizes (ids t3b-<estimator>-<B>), with these settings (default: the defaults). */
  t3bEstimators?: readonly T3bEstimatorName[];
  estimatorSettings?: LambdaEstimatorSettings;
}

/** The estimator settings with exactly the estimators of `name` turned on. */
export function estimatorSettingsFor(name: T3bEstimatorName, base: LambdaEstimatorSettings = defaultLambdaEstimatorSettings()): LambdaEstimatorSettings {
  // Each name says which it runs: "series" for series reuse, "sequential" for sequential sampling.
  return {
    sequential: { ...base.sequential, enabled: name.endsWith('sequential') },
    seriesReuse: { ...base.seriesReuse, enabled: name === 'series' || name.endsWith('series-sequential') },
  };
}

const ESTIMATOR_LABELS: Record<T3bEstimatorName, string> = {
  sequential: 'λ_B by sequential sampling',
  series: 'λ_B reused within a series',
  'series-sequential': 'series reuse, else sequential sampling',
  'grouped-sequential': 'each series group\'s λ by sequential sampling',
  'grouped-series-sequential': 'each series group\'s λ reused within its series, else by sequential sampling',
};

/** The policy an estimator variant runs: grouped T3B for grouped-sequential, T3B for the others. */
export function estimatorPolicyName(name: T3bEstimatorName): 't3b' | 't3b-grouped' {
  return name === 'grouped-sequential' || name === 'grouped-series-sequential' ? 't3b-grouped' : 't3b';
}

export const DEFAULT_WISE_ALPHAS = [0.25, 0.5, 0.75] as const;
export const DEFAULT_T3B_BATCH_SIZES = [1, 8, 32, 128] as const;

function config(name: PolicyName, hp: T3Hyperparameters, wiseAlpha?: number): PolicyConfig {
  const c = defaultPolicyConfig(name);
  c.hyperparameters = { ...hp };
  if (wiseAlpha !== undefined) c.wiseAlpha = wiseAlpha;
  return c;
}

/** Every policy of docs/T3.md §4: generalist, expert, the WiSE-FT α sweep, ensemble, DaWin, T3, and T3B per batch size. */
export function evaluationPolicies(options: PolicySetOptions): EvaluatedPolicy[] {
  const hp = options.hyperparameters;
  const b = options.defaultBatchSize;
  return [
    { id: 'generalist', label: 'generalist (λ=0)', config: config('generalist', hp), batchSize: b },
    { id: 'expert', label: 'expert (λ=1)', config: config('expert', hp), batchSize: b },
    ...options.wiseAlphas.map((a) => ({ id: `wise-${a}`, label: `WiSE-FT α=${a}`, config: config('wise', hp, a), batchSize: b })),
    { id: 'ensemble', label: 'output ensemble', config: config('ensemble', hp), batchSize: b },
    { id: 'dawin', label: 'DaWin (per image)', config: config('dawin', hp), batchSize: b },
    { id: 't3', label: 'T3 (per image)', config: config('t3', hp), batchSize: b },
    ...options.t3bBatchSizes.map((size) => ({ id: `t3b-${size}`, label: `T3B (batch ${size})`, config: config('t3b', hp), batchSize: size })),
    // Grouped T3B at the same batch sizes as T3B: its groups, and so its results, depend on the batch.
    ...options.t3bBatchSizes.map((size) => ({ id: `t3b-grouped-${size}`, label: `grouped T3B (batch ${size})`, config: config('t3b-grouped', hp), batchSize: size })),
    ...(options.t3bEstimators ?? []).flatMap((name) => options.t3bBatchSizes.map((size) => ({
      id: `t3b-${name}-${size}`, label: `${estimatorPolicyName(name) === 't3b-grouped' ? 'grouped T3B' : 'T3B'} (batch ${size}, ${ESTIMATOR_LABELS[name]})`,
      config: config(estimatorPolicyName(name), hp), batchSize: size,
      lambdaEstimators: estimatorSettingsFor(name, options.estimatorSettings), lambdaEstimator: name,
    }))),
    ...(options.t3bCoefficientSamples ?? []).map((k) => {
      const size = Math.max(...options.t3bBatchSizes);
      return { id: `t3b-${size}-sample-${k}`, label: `T3B (batch ${size}, λ_B from ${k})`, config: config('t3b', hp), batchSize: size, coefficientSample: k };
    }),
  ];
}
