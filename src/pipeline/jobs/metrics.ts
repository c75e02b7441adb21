import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClassifyOutcome } from '../classification/classify-images';

/**
 * Prometheus metrics of the pipeline, kept in a prom-client registry: the library escapes label values and formats
 * the exposition text, so a bundle name or reason with a quote, backslash or newline cannot break a scrape. Labels
 * carry bundle names, lanes, states and reason codes only: no patient data. The metric names, types, label names and
 * help texts are the ones dashboards already use (test/cli/serve-metrics.test.ts keeps them).
 */

export interface MetricsSnapshotSource {
  queues: { bundle: string; stat: number; routine: number; queuedImages: number }[];
  jobs: Record<string, number>;
  models: { name: string; version: string; executionProvider: string }[];
}

const EMPTY_SNAPSHOT: MetricsSnapshotSource = { queues: [], jobs: {}, models: [] };

export class PipelineMetrics {
  /**
   * The registry /metrics serves. One per sidecar (never prom-client's global one), so several sidecars in one
   * process (tests) keep their own counts; other parts (speculation, shared mode, the follower) register on it.
   */
  readonly registry: Registry;
  private snapshot: () => MetricsSnapshotSource = () => EMPTY_SNAPSHOT;
  private readonly batchImages: Histogram<'bundle'>;
  private readonly batchLambda: Histogram<'bundle'>;
  private readonly latency: Histogram;
  private readonly outcomes: Counter<'outcome' | 'reason'>;
  private readonly imagesClassified: Counter<'bundle' | 'source'>;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    // Queues, jobs and models are read when scraped: reset first, so a bundle no longer loaded disappears.
    const read = (): MetricsSnapshotSource => this.snapshot();
    new Gauge({
      name: 't3_queue_depth', help: 'Studies waiting per bundle and lane.', labelNames: ['bundle', 'lane'] as const, registers,
      collect() {
        this.reset();
        for (const q of read().queues) {
          this.set({ bundle: q.bundle, lane: 'stat' }, q.stat);
          this.set({ bundle: q.bundle, lane: 'routine' }, q.routine);
        }
      },
    });
    new Gauge({
      name: 't3_queued_images', help: 'Images waiting in each bundle batcher.', labelNames: ['bundle'] as const, registers,
      collect() {
        this.reset();
        for (const q of read().queues) this.set({ bundle: q.bundle }, q.queuedImages);
      },
    });
    new Gauge({
      name: 't3_jobs', help: 'Study jobs by state.', labelNames: ['state'] as const, registers,
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(read().jobs)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 't3_model_info', help: 'Loaded bundles and the execution provider in use.', labelNames: ['bundle', 'version', 'execution_provider'] as const, registers,
      collect() {
        this.reset();
        for (const m of read().models) this.set({ bundle: m.name, version: m.version, execution_provider: m.executionProvider }, 1);
      },
    });
    this.batchImages = new Histogram({
      name: 't3_batch_images', help: 'Images per classification call (a T3B call spans one or more merged batches).',
      labelNames: ['bundle'] as const, buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers,
    });
    this.batchLambda = new Histogram({
      name: 't3_batch_lambda', help: 'λ_B of merged batches.',
      labelNames: ['bundle'] as const, buckets: [0, 0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1], registers,
    });
    this.latency = new Histogram({
      name: 't3_study_latency_seconds', help: 'From handover (stable study or request) to SR and metadata written.',
      buckets: [0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120], registers,
    });
    this.outcomes = new Counter({
      name: 't3_study_outcomes_total', help: 'Finished study runs by outcome and reason.', labelNames: ['outcome', 'reason'] as const, registers,
    });
    this.imagesClassified = new Counter({
      name: 't3_images_classified_total', help: 'Images (frames) classified, by bundle and source (study from Orthanc, classify from gRPC).',
      labelNames: ['bundle', 'source'] as const, registers,
    });
  }

  /** Where the queue, job and model gauges read their values at each scrape (the Sidecar's status). */
  readSnapshotFrom(source: () => MetricsSnapshotSource): void {
    this.snapshot = source;
  }

  /** One classification call of a bundle's batcher with `images` inputs. */
  observeBatch(bundle: string, images: number): void {
    // prom-client throws on a non-finite value; a metric must never fail a classification.
    if (Number.isFinite(images)) this.batchImages.observe({ bundle }, images);
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
    // Incremented by 0 too: the series exists from a bundle's first call on, as before.
    this.imagesClassified.inc({ bundle, source }, images);
    for (const lambda of lambdas.values()) this.observeLambda(bundle, lambda);
  }

  observeLambda(bundle: string, lambda: number): void {
    if (Number.isFinite(lambda)) this.batchLambda.observe({ bundle }, lambda);
  }

  /** Handover of the study (stable, or requested) → SR and metadata written. */
  observeLatency(seconds: number): void {
    if (Number.isFinite(seconds)) this.latency.observe(seconds);
  }

  /** done | unchanged | skipped | failed | parked | gone, with a reason code for failures. */
  countOutcome(outcome: string, reason = ''): void {
    this.outcomes.inc({ outcome, reason });
  }
}
