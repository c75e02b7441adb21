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
  /**
   * Why the study has its priority, in a radiologist's words ("Pneumothorax 99 % (rule: ≥ 50 % → emergency)"); null
   * when no rule fired. Optional so that decisions recorded before it existed still type-check.
   */
  priorityReason?: string | null;
}

/**
 * A probability as the reasons write it: whole percent, with one decimal where rounding would mislead (below 10 %, and
 * from 99.5 % up to but not including 100 %, so 0.996 never reads "100 %").
 */
export function formatPercent(probability: number): string {
  const value = probability * 100;
  const text = value >= 10 && value < 99.5 ? String(Math.round(value)) : String(Number(value.toFixed(1)));
  return `${text} %`;
}

/** The priority reason: the finding that fired the rule, at its highest probability, and the rule itself. */
export function describeFiredRule(label: string, probability: number, rule: TriageRule): string {
  return `${label} ${formatPercent(probability)} (rule: ≥ ${formatPercent(rule.threshold)} → ${rule.priority})`;
}

/** A divergence or its limit with two decimals, or as many as the limit needs (a limit of 0.005 is not "0.01"). */
function formatMeasure(value: number, limit: number): string {
  let digits = 2;
  while (digits < 4 && Number(limit.toFixed(digits)) !== limit) digits++;
  return value.toFixed(digits);
}

/**
 * The review reason as the worklist, the report page, the Explorer badge and the SR's Comment all show it: one
 * sentence that says what the numbers mean before giving them.
 */
export function describeDisagreement(js: { value: number; limit: number } | null, lambda: { value: number; limit: number } | null): string | null {
  const parts: string[] = [];
  if (js) parts.push(`the two models disagree on this study (divergence ${formatMeasure(js.value, js.limit)}, limit ${formatMeasure(js.limit, js.limit)})`);
  if (lambda) {
    parts.push(`${js ? 'and the' : 'the'} merged model leans far towards one of them (|λ − 0.5| ${formatMeasure(lambda.value, lambda.limit)}, `
      + `limit ${formatMeasure(lambda.limit, lambda.limit)})`);
  }
  return parts.length ? `${parts.join(' ')}: read with care` : null;
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
  let firedFinding: { label: string; probability: number } | null = null;
  for (const rule of config.rules) {
    let best = -Infinity;
    let bestLabel = rule.code;
    for (const image of images) {
      for (const finding of image.predictions) {
        if (finding.code.value === rule.code && finding.probability > best) { best = finding.probability; bestLabel = finding.label; }
      }
    }
    if (best < rule.threshold) continue;
    const margin = best - rule.threshold;
    const better = firedRule === null
      || PRIORITY_RANK[rule.priority] > PRIORITY_RANK[firedRule.priority]
      || (PRIORITY_RANK[rule.priority] === PRIORITY_RANK[firedRule.priority] && margin > firedMargin);
    if (better) { firedRule = rule; firedMargin = margin; firedFinding = { label: bestLabel, probability: best }; }
  }

  let jsReason: { value: number; limit: number } | null = null;
  let lambdaReason: { value: number; limit: number } | null = null;
  // Disagreement needs both models' outputs: images classified by one model (js null) have none to measure, and
  // their λ is the policy's constant, not a sign of disagreement.
  const compared = images.filter((image): image is ImageResult & { js: number } => image.js !== null);
  if (compared.length > 0) {
    const { jsThreshold, lambdaDistanceThreshold } = config.disagreement;
    const maxJs = Math.max(...compared.map((image) => image.js));
    const maxLambdaDistance = Math.max(...compared.map((image) => Math.abs(image.lambda - 0.5)));
    if (jsThreshold !== undefined && maxJs >= jsThreshold) jsReason = { value: maxJs, limit: jsThreshold };
    if (lambdaDistanceThreshold !== undefined && maxLambdaDistance >= lambdaDistanceThreshold) {
      lambdaReason = { value: maxLambdaDistance, limit: lambdaDistanceThreshold };
    }
  }
  const reviewReason = describeDisagreement(jsReason, lambdaReason);
  return {
    priority: firedRule ? firedRule.priority : 'routine',
    firedRule,
    needsHumanReview: reviewReason !== null,
    reviewReason,
    priorityReason: firedRule && firedFinding ? describeFiredRule(firedFinding.label, firedFinding.probability, firedRule) : null,
  };
}
