import type { LambdaEstimatorSettings, T3Hyperparameters } from '../t3';
import { wilsonInterval } from './accuracy-interval';
import { estimatorPolicyName, evaluationPolicies, type EvaluatedPolicy, type T3bEstimatorName } from './evaluation-policies';
import { scorePolicyOnSplit, type InferenceRunner, type PreparedSplit, type SplitScore } from './evaluation-runner';
import { pairedBootstrap, type BootstrapInterval } from './paired-bootstrap';
import { pooledOrder, pooledPreparedSplit } from './pooled-stream';
import { homogeneousSeriesOrder, mixedSeriesOrder, seriesPreparedSplit, type SeriesStreamOptions } from './series-stream';

/**
 * The λ_B estimators beside full T3B (docs/LAMBDA-ESTIMATORS.md): every estimator at every batch size on every stream
 * (the clean splits, the pooled stream of eval, and the two streams of whole series), each compared with full T3B at
 * the same batch size on the same images: the accuracy difference with its paired block-bootstrap interval, whether
 * the accuracy lies inside full T3B's 95 % Wilson interval, the passes per image actually run, and how far its λ_B
 * moved from full T3B's, batch by batch.
 */
export interface EstimatorComparisonOptions {
  /** Runs full T3B and full grouped T3B, the references. */
  runner: InferenceRunner;
  /** Runs the estimators when given (e.g. an engine whose estimation passes are int8); default `runner`. */
  estimatorRunner?: InferenceRunner;
  /** The clean splits (e.g. in-domain, shifted): the streams are built from them. */
  splits: readonly PreparedSplit[];
  batchSizes: readonly number[];
  estimators: readonly T3bEstimatorName[];
  estimatorSettings?: LambdaEstimatorSettings;
  hyperparameters: T3Hyperparameters;
  series: SeriesStreamOptions;
  bootstrap: { replicates: number; seed: number };
  /** Default by-split. */
  pooledSeries?: PooledSeries;
  progress?: (line: string) => void;
}

export interface EstimatorRow {
  stream: string;
  images: number;
  batchSize: number;
  /** 'full' for T3B itself, 'grouped' for full grouped T3B (the reference of the grouped estimators), else the estimator. */
  estimator: 'full' | 'grouped' | T3bEstimatorName;
  policyId: string;
  accuracy: number;
  /** Full T3B's 95 % Wilson interval at this batch size on this stream, and whether this accuracy lies inside it. */
  fullInterval: { low: number; high: number };
  insideFullInterval: boolean;
  /** Not below full T3B's interval (inside it, or above: an estimator of grouped T3B may gain on mixed batches). */
  notBelowFullInterval: boolean;
  /**
   * The grouped estimators: against the policy whose λ they estimate, full grouped T3B at the same batch size: the paired
   * interval and whether the accuracy lies inside grouped T3B's 95 % Wilson interval. Absent for the other rows.
   */
  againstGrouped?: { interval: { low: number; high: number }; inside: boolean; difference: BootstrapInterval };
  /** Paired block bootstrap (blocks of one batch) of accuracy − full T3B's accuracy. */
  againstFull: BootstrapInterval;
  passesPerImage: number;
  /** Batches per outcome of the estimate (empty for full T3B). */
  outcomes: Record<string, number>;
  /** Mean and largest |λ_B − full T3B's λ_B| over the stream's batches; null when a grouped batch split (several λ). */
  lambdaDifference: { mean: number; max: number } | null;
  seconds: number;
}

const POOLED_STREAM = 'pooled';

/**
 * The series of the pooled stream's images: `by-split` (each image's split: its batches mix series, the realistic
 * case) or `one` (the whole stream one series: a stress test of series reuse's check, every batch a mix of domains).
 */
export type PooledSeries = 'by-split' | 'one';
export const HOMOGENEOUS_SERIES_STREAM = 'series-homogeneous';
export const MIXED_SERIES_STREAM = 'series-mixed';

