import type { ClassifyOutcome } from './classify-images';

/**
 * Prometheus metrics of the pipeline, rendered in the text exposition format (no client library needed for a
 * handful of counters and histograms). Labels carry bundle names, lanes and reason codes only: no patient data.
 */

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    this.sum += value;
    this.count++;
    this.buckets.forEach((b, i) => {
      if (value <= b) this.counts[i]++;
    });
  }
  render(name: string, labels: string): string[] {
    const sep = labels ? ',' : '';
    const lines = this.buckets.map((b, i) => `${name}_bucket{${labels}${sep}le="${b}"} ${this.counts[i]}`);
    lines.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${this.count}`);
    lines.push(`${name}_sum${labels ? `{${labels}}` : ''} ${this.sum}`);
    lines.push(`${name}_count${labels ? `{${labels}}` : ''} ${this.count}`);
    return lines;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export interface MetricsSnapshotSource {
  queues: { bundle: string; stat: number; routine: number; queuedImages: number }[];
  jobs: Record<string, number>;
  models: { name: string; version: string; executionProvider: string }[];
}

export class PipelineMetrics {
  private readonly batchSize = new Map<string, Histogram>();
  private readonly lambda = new Map<string, Histogram>();
  private readonly latency = new Histogram([0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120]);
  private readonly outcomes = new Map<string, number>();
  private readonly imagesClassified = new Map<string, number>();
  private readonly extras: (() => string[])[] = [];

  /** More exposition lines from another part (speculation cache, shared-mode claims), rendered after these. */
  addLines(source: () => string[]): void {
    this.extras.push(source);
  }

  /** One classification call of a bundle's batcher with `images` inputs. */
  observeBatch(bundle: string, images: number): void {
    let h = this.batchSize.get(bundle);
    if (!h) this.batchSize.set(bundle, (h = new Histogram([1, 2, 4, 8, 16, 32, 64, 128, 256])));
    h.observe(images);
  }

  /**
   * What one classification produced, for a bundle by its configured name (the label every metric uses): the images
   * (frames) classified, by source (`study` from Orthanc, `classify` from gRPC Classify), and each merged batch's λ_B
   * once.
   */
  observeClassified(bundle: string, source: 'study' | 'classify', outcomes: readonly ClassifyOutcome[]): void {
    const lambdas = new Map<string, number>();
    let images = 0;
    for (const outcome of outcomes) {
      if (!outcome.ok) continue;
      images += outcome.frames.length;
      for (const frame of outcome.frames) if (frame.batchLambda !== null) lambdas.set(frame.batchId, frame.batchLambda);
    }
    const key = `${bundle}\u0000${source}`;
    this.imagesClassified.set(key, (this.imagesClassified.get(key) ?? 0) + images);
    for (const lambda of lambdas.values()) this.observeLambda(bundle, lambda);
  }

  observeLambda(bundle: string, lambda: number): void {
    let h = this.lambda.get(bundle);
    if (!h) this.lambda.set(bundle, (h = new Histogram([0, 0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1])));
    h.observe(lambda);
  }

  /** Handover of the study (stable, or requested) → SR and metadata written. */
  observeLatency(seconds: number): void {
    this.latency.observe(seconds);
  }

  /** done | unchanged | skipped | failed | parked | gone, with a reason code for failures. */
  countOutcome(outcome: string, reason = ''): void {
    const key = `${outcome}\u0000${reason}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  render(source: MetricsSnapshotSource): string {
    const out: string[] = [];
    out.push('# HELP t3_queue_depth Studies waiting per bundle and lane.', '# TYPE t3_queue_depth gauge');
    for (const q of source.queues) {
      out.push(`t3_queue_depth{bundle="${escapeLabel(q.bundle)}",lane="stat"} ${q.stat}`);
      out.push(`t3_queue_depth{bundle="${escapeLabel(q.bundle)}",lane="routine"} ${q.routine}`);
    }
    out.push('# HELP t3_queued_images Images waiting in each bundle batcher.', '# TYPE t3_queued_images gauge');
    for (const q of source.queues) out.push(`t3_queued_images{bundle="${escapeLabel(q.bundle)}"} ${q.queuedImages}`);
    out.push('# HELP t3_jobs Study jobs by state.', '# TYPE t3_jobs gauge');
    for (const [state, n] of Object.entries(source.jobs)) out.push(`t3_jobs{state="${state}"} ${n}`);
    out.push('# HELP t3_model_info Loaded bundles and the execution provider in use.', '# TYPE t3_model_info gauge');
    for (const m of source.models) {
      out.push(`t3_model_info{bundle="${escapeLabel(m.name)}",version="${escapeLabel(m.version)}",execution_provider="${m.executionProvider}"} 1`);
    }
    out.push('# HELP t3_batch_images Images per classification call (a T3B call spans one or more merged batches).', '# TYPE t3_batch_images histogram');
    for (const [bundle, h] of this.batchSize) out.push(...h.render('t3_batch_images', `bundle="${escapeLabel(bundle)}"`));
    out.push('# HELP t3_batch_lambda λ_B of merged batches.', '# TYPE t3_batch_lambda histogram');
    for (const [bundle, h] of this.lambda) out.push(...h.render('t3_batch_lambda', `bundle="${escapeLabel(bundle)}"`));
    out.push('# HELP t3_study_latency_seconds From handover (stable study or request) to SR and metadata written.', '# TYPE t3_study_latency_seconds histogram');
    out.push(...this.latency.render('t3_study_latency_seconds', ''));
    out.push('# HELP t3_study_outcomes_total Finished study runs by outcome and reason.', '# TYPE t3_study_outcomes_total counter');
    for (const [key, n] of this.outcomes) {
      const [outcome, reason] = key.split('\u0000');
      out.push(`t3_study_outcomes_total{outcome="${outcome}",reason="${escapeLabel(reason)}"} ${n}`);
    }
    out.push('# HELP t3_images_classified_total Images (frames) classified, by bundle and source (study from Orthanc, classify from gRPC).', '# TYPE t3_images_classified_total counter');
    for (const [key, n] of this.imagesClassified) {
      const [bundle, source] = key.split('\u0000');
      out.push(`t3_images_classified_total{bundle="${escapeLabel(bundle)}",source="${source}"} ${n}`);
    }
    for (const extra of this.extras) out.push(...extra());
    return out.join('\n') + '\n';
  }
}
