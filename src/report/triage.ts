import { ReportError } from './errors';
import type { ImageResult } from './types';

/** Triage priorities, least urgent first. The one list; config, gRPC and the plugin's views follow it. */
export const TRIAGE_PRIORITIES = Object.freeze(['routine', 'urgent', 'emergency'] as const);
export type TriagePriority = (typeof TRIAGE_PRIORITIES)[number];

/** When the probability of the label whose code value is `code` reaches `threshold`, the study gets `priority`. */
export interface TriageRule { code: string; threshold: number; priority: TriagePriority; }

export interface TriageConfig {
  rules: TriageRule[];
  /** Either bound (or both) flags the study for human review when the two models disagree this much. */
  disagreement: { jsThreshold?: number; lambdaDistanceThreshold?: number };
}

export interface TriageDecision {
  priority: TriagePriority;
  /** The rule that decided the priority (null: no rule fired, routine). */
  firedRule: TriageRule | null;
  needsHumanReview: boolean;
  reviewReason: string | null;
}

/** Higher number wins. */
export const PRIORITY_RANK: Readonly<Record<TriagePriority, number>> = Object.freeze(
  Object.fromEntries(TRIAGE_PRIORITIES.map((p, rank) => [p, rank])) as Record<TriagePriority, number>,
);

const PRIORITIES: readonly TriagePriority[] = TRIAGE_PRIORITIES;

function checkConfig(config: TriageConfig): void {
  config.rules.forEach((rule, i) => {
    if (typeof rule.code !== 'string' || rule.code.length === 0) {
      throw new ReportError(`rules[${i}].code`, 'must be a non-empty label code value');
    }
    if (!Number.isFinite(rule.threshold) || rule.threshold < 0 || rule.threshold > 1) {
      throw new ReportError(`rules[${i}].threshold`, `must be a probability in [0,1], got ${rule.threshold}`);
    }
    if (!PRIORITIES.includes(rule.priority)) {
      throw new ReportError(`rules[${i}].priority`, `must be one of ${PRIORITIES.join(', ')}, got ${String(rule.priority)}`);
    }
  });
  const { jsThreshold, lambdaDistanceThreshold } = config.disagreement;
  if (jsThreshold !== undefined && (!Number.isFinite(jsThreshold) || jsThreshold < 0)) {
    throw new ReportError('disagreement.jsThreshold', `must be a finite number ≥ 0, got ${jsThreshold}`);
  }
  if (lambdaDistanceThreshold !== undefined
      && (!Number.isFinite(lambdaDistanceThreshold) || lambdaDistanceThreshold < 0 || lambdaDistanceThreshold > 0.5)) {
    throw new ReportError('disagreement.lambdaDistanceThreshold', `must be in [0,0.5], got ${lambdaDistanceThreshold}`);
  }
}

/**
 * Priority: every rule whose label reaches its threshold on any image fires; the highest priority wins, and among
 * rules of that priority the one with the largest margin above its threshold is reported (ties: first in config).
 * Human review: max JS over images ≥ jsThreshold, or max |λ − 0.5| ≥ lambdaDistanceThreshold, over the images that
 * both models classified.
 */
export function decideTriage(images: ImageResult[], config: TriageConfig): TriageDecision {
  checkConfig(config);
  images.forEach((image, i) => {
    if (image.js !== null && (!Number.isFinite(image.js) || image.js < 0)) {
      throw new ReportError(`images[${i}].js`, `must be null or a finite number ≥ 0, got ${image.js}`);
    }
    if (!Number.isFinite(image.lambda)) throw new ReportError(`images[${i}].lambda`, `must be finite, got ${image.lambda}`);
  });
  let firedRule: TriageRule | null = null;
  let firedMargin = -Infinity;
  for (const rule of config.rules) {
    let best = -Infinity;
    for (const image of images) {
      for (const finding of image.predictions) {
        if (finding.code.value === rule.code && finding.probability > best) best = finding.probability;
      }
    }
    if (best < rule.threshold) continue;
    const margin = best - rule.threshold;
    const better = firedRule === null
      || PRIORITY_RANK[rule.priority] > PRIORITY_RANK[firedRule.priority]
      || (PRIORITY_RANK[rule.priority] === PRIORITY_RANK[firedRule.priority] && margin > firedMargin);
    if (better) { firedRule = rule; firedMargin = margin; }
  }

  const reasons: string[] = [];
  // Disagreement needs both models' outputs: images classified by one model (js null) have none to measure, and
  // their λ is the policy's constant, not a sign of disagreement.
  const compared = images.filter((image): image is ImageResult & { js: number } => image.js !== null);
  if (compared.length > 0) {
    const { jsThreshold, lambdaDistanceThreshold } = config.disagreement;
    const maxJs = Math.max(...compared.map((image) => image.js));
    const maxLambdaDistance = Math.max(...compared.map((image) => Math.abs(image.lambda - 0.5)));
    if (jsThreshold !== undefined && maxJs >= jsThreshold) {
      reasons.push(`max JS divergence ${maxJs.toFixed(4)} >= ${jsThreshold}`);
    }
    if (lambdaDistanceThreshold !== undefined && maxLambdaDistance >= lambdaDistanceThreshold) {
      reasons.push(`max |lambda - 0.5| ${maxLambdaDistance.toFixed(4)} >= ${lambdaDistanceThreshold}`);
    }
  }
  return {
    priority: firedRule ? firedRule.priority : 'routine',
    firedRule,
    needsHumanReview: reasons.length > 0,
    reviewReason: reasons.length > 0 ? reasons.join('; ') : null,
  };
}
