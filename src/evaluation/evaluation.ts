import { CORRUPTION_PARAMETERS, CORRUPTION_REFERENCE_SIDE, corruptionSizeScale, SIZE_SCALED_CORRUPTIONS, type CorruptionName } from './corruptions';
import type { EvaluatedPolicy } from './evaluation-policies';
import { scorePolicyOnSplit, type InferenceRunner, type SplitScore } from './evaluation-runner';
import type { LabelledSplit } from './labelled-dataset';
import { corruptionErrors } from './metrics';
import { pairedBootstrap, type BootstrapInterval } from './paired-bootstrap';
import type { ModelInputShape } from './model-input';
import { prepareSplit } from './prepare-split';
import { pooledOrder } from './pooled-stream';
import { checkSplitNames, CORRUPTED_MEAN, POOLED_SPLIT } from './split-names';
import { defaultPolicyConfig } from '../t3';

export { CORRUPTED_MEAN, POOLED_SPLIT } from './split-names';

/** @deprecated The pooled stream is named POOLED_SPLIT ("pooled") so that it never takes a user split's name;
 *  this alias keeps callers written before the rename compiling. */
export const MIXED_SPLIT = POOLED_SPLIT;

/** Blocks of 32 consecutive images: one T3B batch at the default batch size. */
export const DEFAULT_BOOTSTRAP = Object.freeze({ blockSize: 32, replicates: 2000, seed: 12 });

/** The oracle curve's passes are single fixed-λ passes, whose results do not depend on the batch size. */
const ORACLE_BATCH = 256;

function oracleWithMean(oracle: Record<string, number[]>, splits: SplitInfo[]): Record<string, number[]> {
  const corrupted = splits.filter((s) => s.kind === 'corrupted' && oracle[s.name]);
  if (corrupted.length === 0) return oracle;
  const mean = oracle[corrupted[0].name].map((_, i) => corrupted.reduce((sum, s) => sum + oracle[s.name][i], 0) / corrupted.length);
  return { ...oracle, [CORRUPTED_MEAN]: mean };
}

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
  /** Also evaluate the pooled stream (POOLED_SPLIT): all clean splits' images shuffled into one stream, so T3B
   *  batches mix domains (needs two or more clean splits). */
  mixedSplit?: boolean;
  /** Policy id whose errors normalise the corruption errors (ImageNet-C's AlexNet; here the generalist). */
  referencePolicyId: string;
  /** Oracle-λ curve: accuracy of the merged model at each of these fixed λ on every split (none when absent). */
  oracleLambdas?: readonly number[];
  /** Paired bootstrap of each policy against the better single model (default: blocks of 32, 2000 replicates). */
  bootstrap?: { blockSize: number; replicates: number; seed: number };
  progress?: (line: string) => void;
}

export interface SplitInfo {
  name: string;
  /** 'corruption-base': the clean images that were corrupted, when they are a subset of the base split (mCE's
   *  clean error must come from the same images as the corrupted errors). */
  kind: 'clean' | 'corrupted' | 'corruption-base';
  corruption?: string;
  severity?: number;
  images: number;
  /** Present when the evaluation built this split by pooling the images of these splits: it repeats their images,
   *  so it is not independent evidence. Independence goes by how a split was built, never by its name. */
  pooledFrom?: string[];
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
   *  class as T3 (images of the pooled stream count again there). */
  agreementWithT3: number | null;
  /**
   * Against the better of generalist and expert on each clean split and on the corruption average ("corrupted"):
   * which one it is, its accuracy, and the paired bootstrap interval of (this policy − it).
   */
  againstBetter: Record<string, { reference: string; referenceAccuracy: number } & BootstrapInterval>;
}

