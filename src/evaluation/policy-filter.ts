import { POLICY_NAMES } from '../t3';
import type { EvaluatedPolicy } from './evaluation-policies';
import { EvaluationInputError } from './evaluation-input-error';

/**
 * The rows of an evaluation that a user asked for (eval --policies). Each entry is a policy name, which keeps every
 * row of that policy ("wise" keeps the whole α sweep, "t3b" every batch size), or one row's id ("wise-0.5",
 * "t3b-32"), so scoring one map or one batch size does not cost a full run. The rows keep the evaluation's order.
 * An entry that matches no row is refused, naming it: a typo must not silently shrink the report.
 */
export function selectPolicies(policies: readonly EvaluatedPolicy[], entries: readonly string[]): EvaluatedPolicy[] {
  if (entries.length === 0) throw new EvaluationInputError('the policy list is empty: name at least one policy');
  const keep = new Set<EvaluatedPolicy>();
  for (const entry of entries) {
    const matches = policies.filter((p) => p.config.name === entry || p.id === entry);
    if (matches.length === 0) {
      const known = (POLICY_NAMES as readonly string[]).includes(entry);
      throw new EvaluationInputError(known
        ? `policy "${entry}" has no row in this run (its options leave it out); rows: ${policies.map((p) => p.id).join(', ')}`
        : `unknown policy "${entry}"; expected policy names (${POLICY_NAMES.join(', ')}) or row ids of this run (${policies.map((p) => p.id).join(', ')})`);
    }
    for (const m of matches) keep.add(m);
  }
  return policies.filter((p) => keep.has(p));
}