/**
 * The streams of the comparison: each clean split (one series each: the homogeneous case), the pooled stream (eval's
 * seed; each image's series is its split) and the two series streams.
 */
export function comparisonStreams(splits: readonly PreparedSplit[], series: SeriesStreamOptions, pooledSeries: PooledSeries = 'by-split'): PreparedSplit[] {
  const streams = [...splits];
  if (splits.length >= 2) {
    // The pooled stream's images keep their split as their series: its batches mix series, as a batch of random
    // images from two domains would in a PACS, so series reuse does not apply to them (series-reuse.ts).
    const order = pooledOrder(splits.map((s) => s.labels.length), 'mixed');
    const pooled = pooledPreparedSplit(POOLED_STREAM, splits, order);
    streams.push(pooledSeries === 'by-split' ? { ...pooled, series: order.map(([s]) => splits[s].name) } : pooled);
    streams.push(seriesPreparedSplit(HOMOGENEOUS_SERIES_STREAM, splits, homogeneousSeriesOrder(splits, series)));
    streams.push(seriesPreparedSplit(MIXED_SERIES_STREAM, splits, mixedSeriesOrder(splits, series)));
  }
  return streams;
}

function correctness(predictions: number[], labels: number[]): Uint8Array {
  return Uint8Array.from(predictions, (p, i) => (p === labels[i] ? 1 : 0));
}

export async function compareEstimators(options: EstimatorComparisonOptions): Promise<EstimatorRow[]> {
  const policies = evaluationPolicies({
    wiseAlphas: [], t3bBatchSizes: options.batchSizes, defaultBatchSize: Math.max(...options.batchSizes), hyperparameters: options.hyperparameters,
    t3bEstimators: options.estimators, ...(options.estimatorSettings ? { estimatorSettings: options.estimatorSettings } : {}),
  }).filter((p) => p.config.name === 't3b' || p.config.name === 't3b-grouped');
  const byId = (id: string): EvaluatedPolicy => policies.find((p) => p.id === id) as EvaluatedPolicy;
  const rows: EstimatorRow[] = [];
  for (const stream of comparisonStreams(options.splits, options.series, options.pooledSeries)) {
    for (const size of options.batchSizes) {
      const scored = async (policy: EvaluatedPolicy, runner = options.runner): Promise<ScoredRun> => {
        const run = await scorePolicyOnSplit(runner, policy, stream);
        const correct = correctness(run.predictions, stream.labels);
        return { policy, run, correct, interval: wilsonInterval(correct.reduce((n, c) => n + c, 0), stream.labels.length) };
      };
      const full = await scored(byId(`t3b-${size}`));
      const groupedEstimators = options.estimators.filter((name) => estimatorPolicyName(name) === 't3b-grouped');
      const grouped = groupedEstimators.length > 0 ? await scored(byId(`t3b-grouped-${size}`)) : null;
      const row = (estimator: EstimatorRow['estimator'], mine: ScoredRun, ownReference: ScoredRun | null): EstimatorRow =>
        comparisonRow({ stream, size, estimator, mine, full, ownReference, bootstrap: options.bootstrap });
      const added = [row('full', full, null), ...(grouped ? [row('grouped', grouped, null)] : [])];
      for (const name of options.estimators) {
        added.push(row(name, await scored(byId(`t3b-${name}-${size}`), options.estimatorRunner), groupedEstimators.includes(name) ? grouped : null));
      }
      rows.push(...added);
      options.progress?.(`${stream.name} B=${size}: ${added.slice(1).map((r) => `${r.policyId} ${(100 * r.accuracy).toFixed(1)}% (${r.passesPerImage.toFixed(2)} passes/image)`).join(', ')}`);
    }
  }
  return rows;
}

