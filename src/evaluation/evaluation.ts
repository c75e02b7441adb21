import { CORRUPTION_PARAMETERS, type CorruptionName } from './corruptions';
import type { EvaluatedPolicy } from './evaluation-policies';
import { scorePolicyOnSplit, type InferenceRunner, type SplitScore } from './evaluation-runner';
import type { LabelledSplit } from './labelled-dataset';
import { corruptionErrors } from './metrics';
import type { ModelInputShape } from './model-input';
import { prepareSplit } from './prepare-split';
import { hashSeed, uniformGenerator } from './random';

/** Name of the split that shuffles every clean split into one stream. */
export const MIXED_SPLIT = 'mixed';

export interface EvaluationOptions {
  runner: InferenceRunner;
  spec: ModelInputShape;
  policies: readonly EvaluatedPolicy[];
  /** Clean splits, evaluated as they are (in-domain, shifted, ...). */
  splits: readonly LabelledSplit[];
  /** The clean split whose images are corrupted (ImageNet-C corrupts the in-domain test set), with an optional
   *  cap on its images per corrupted split; null for no corrupted splits. */
  corruptionBase: { split: LabelledSplit; limit?: number } | null;
  corruptions: readonly CorruptionName[];
  severities: readonly number[];
  /** Also evaluate `mixed`: all clean splits' images shuffled into one stream (needs two or more clean splits). */
  mixedSplit?: boolean;
  /** Policy id whose errors normalise the corruption errors (ImageNet-C's AlexNet; here the generalist). */
  referencePolicyId: string;
  progress?: (line: string) => void;
}

export interface SplitInfo {
  name: string;
  kind: 'clean' | 'corrupted';
  corruption?: string;
  severity?: number;
  images: number;
}

export interface PolicySummary {
  /** Top-1 accuracy per clean split. */
  clean: Record<string, number>;
  /** Mean top-1 accuracy over every corrupted split (all corruptions and severities). */
  corruptedAccuracy: number | null;
  /** Corruption error per corruption, mCE and relative mCE against the reference policy (null without corruptions). */
  ce: Record<string, number> | null;
  mce: number | null;
  relativeMce: number | null;
  /** Fraction of all evaluated (split, image) pairs, clean and corrupted, where this policy predicts the same
   *  class as T3 (images of the mixed split count again there). */
  agreementWithT3: number | null;
}

export interface LambdaPoint {
  corruption: string;
  /** 0 for the clean base split. */
  severity: number;
  split: string;
  /** Mean per-image T3 λ'(x). */
  t3Lambda: number | null;
  /** Mean JS divergence between the generalist's and the expert's outputs. */
  js: number | null;
  /** T3B batch λ_B per batch size: mean, smallest and largest over the split's batches. */
  t3bLambda: Record<string, { mean: number; min: number; max: number } | null>;
}

export interface EvaluationResult {
  splits: SplitInfo[];
  policies: { id: string; label: string; policy: string; batchSize: number; wiseAlpha?: number; coefficientSample?: number }[];
  referencePolicy: string;
  corruptionBase: string | null;
  corruptions: { name: string; parameters: readonly number[] }[];
  severities: number[];
  /** scores[policyId][splitName] */
  scores: Record<string, Record<string, SplitScore>>;
  summary: Record<string, PolicySummary>;
  /** λ against corruption severity (and the clean splits with severity 0 under corruption "none"). */
  lambdaBySeverity: LambdaPoint[];
  seconds: number;
}

function meanOf(values: number[]): number | null {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
}

/**
 * Runs every policy on every clean split and on every corruption×severity of the base split, then summarises:
 * top-1 per split, mean corrupted accuracy, CE/mCE against the reference policy, agreement with sample-wise T3, and
 * λ against severity. Corrupted splits are built one at a time and dropped after use, so memory stays bounded.
 */
