import { defaultPolicyConfig, type PolicyConfig, type PolicyName } from '../t3';
import type { ModelBundle } from './bundle';

export interface PolicyChoiceOptions {
  /** λ of the `wise` policy; the t3/ default (0.5) when absent. */
  wiseAlpha?: number;
  /** `dawin`: DaWin's offset-adjusted coefficient instead of the plain entropy ratio. */
  dawinOffsetAdjusted?: boolean;
}

/**
 * The policy a bundle's models run under: the chosen policy with the bundle's own T3 hyperparameters (its coefficient
 * map, guard and aggregation belong to its models; the engine puts the bundle's fitted temperatures on top). Every
 * caller (serve, gRPC, classify, eval) builds its policy here, so a bundle means the same thing everywhere.
 */
export function policyForBundle(bundle: Pick<ModelBundle, 'manifest'>, name: PolicyName, options: PolicyChoiceOptions = {}): PolicyConfig {
  const policy = defaultPolicyConfig(name);
  if (options.wiseAlpha !== undefined) policy.wiseAlpha = options.wiseAlpha;
  if (options.dawinOffsetAdjusted !== undefined) policy.dawinOffsetAdjusted = options.dawinOffsetAdjusted;
  policy.hyperparameters = { ...policy.hyperparameters, ...bundle.manifest.t3 };
  return policy;
}