/** Accuracy of the merged model at fixed λ (WiSE-FT at α = λ) on every split: the best any one λ could do. */
export interface OracleCurve {
  lambdas: number[];
  /** accuracy[split][i] at lambdas[i]; "corrupted (mean)" is the mean over the corrupted splits. */
  accuracy: Record<string, number[]>;
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
  policies: { id: string; label: string; policy: string; batchSize: number; wiseAlpha?: number; coefficientSample?: number; lambdaEstimator?: string }[];
  referencePolicy: string;
  corruptionBase: string | null;
  /** Each corruption's parameter per severity at the reference size, and whether it is scaled by image size. */
  corruptions: { name: string; parameters: readonly number[]; scaledToImageSize: boolean }[];
  /** Size-dependent parameters are scaled per image by √(width·height) / referenceSide: the smallest and largest
   *  factor over the corrupted images (1 for 64 × 64 images); null without corruptions. */
  corruptionScale: { referenceSide: number; min: number; max: number } | null;
  severities: number[];
  /** scores[policyId][splitName] */
  scores: Record<string, Record<string, SplitScore>>;
  summary: Record<string, PolicySummary>;
  /** λ against corruption severity (and the clean splits with severity 0 under corruption "none"). */
  lambdaBySeverity: LambdaPoint[];
  /** The split whose clean error enters relative mCE: the very images that were corrupted. */
  corruptionCleanSplit: string | null;
  oracle: OracleCurve | null;
  bootstrap: { blockSize: number; replicates: number; seed: number; level: number };
  seconds: number;
}

function meanOf(values: number[]): number | null {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
}

/** What the evaluation has measured so far, filled split by split. */
interface EvaluationRecord {
  /** scores[policyId][splitName] */
  scores: Record<string, Record<string, SplitScore>>;
  /** predictions[policyId][splitName]: the predicted class per image, for agreement and the paired bootstrap. */
  predictions: Record<string, Record<string, number[]>>;
  labels: Record<string, number[]>;
  /** oracle[splitName][i]: accuracy at the i-th oracle λ (empty without oracle λs). */
  oracle: Record<string, number[]>;
  /** Every evaluated split, in the order it was evaluated. */
  splits: SplitInfo[];
}

function emptyRecord(policies: readonly EvaluatedPolicy[]): EvaluationRecord {
  const record: EvaluationRecord = { scores: {}, predictions: {}, labels: {}, oracle: {}, splits: [] };
  for (const p of policies) {
    record.scores[p.id] = {};
    record.predictions[p.id] = {};
  }
  return record;
}

type PreparedEvaluationSplit = ReturnType<typeof prepareSplit>;

/** Runs every policy (and every oracle λ) on one prepared split and records the results. */
async function evaluateSplit(options: EvaluationOptions, record: EvaluationRecord, prepared: PreparedEvaluationSplit): Promise<void> {
  for (const policy of options.policies) {
    const run = await scorePolicyOnSplit(options.runner, policy, prepared);
    record.scores[policy.id][prepared.name] = run.score;
    record.predictions[policy.id][prepared.name] = run.predictions;
  }
  record.labels[prepared.name] = prepared.labels;
  // The clean subset under the corruptions only feeds relative mCE; its full split already has an oracle curve.
  if (options.oracleLambdas && prepared.kind !== 'corruption-base') {
    record.oracle[prepared.name] = [];
    for (const lambda of options.oracleLambdas) {
      const config = { ...defaultPolicyConfig('wise'), wiseAlpha: lambda };
      const oraclePolicy = { id: `oracle-${lambda}`, label: '', config, batchSize: ORACLE_BATCH };
      record.oracle[prepared.name].push((await scorePolicyOnSplit(options.runner, oraclePolicy, prepared)).score.accuracy);
    }
  }
  const reference = record.scores[options.referencePolicyId]?.[prepared.name];
  const referenceNote = reference ? `, ${options.referencePolicyId} top-1 ${(100 * reference.accuracy).toFixed(1)}%` : '';
  options.progress?.(`${prepared.name}: ${prepared.labels.length} images${referenceNote}`);
}

async function evaluateCleanSplits(options: EvaluationOptions, record: EvaluationRecord): Promise<void> {
  for (const split of options.splits) {
    if (split.images.length === 0) {
      options.progress?.(`${split.name}: no readable images, skipped`);
      continue;
    }
    record.splits.push({ name: split.name, kind: 'clean', images: split.images.length });
    await evaluateSplit(options, record, prepareSplit(split.name, split.images, options.spec));
  }
}

/**
 * One stream with every clean split's images in a seeded random order: batch-mates then come from different
 * domains, the case where one λ_B per batch must serve images that would each want their own λ. Needs two or more
 * non-empty clean splits.
 */