export async function runEvaluation(options: EvaluationOptions): Promise<EvaluationResult> {
  const started = performance.now();
  const progress = options.progress ?? (() => undefined);
  const scores: Record<string, Record<string, SplitScore>> = {};
  const predictions: Record<string, Record<string, number[]>> = {};
  for (const p of options.policies) {
    scores[p.id] = {};
    predictions[p.id] = {};
  }
  const splits: SplitInfo[] = [];

  const evaluate = async (prepared: ReturnType<typeof prepareSplit>) => {
    for (const policy of options.policies) {
      const run = await scorePolicyOnSplit(options.runner, policy, prepared);
      scores[policy.id][prepared.name] = run.score;
      predictions[policy.id][prepared.name] = run.predictions;
    }
    const g = scores[options.referencePolicyId]?.[prepared.name];
    progress(`${prepared.name}: ${prepared.labels.length} images${g ? `, ${options.referencePolicyId} top-1 ${(100 * g.accuracy).toFixed(1)}%` : ''}`);
  };

  for (const split of options.splits) {
    if (split.images.length === 0) {
      progress(`${split.name}: no readable images, skipped`);
      continue;
    }
    splits.push({ name: split.name, kind: 'clean', images: split.images.length });
    await evaluate(prepareSplit(split.name, split.images, options.spec));
  }

  const usable = options.splits.filter((s) => s.images.length > 0);
  if (options.mixedSplit && usable.length >= 2) {
    // One stream with every clean split's images in a seeded random order: batch-mates then come from different
    // domains, the case where one λ_B per batch must serve images that would each want their own λ.
    const pool = usable.flatMap((s) => s.images.map((image) => ({ ...image, file: `${s.name}/${image.file}` })));
    const random = uniformGenerator(hashSeed('mixed'));
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    splits.push({ name: MIXED_SPLIT, kind: 'clean', images: pool.length });
    await evaluate(prepareSplit(MIXED_SPLIT, pool, options.spec));
  }

  const base = options.corruptionBase;
  if (base && base.split.images.length > 0) {
    const images = base.limit !== undefined ? base.split.images.slice(0, base.limit) : base.split.images;
    for (const corruption of options.corruptions) {
      for (const severity of options.severities) {
        const name = `${base.split.name}/${corruption}/${severity}`;
        splits.push({ name, kind: 'corrupted', corruption, severity, images: images.length });
        await evaluate(prepareSplit(name, images, options.spec, { name: corruption, severity }));
      }
    }
  }

  const t3Predictions = predictions.t3;
  if (t3Predictions) {
    for (const policy of options.policies) {
      for (const split of splits) {
        const a = predictions[policy.id][split.name];
        const b = t3Predictions[split.name];
        scores[policy.id][split.name].agreementWithT3 = a.filter((c, i) => c === b[i]).length / a.length;
      }
    }
  }

  const result: EvaluationResult = {
    splits,
    policies: options.policies.map((p) => ({
      id: p.id, label: p.label, policy: p.config.name, batchSize: p.batchSize,
      ...(p.config.name === 'wise' ? { wiseAlpha: p.config.wiseAlpha } : {}),
      ...(p.coefficientSample ? { coefficientSample: p.coefficientSample } : {}),
    })),
    referencePolicy: options.referencePolicyId,
    corruptionBase: base ? base.split.name : null,
    corruptions: base ? options.corruptions.map((name) => ({ name, parameters: CORRUPTION_PARAMETERS[name] })) : [],
    severities: base ? [...options.severities] : [],
    scores,
    summary: summarise(options, splits, scores, predictions),
    lambdaBySeverity: lambdaPoints(options, splits, scores),
    seconds: (performance.now() - started) / 1000,
  };
  return result;
}

function summarise(
  options: EvaluationOptions,
  splits: SplitInfo[],
  scores: Record<string, Record<string, SplitScore>>,
  predictions: Record<string, Record<string, number[]>>,
): Record<string, PolicySummary> {
  const clean = splits.filter((s) => s.kind === 'clean');
  const corrupted = splits.filter((s) => s.kind === 'corrupted');
  const ref = options.referencePolicyId;
  const baseName = options.corruptionBase?.split.name;
  const errorTable = (policyId: string): Record<string, number[]> => {
    const table: Record<string, number[]> = {};
    for (const c of options.corruptions) {
      table[c] = options.severities.map((s) => 1 - scores[policyId][`${baseName}/${c}/${s}`].accuracy);
    }
    return table;
  };
  const summary: Record<string, PolicySummary> = {};
  const t3 = predictions.t3;
  for (const policy of options.policies) {
    const s = scores[policy.id];
    let ce: Record<string, number> | null = null;
    let mce: number | null = null;
    let relativeMce: number | null = null;
    if (corrupted.length > 0 && baseName && scores[ref]) {
      const e = corruptionErrors(errorTable(policy.id), 1 - s[baseName].accuracy, errorTable(ref), 1 - scores[ref][baseName].accuracy);
      ce = e.ce;
      mce = e.mce;
      relativeMce = e.relativeMce;
    }
    let agreementWithT3: number | null = null;
    if (t3) {
      let same = 0;
      let total = 0;
      for (const split of splits) {
        const a = predictions[policy.id][split.name];
        const b = t3[split.name];
        for (let i = 0; i < a.length; i++) {
          if (a[i] === b[i]) same++;
          total++;
        }
      }
      agreementWithT3 = total ? same / total : null;
    }
    summary[policy.id] = {
      clean: Object.fromEntries(clean.map((c) => [c.name, s[c.name].accuracy])),
      corruptedAccuracy: meanOf(corrupted.map((c) => s[c.name].accuracy)),
      ce, mce, relativeMce, agreementWithT3,
    };
  }
  return summary;
}

function lambdaPoints(options: EvaluationOptions, splits: SplitInfo[], scores: Record<string, Record<string, SplitScore>>): LambdaPoint[] {
  const t3 = scores.t3;
  // λ_B by batch size, of the paper's T3B (a sampled variant shares its batch size; its λ_B is in its scores).
  const t3bPolicies = options.policies.filter((p) => p.config.name === 't3b' && !p.coefficientSample);
  const point = (split: SplitInfo, corruption: string, severity: number): LambdaPoint => ({
    corruption, severity, split: split.name,
    t3Lambda: t3?.[split.name]?.meanT3Lambda ?? null,
    js: t3?.[split.name]?.meanJs ?? null,
    t3bLambda: Object.fromEntries(t3bPolicies.map((p) => {
      const lambdas = scores[p.id][split.name].batchLambdas ?? [];
      const mean = meanOf(lambdas);
      return [String(p.batchSize), mean === null ? null : { mean, min: Math.min(...lambdas), max: Math.max(...lambdas) }];
    })),
  });
  const points: LambdaPoint[] = [];
  for (const split of splits) {
    if (split.kind === 'clean') points.push(point(split, 'none', 0));
    else points.push(point(split, split.corruption!, split.severity!));
  }
  return points;
}
