import { T3InputError } from './errors';
import { DEFAULT_SEQUENTIAL_SETTINGS, sequentialSettingsProblem, type SequentialSettings } from './sequential-estimate';

/**
 * Series reuse (docs/LAMBDA-ESTIMATORS.md): a later batch of a series already estimated keeps the series' λ_B while
 * the λ of `checkImages` of its images (the map at their mean statistic) stays within `lambdaTolerance` of it.
 */
export interface SeriesReuseSettings {
  /** Images of each later batch whose fixed passes run as the check (1 or 2 in the wording). */
  checkImages: number;
  /** Largest distance, in λ, between the check's λ and the series' λ_B for the latter to be reused. */
  lambdaTolerance: number;
  /** Series remembered at once (least recently estimated dropped first). */
  maxSeries: number;
  /** Seconds after its estimate that a series' λ_B is no longer reused (the next batch re-estimates it). */
  maxAgeSeconds: number;
}

export const DEFAULT_SERIES_REUSE_SETTINGS: Readonly<SeriesReuseSettings> = Object.freeze({
  checkImages: 2,
  lambdaTolerance: 0.1,
  maxSeries: 256,
  maxAgeSeconds: 600,
});

/** The bundle's `t3.estimators` section: which λ_B estimators a site turns on (both off by default: full T3B). */
export interface LambdaEstimatorSettings {
  sequential: SequentialSettings & { enabled: boolean };
  seriesReuse: SeriesReuseSettings & { enabled: boolean };
}

export function defaultLambdaEstimatorSettings(): LambdaEstimatorSettings {
  return { sequential: { enabled: false, ...DEFAULT_SEQUENTIAL_SETTINGS }, seriesReuse: { enabled: false, ...DEFAULT_SERIES_REUSE_SETTINGS } };
}

/** The first bad field of series-reuse settings (its key and why), or null when they are valid. */
export function seriesReuseSettingsProblem(s: SeriesReuseSettings): { key: keyof SeriesReuseSettings; reason: string } | null {
  for (const key of ['checkImages', 'maxSeries'] as const) {
    const v = s[key];
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1)) return { key, reason: `must be an integer >= 1, got ${String(v)}` };
  }
  if (!(typeof s.lambdaTolerance === 'number' && Number.isFinite(s.lambdaTolerance) && s.lambdaTolerance > 0)) {
    return { key: 'lambdaTolerance', reason: `must be a positive finite number, got ${String(s.lambdaTolerance)}` };
  }
  if (!(typeof s.maxAgeSeconds === 'number' && Number.isFinite(s.maxAgeSeconds) && s.maxAgeSeconds > 0)) {
    return { key: 'maxAgeSeconds', reason: `must be a positive finite number, got ${String(s.maxAgeSeconds)}` };
  }
  return null;
}

/** The first bad field of both estimators' settings, as `<estimator>.<key>` and why, or null when they are valid. */
export function lambdaEstimatorSettingsProblem(s: LambdaEstimatorSettings): { field: string; reason: string } | null {
  const sequential = sequentialSettingsProblem(s.sequential);
  if (sequential) return { field: `sequential.${sequential.key}`, reason: sequential.reason };
  const series = seriesReuseSettingsProblem(s.seriesReuse);
  if (series) return { field: `seriesReuse.${series.key}`, reason: series.reason };
  return null;
}

/** Throws T3InputError naming the bad field under `what` (e.g. "t3.estimators"). */
export function validateLambdaEstimatorSettings(s: LambdaEstimatorSettings, what = 'estimators'): void {
  const problem = lambdaEstimatorSettingsProblem(s);
  if (problem) throw new T3InputError(`${what}.${problem.field} ${problem.reason}`);
}