async function evaluatePooledStream(options: EvaluationOptions, record: EvaluationRecord): Promise<void> {
  const usable = options.splits.filter((s) => s.images.length > 0);
  if (!options.mixedSplit || usable.length < 2) return;
  // The seed keeps the name the stream had before it was called "pooled", so its order (and every number
  // reported for it in docs/EVALUATION.md) is unchanged.
  const order = pooledOrder(usable.map((s) => s.images.length), 'mixed');
  const pool = order.map(([s, i]) => ({ ...usable[s].images[i], file: `${usable[s].name}/${usable[s].images[i].file}` }));
  record.splits.push({ name: POOLED_SPLIT, kind: 'clean', images: pool.length, pooledFrom: usable.map((s) => s.name) });
  // Each image's source is the split it came from: what grouped T3B by series groups by (pooled-stream.ts).
  await evaluateSplit(options, record, { ...prepareSplit(POOLED_SPLIT, pool, options.spec), sources: order.map(([s]) => usable[s].name) });
}

/** What the corrupted splits add to the result besides their scores. */
interface CorruptionOutcome {
  corruptionCleanSplit: string | null;
  corruptionScale: EvaluationResult['corruptionScale'];
}

/**
 * Every corruption × severity of the base split (capped at its limit), built one at a time and dropped after use
 * so memory stays bounded; plus the clean base images themselves when the cap makes them a subset.
 */
async function evaluateCorruptedSplits(options: EvaluationOptions, record: EvaluationRecord): Promise<CorruptionOutcome> {
  const base = options.corruptionBase;
  if (!base || base.split.images.length === 0) return { corruptionCleanSplit: null, corruptionScale: null };
  const images = base.limit !== undefined ? base.split.images.slice(0, base.limit) : base.split.images;
  let corruptionCleanSplit = base.split.name;
  let corruptionScale: EvaluationResult['corruptionScale'] = null;
  if (options.corruptions.length > 0 && images.length > 0) {
    const factors = images.map((item) => corruptionSizeScale(item.image.width, item.image.height));
    corruptionScale = { referenceSide: CORRUPTION_REFERENCE_SIDE, min: Math.min(...factors), max: Math.max(...factors) };
  }
  if (images.length < base.split.images.length) {
    // Relative mCE subtracts the clean error from the corrupted errors: both must be measured on the same images.
    corruptionCleanSplit = `${base.split.name}/clean`;
    record.splits.push({ name: corruptionCleanSplit, kind: 'corruption-base', images: images.length });
    await evaluateSplit(options, record, { ...prepareSplit(corruptionCleanSplit, images, options.spec), kind: 'corruption-base' });
  }
  for (const corruption of options.corruptions) {
    for (const severity of options.severities) {
      const name = `${base.split.name}/${corruption}/${severity}`;
      record.splits.push({ name, kind: 'corrupted', corruption, severity, images: images.length });
      await evaluateSplit(options, record, prepareSplit(name, images, options.spec, { name: corruption, severity }));
    }
  }
  return { corruptionCleanSplit, corruptionScale };
}

/** Per policy and split, the fraction of images where the policy predicts the same class as sample-wise T3. */
function recordAgreementWithT3(options: EvaluationOptions, record: EvaluationRecord): void {
  const t3Predictions = record.predictions.t3;
  if (!t3Predictions) return;
  for (const policy of options.policies) {
    for (const split of record.splits) {
      const a = record.predictions[policy.id][split.name];
      const b = t3Predictions[split.name];
      record.scores[policy.id][split.name].agreementWithT3 = a.filter((c, i) => c === b[i]).length / a.length;
    }
  }
}

/** How each policy was configured, as the report names it. */
function describePolicies(policies: readonly EvaluatedPolicy[]): EvaluationResult['policies'] {
  return policies.map((p) => ({
    id: p.id, label: p.label, policy: p.config.name, batchSize: p.batchSize,
    ...(p.config.name === 'wise' ? { wiseAlpha: p.config.wiseAlpha } : {}),
    ...(p.coefficientSample ? { coefficientSample: p.coefficientSample } : {}),
    ...(p.lambdaEstimator ? { lambdaEstimator: p.lambdaEstimator } : {}),
  }));
}

/** Each corruption's parameters, listed only when the evaluation has a corruption base. */
function describeCorruptions(options: EvaluationOptions): EvaluationResult['corruptions'] {
  if (!options.corruptionBase) return [];
  return options.corruptions.map((name) => ({ name, parameters: CORRUPTION_PARAMETERS[name], scaledToImageSize: SIZE_SCALED_CORRUPTIONS.includes(name) }));
}

/**
 * Runs every policy on every clean split and on every corruption×severity of the base split, then summarises:
 * top-1 per split, mean corrupted accuracy, CE/mCE against the reference policy, agreement with sample-wise T3, and
 * λ against severity. Corrupted splits are built one at a time and dropped after use, so memory stays bounded.
 */
