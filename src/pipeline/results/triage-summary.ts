import type { ImageResult, TriageDecision } from '../../report';

/**
 * The short texts a radiologist reads in the PACS (study metadata, the worklist, the Explorer badge): the review flag
 * with its reason, and the most probable findings. Derived from the same images and decision the SR records.
 */
export interface TriageSummary {
  /** "no", or "yes: <reason>". */
  review: string;
  /** "<label> <probability>%" of the most probable finding over the study's images; null when none. */
  topFinding: string | null;
  /** The three most probable distinct findings, "; "-separated; null when none. */
  findings: string | null;
  /** Why the priority ("Pneumothorax 99 % (rule: ≥ 50 % → emergency)"), as decideTriage worded it; null: no rule fired. */
  priorityReason: string | null;
}

/** Probability as a radiologist reads it: one decimal, in percent. */
export function formatProbability(probability: number): string {
  return `${(probability * 100).toFixed(1)}%`;
}

export function summarizeTriage(images: readonly Pick<ImageResult, 'predictions'>[], triage: TriageDecision, count = 3): TriageSummary {
  // Each label once, at its highest probability on any image: a finding seen on one image of many still counts.
  const best = new Map<string, number>();
  for (const image of images) {
    for (const finding of image.predictions) best.set(finding.label, Math.max(best.get(finding.label) ?? 0, finding.probability));
  }
  const ranked = [...best.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([label, p]) => `${label} ${formatProbability(p)}`);
  return {
    review: triage.needsHumanReview ? `yes: ${triage.reviewReason ?? 'the two models disagree'}` : 'no',
    topFinding: ranked[0] ?? null,
    findings: ranked.length > 0 ? ranked.join('; ') : null,
    priorityReason: triage.priorityReason ?? null,
  };
}
