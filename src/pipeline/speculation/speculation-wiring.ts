import { Gauge } from 'prom-client';
import { FIXED_PASS_POLICIES } from '../classification/classify-fixed-passes';
import { FixedPassCache, fixedPassKey, type FixedPassEntry } from '../classification/fixed-pass-cache';
import type { SidecarLog } from '../jobs/job-runner';
import type { PipelineMetrics } from '../jobs/metrics';
import { counterReadAtScrape } from '../jobs/scraped-counter';
import type { LoadedModel, ModelRegistry } from '../registry/model-registry';
import type { PipelineConfig } from '../registry/pipeline-config';
import { SpeculativePasses } from './speculative-passes';
import type { StudyInstance, StudyStore } from '../jobs/study-store';

export interface SpeculationWiringDeps {
  store: StudyStore;
  models: ModelRegistry;
  metrics: PipelineMetrics;
  log: SidecarLog;
  /** The live configuration. */
  config: () => PipelineConfig;
}

/**
 * Speculation (config `speculation.enabled`), wired to the sidecar's models: the fixed passes of each instance run as
 * it arrives and are kept in a bounded cache, keyed by the model load, frame policy, pixel source and SOP instance,
 * so that a study's analysis only runs its merged pass.
 */
export class SpeculationWiring {
  readonly cache: FixedPassCache;
  readonly runner: SpeculativePasses;

  constructor(private readonly deps: SpeculationWiringDeps) {
    this.cache = new FixedPassCache(deps.config().speculation.cacheMegabytes * 1024 * 1024);
    const config = deps.config;
    this.runner = new SpeculativePasses({
      store: deps.store,
      cache: this.cache,
      log: deps.log,
      models: () => new Map(deps.models.list().map((m) => [m.name, { name: m.name, engine: m.engine, identity: m.identity, idle: () => !m.batcher.busy && m.batcher.queuedImages === 0 }])),
      settings: () => ({
        routing: config().routing,
        framePolicy: config().inference.framePolicy,
        maxDecodedImageBytes: config().inference.maxDecodedImageBytes,
        pixelSource: config().inference.pixelSource,
        batchSize: config().batching.batchSize,
        maxDelayMs: config().batching.maxDelayMs,
        queueBound: config().speculation.queueBound,
        decodeConcurrency: config().inference.decodeConcurrency,
      }),
    });
    const cache = this.cache;
    const runner = this.runner;
    // The cache and runner keep their own counts: the metrics read them at each scrape.
    const registry = deps.metrics.registry;
    counterReadAtScrape(registry, {
      name: 't3_speculation_cache_lookups_total', help: 'Fixed-pass cache lookups at readiness, by result.', labelName: 'result',
      read: () => ({ hit: cache.stats.hits, miss: cache.stats.misses }),
    });
    new Gauge({
      name: 't3_speculation_cache_bytes', help: 'Memory held by cached fixed passes.', registers: [registry],
      collect() {
        this.set(cache.bytes);
      },
    });
    counterReadAtScrape(registry, {
      name: 't3_speculation_instances_total', help: 'Instances offered to speculation, by what became of them.', labelName: 'outcome',
      read: () => Object.fromEntries((['offered', 'stored', 'dropped', 'skipped', 'failed'] as const).map((k) => [k, runner.stats[k]])),
    });
  }

  /** True when the configured policy has fixed passes to run ahead (not generalist, expert or wise). */
  private get useful(): boolean {
    return FIXED_PASS_POLICIES.includes(this.deps.config().inference.policy);
  }

  /** An instance arrived (NewInstance): its fixed passes start now, best effort. */
  offer(orthancInstanceId: string): void {
    if (this.useful) this.runner.offer(orthancInstanceId);
  }

  private keyFor(model: LoadedModel, sopInstanceUid: string): string {
    const { framePolicy, pixelSource } = this.deps.config().inference;
    return fixedPassKey({ modelIdentity: model.identity, framePolicy, pixelSource, sopInstanceUid });
  }

  /** Cached fixed passes of an instance for this model, unless a speculation on it is still running (it may be newer). */
  cached(model: LoadedModel, inst: StudyInstance): FixedPassEntry | undefined {
    if (!this.useful || this.runner.isPending(inst.orthancInstanceId)) return undefined;
    return this.cache.get(this.keyFor(model, inst.sopInstanceUid), inst.orthancInstanceId);
  }

  /** Keeps the fixed passes a study's analysis computed, for a later run of the same instance. */
  remember(model: LoadedModel, orthancInstanceId: string, info: FixedPassEntry['info'], frames: FixedPassEntry['frames']): void {
    if (this.runner.isPending(orthancInstanceId) || this.deps.models.get(model.name) !== model) return;
    this.cache.set({ key: this.keyFor(model, info.sopInstanceUid), orthancInstanceId, info, frames });
  }

  stop(): void {
    this.runner.stop();
  }
}