export async function runEvaluation(options: EvaluationOptions): Promise<EvaluationResult> {
  const started = performance.now();
  checkSplitNames(options.splits.map((s) => s.name));
  const bootstrapOptions = options.bootstrap ?? DEFAULT_BOOTSTRAP;
  const record = emptyRecord(options.policies);
  await evaluateCleanSplits(options, record);
  await evaluatePooledStream(options, record);
  const { corruptionCleanSplit, corruptionScale } = await evaluateCorruptedSplits(options, record);
  recordAgreementWithT3(options, record);

  const { scores, predictions, labels, splits } = record;
  const base = options.corruptionBase;
  const oracleLambdas = options.oracleLambdas ? [...options.oracleLambdas] : null;
  return {
    splits,
    policies: describePolicies(options.policies),
    referencePolicy: options.referencePolicyId,
    corruptionBase: base ? base.split.name : null,
    corruptions: describeCorruptions(options),
    corruptionScale,
    severities: base ? [...options.severities] : [],
    scores,
    summary: summarise(options, splits, scores, predictions, labels, corruptionCleanSplit, bootstrapOptions),
    lambdaBySeverity: lambdaPoints(options, splits.filter((sp) => sp.kind !== 'corruption-base'), scores),
    corruptionCleanSplit,
    oracle: oracleLambdas ? { lambdas: oracleLambdas, accuracy: oracleWithMean(record.oracle, splits) } : null,
    bootstrap: { ...bootstrapOptions, level: 0.95 },
    seconds: (performance.now() - started) / 1000,
  };
}

function summarise(
  options: EvaluationOptions,
  splits: SplitInfo[],
  scores: Record<string, Record<string, SplitScore>>,
  predictions: Record<string, Record<string, number[]>>,
  labels: Record<string, number[]>,
  cleanBase: string | null,
  bootstrap: { blockSize: number; replicates: number; seed: number },
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
      const clean = cleanBase ?? baseName;
      const e = corruptionErrors(errorTable(policy.id), 1 - s[clean].accuracy, errorTable(ref), 1 - scores[ref][clean].accuracy);
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
      againstBetter: againstBetter(policy.id, clean, corrupted, scores, predictions, labels, bootstrap),
    };
  }
  return summary;
}

/** Per image of a split, 1 where the policy's prediction is the label. */
function correctness(predictions: number[], labels: number[]): Uint8Array {
  return Uint8Array.from(predictions, (p, i) => (p === labels[i] ? 1 : 0));
}

/**
 * The policy against the better of generalist and expert, per clean split and on the corruption average, with a
 * paired bootstrap interval (paired-bootstrap.ts). Empty when the evaluation lacks either model.
 */
function againstBetter(
  policyId: string,
  clean: SplitInfo[],
  corrupted: SplitInfo[],
  scores: Record<string, Record<string, SplitScore>>,
  predictions: Record<string, Record<string, number[]>>,
  labels: Record<string, number[]>,
  bootstrap: { blockSize: number; replicates: number; seed: number },
): PolicySummary['againstBetter'] {
  if (!predictions.generalist || !predictions.expert) return {};
  const out: PolicySummary['againstBetter'] = {};
  const compare = (column: string, names: string[]) => {
    const mean = (id: string) => names.reduce((sum, n) => sum + scores[id][n].accuracy, 0) / names.length;
    const reference = mean('generalist') >= mean('expert') ? 'generalist' : 'expert';
    const pairs = names.map((n) => ({ a: correctness(predictions[policyId][n], labels[n]), b: correctness(predictions[reference][n], labels[n]) }));
    out[column] = { reference, referenceAccuracy: mean(reference), ...pairedBootstrap(pairs, bootstrap) };
  };
  for (const c of clean) compare(c.name, [c.name]);
  if (corrupted.length) compare(CORRUPTED_MEAN, corrupted.map((c) => c.name));
  return out;
}

function lambdaPoints(options: EvaluationOptions, splits: SplitInfo[], scores: Record<string, Record<string, SplitScore>>): LambdaPoint[] {
  const t3 = scores.t3;
  // λ_B by batch size, of the paper's T3B (a sampled variant shares its batch size; its λ_B is in its scores).
  const t3bPolicies = options.policies.filter((p) => p.config.name === 't3b' && !p.coefficientSample && !p.lambdaEstimators);
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
