import type { LambdaEstimatorSettings, T3Hyperparameters } from '../t3';
import { wilsonInterval } from './accuracy-interval';
import { evaluationPolicies, type EvaluatedPolicy, type T3bEstimatorName } from './evaluation-policies';
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
  runner: InferenceRunner;
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
  /** 'full' for T3B itself, else the estimator. */
  estimator: 'full' | T3bEstimatorName;
  policyId: string;
  accuracy: number;
  /** Full T3B's 95 % Wilson interval at this batch size on this stream, and whether this accuracy lies inside it. */
  fullInterval: { low: number; high: number };
  insideFullInterval: boolean;
  /** Paired block bootstrap (blocks of one batch) of accuracy − full T3B's accuracy. */
  againstFull: BootstrapInterval;
  passesPerImage: number;
  /** Batches per outcome of the estimate (empty for full T3B). */
  outcomes: Record<string, number>;
  /** Mean and largest |λ_B − full T3B's λ_B| over the stream's batches. */
  lambdaDifference: { mean: number; max: number };
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
  }).filter((p) => p.config.name === 't3b');
  const rows: EstimatorRow[] = [];
  for (const stream of comparisonStreams(options.splits, options.series, options.pooledSeries)) {
    for (const size of options.batchSizes) {
      const full = policies.find((p) => p.id === `t3b-${size}`) as EvaluatedPolicy;
      const reference = await scorePolicyOnSplit(options.runner, full, stream);
      const referenceCorrect = correctness(reference.predictions, stream.labels);
      const correct = Math.round(reference.score.accuracy * stream.labels.length);
      const interval = wilsonInterval(correct, stream.labels.length);
      const row = (estimator: EstimatorRow['estimator'], policy: EvaluatedPolicy, score: SplitScore, predictions: number[]): EstimatorRow => {
        const lambdas = score.batchLambdas ?? [];
        const fullLambdas = reference.score.batchLambdas ?? [];
        const differences = lambdas.map((l, i) => Math.abs(l - fullLambdas[i]));
        return {
          stream: stream.name, images: stream.labels.length, batchSize: size, estimator, policyId: policy.id, accuracy: score.accuracy,
          fullInterval: interval, insideFullInterval: score.accuracy >= interval.low && score.accuracy <= interval.high,
          againstFull: pairedBootstrap([{ a: correctness(predictions, stream.labels), b: referenceCorrect }], { blockSize: size, ...options.bootstrap }),
          passesPerImage: score.passesPerImage ?? Number.NaN,
          outcomes: score.estimateOutcomes ?? {},
          lambdaDifference: {
            mean: differences.length ? differences.reduce((a, b) => a + b, 0) / differences.length : 0,
            max: differences.length ? Math.max(...differences) : 0,
          },
          seconds: score.seconds,
        };
      };
      rows.push(row('full', full, reference.score, reference.predictions));
      for (const name of options.estimators) {
        const policy = policies.find((p) => p.id === `t3b-${name}-${size}`) as EvaluatedPolicy;
        const run = await scorePolicyOnSplit(options.runner, policy, stream);
        rows.push(row(name, policy, run.score, run.predictions));
      }
      options.progress?.(`${stream.name} B=${size}: ${rows.slice(-1 - options.estimators.length).map((r) => `${r.policyId} ${(100 * r.accuracy).toFixed(1)}% (${r.passesPerImage.toFixed(2)} passes/image)`).join(', ')}`);
    }
  }
  return rows;
}

/** The comparison as a markdown table (one row per stream, batch size and estimator). */
export function estimatorComparisonMarkdown(rows: readonly EstimatorRow[]): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;
  const header = ['stream', 'n', 'B', 'estimator', 'top-1', 'Δ vs full [95 % paired CI]', 'inside full\'s 95 % interval', 'passes / image', 'mean (max) |Δλ_B|', 'batches by outcome'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const full = r.estimator === 'full';
    lines.push(`| ${r.stream} | ${r.images} | ${r.batchSize} | ${r.estimator} | ${pct(r.accuracy)}${full ? ` [${pct(r.fullInterval.low)}, ${pct(r.fullInterval.high)}]` : ''} | ${full ? '—' : `${signed(r.againstFull.difference)} [${signed(r.againstFull.low)}, ${signed(r.againstFull.high)}]`} | ${full ? '—' : r.insideFullInterval ? 'yes' : '**no**'} | ${r.passesPerImage.toFixed(2)} | ${full ? '—' : `${r.lambdaDifference.mean.toFixed(3)} (${r.lambdaDifference.max.toFixed(3)})`} | ${Object.entries(r.outcomes).map(([k, v]) => `${k} ${v}`).join(', ') || '—'} |`);
  }
  return lines.join('\n');
}