interface ScoredRun {
  policy: EvaluatedPolicy;
  run: { score: SplitScore; predictions: number[] };
  correct: Uint8Array;
  /** 95 % Wilson interval of the accuracy. */
  interval: { low: number; high: number };
}

/** One row: `mine` against full T3B (and against `ownReference`, full grouped T3B, when given) on the same images. */
function comparisonRow(o: { stream: PreparedSplit; size: number; estimator: EstimatorRow['estimator']; mine: ScoredRun; full: ScoredRun;
  ownReference: ScoredRun | null; bootstrap: { replicates: number; seed: number } }): EstimatorRow {
  const { mine, full, ownReference } = o;
  const accuracy = mine.run.score.accuracy;
  const lambdas = mine.run.score.batchLambdas ?? [];
  const fullLambdas = full.run.score.batchLambdas ?? [];
  // λ_B moved, batch by batch: only where both ran one λ per batch (a grouped batch that split has several).
  const differences = lambdas.map((l, i) => Math.abs(l - fullLambdas[i]));
  const paired = (reference: ScoredRun) => pairedBootstrap([{ a: mine.correct, b: reference.correct }], { blockSize: o.size, ...o.bootstrap });
  const inside = (reference: ScoredRun) => accuracy >= reference.interval.low && accuracy <= reference.interval.high;
  return {
    stream: o.stream.name, images: o.stream.labels.length, batchSize: o.size, estimator: o.estimator, policyId: mine.policy.id, accuracy,
    fullInterval: full.interval, insideFullInterval: inside(full), notBelowFullInterval: accuracy >= full.interval.low,
    againstFull: paired(full),
    ...(ownReference ? { againstGrouped: { interval: ownReference.interval, inside: inside(ownReference), difference: paired(ownReference) } } : {}),
    passesPerImage: mine.run.score.passesPerImage ?? Number.NaN,
    outcomes: mine.run.score.estimateOutcomes ?? {},
    lambdaDifference: lambdas.length !== fullLambdas.length ? null : {
      mean: differences.length ? differences.reduce((a, b) => a + b, 0) / differences.length : 0,
      max: differences.length ? Math.max(...differences) : 0,
    },
    seconds: mine.run.score.seconds,
  };
}

/** The comparison as a markdown table (one row per stream, batch size and estimator). */
export function estimatorComparisonMarkdown(rows: readonly EstimatorRow[]): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;
  const header = ['stream', 'n', 'B', 'estimator', 'top-1', 'Δ vs full [95 % paired CI]', 'inside full\'s 95 % interval', 'passes / image', 'mean (max) |Δλ_B|', 'batches by outcome'];
  const inside = (r: EstimatorRow): string => {
    const own = r.againstGrouped ? `; vs grouped T3B ${signed(r.againstGrouped.difference.difference)} [${signed(r.againstGrouped.difference.low)}, ${signed(r.againstGrouped.difference.high)}], ${r.againstGrouped.inside ? 'inside' : '**outside**'} its interval` : '';
    return `${r.insideFullInterval ? 'yes' : r.notBelowFullInterval ? 'above' : '**no**'}${own}`;
  };
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const full = r.estimator === 'full';
    lines.push(`| ${r.stream} | ${r.images} | ${r.batchSize} | ${r.estimator} | ${pct(r.accuracy)}${full ? ` [${pct(r.fullInterval.low)}, ${pct(r.fullInterval.high)}]` : ''} | ${full ? '—' : `${signed(r.againstFull.difference)} [${signed(r.againstFull.low)}, ${signed(r.againstFull.high)}]`} | ${full ? '—' : inside(r)} | ${r.passesPerImage.toFixed(2)} | ${full || !r.lambdaDifference ? '—' : `${r.lambdaDifference.mean.toFixed(3)} (${r.lambdaDifference.max.toFixed(3)})`} | ${Object.entries(r.outcomes).map(([k, v]) => `${k} ${v}`).join(', ') || '—'} |`);
  }
  return lines.join('\n');
}
