import { T3InputError } from './errors';
import { DEFAULT_T3_HYPERPARAMETERS, type T3Hyperparameters } from './hyperparameters';

/** How the two models are combined (docs/T3.md §4). */
export type PolicyName = 'generalist' | 'expert' | 'wise' | 'ensemble' | 'dawin' | 't3' | 't3b' | 't3b-grouped';

export const POLICY_NAMES: readonly PolicyName[] = Object.freeze([
  'generalist',
  'expert',
  'wise',
  'ensemble',
  'dawin',
  't3',
  't3b',
  // T3B with a λ per group of the batch (t3/batch-groups.ts): one merged pass per group, each image still once.
  't3b-grouped',
] as PolicyName[]);

/** The paper's method with batches: one merged pass per batch. */
const DEFAULT_POLICY_NAME: PolicyName = 't3b';

/** WiSE-FT's usual static interpolation weight. */
const DEFAULT_WISE_ALPHA = 0.5;

export interface PolicyConfig {
  name: PolicyName;
  /** λ of the `wise` policy (ignored by the others). */
  wiseAlpha: number;
  /** `dawin` policy: use DaWin's offset-adjusted coefficient instead of the plain entropy ratio. */
  dawinOffsetAdjusted: boolean;
  hyperparameters: T3Hyperparameters;
}

function isPolicyName(text: string): text is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(text);
}

/** Accepts a policy name in any letter case, with surrounding spaces; throws T3InputError naming the bad value. */
export function parsePolicyName(text: string): PolicyName {
  const name = String(text).trim().toLowerCase();
  if (isPolicyName(name)) return name;
  throw new T3InputError(`unknown policy "${String(text)}"; expected one of ${POLICY_NAMES.join(', ')}`);
}

/** A policy with WiSE α 0.5, plain DaWin and the default T3 hyperparameters (a fresh copy each call). */
export function defaultPolicyConfig(name: PolicyName = DEFAULT_POLICY_NAME): PolicyConfig {
  if (!isPolicyName(name)) parsePolicyName(name);
  return { name, wiseAlpha: DEFAULT_WISE_ALPHA, dawinOffsetAdjusted: false, hyperparameters: { ...DEFAULT_T3_HYPERPARAMETERS } };
}
