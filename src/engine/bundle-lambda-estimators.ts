import { defaultLambdaEstimatorSettings, lambdaEstimatorSettingsProblem, type LambdaEstimatorSettings } from '../t3';

/**
 * Reads bundle.json's `t3.estimators` (docs/LAMBDA-ESTIMATORS.md): `sequential` and `seriesReuse`, each an object with
 * `enabled` and its settings; missing fields take the defaults (both estimators off). `fail(field, reason)` throws the
 * manifest's BundleError naming the key path, e.g. `t3.estimators.sequential.confidence`.
 */
export function parseLambdaEstimators(raw: unknown, fail: (field: string, reason: string) => never): LambdaEstimatorSettings {
  const root = 't3.estimators';
  const object = (value: unknown, field: string): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object');
    return value as Record<string, unknown>;
  };
  const settings = defaultLambdaEstimatorSettings();
  const section = object(raw, root);
  for (const key of Object.keys(section)) {
    if (key !== 'sequential' && key !== 'seriesReuse') fail(`${root}.${key}`, 'unknown estimator (expected sequential or seriesReuse)');
  }
  for (const name of ['sequential', 'seriesReuse'] as const) {
    if (section[name] === undefined) continue;
    const given = object(section[name], `${root}.${name}`);
    const target = settings[name] as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(given)) {
      if (!(key in target)) fail(`${root}.${name}.${key}`, 'unknown setting');
      if (key === 'enabled') {
        if (typeof value !== 'boolean') fail(`${root}.${name}.enabled`, `must be true or false, got ${JSON.stringify(value)}`);
      } else if (typeof value !== 'number' || !Number.isFinite(value)) {
        fail(`${root}.${name}.${key}`, `must be a finite number, got ${JSON.stringify(value)}`);
      }
      target[key] = value;
    }
  }
  const problem = lambdaEstimatorSettingsProblem(settings);
  if (problem) fail(`${root}.${problem.field}`, problem.reason);
  return settings;
}
