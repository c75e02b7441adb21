import { demoBundleDir, loadBundle, policyForBundle, T3Engine, type ExecutionProviderName, type ModelBundle } from '../../engine';
import type { PolicyConfig } from '../../t3';
import { T3bBatcher, type ClassifyFn } from '../classification/batcher';
import type { SidecarLog } from '../jobs/job-runner';
import type { PipelineConfig } from './pipeline-config';
import { checkDemonstrationAllowed, DEMONSTRATION_NOTICE } from './demonstration-model';

/** One configured bundle, open: its engine and its T3B batcher. */
export interface LoadedModel {
  /** The configured name (bundles[].name). */
  name: string;
  dir: string;
  bundle: ModelBundle;
  engine: T3Engine;
  batcher: T3bBatcher;
  /** Identity of this load's logits (bundle, model hashes, input spec, load generation): the fixed-pass cache key. */
  identity: string;
}

export interface ModelRegistryDeps {
  log: SidecarLog;
  /** The batch function of a model's batcher (how its queued images are classified). */
  classifierFor(model: LoadedModel): ClassifyFn;
}

/** The policy the pipeline's models run under: the configured one, with each bundle's own hyperparameters. */
export function policyFor(bundle: ModelBundle, inference: PipelineConfig['inference']): PolicyConfig {
  return policyForBundle(bundle, inference.policy, { wiseAlpha: inference.wiseAlpha });
}

/**
 * The open bundles by configured name: load at start, reload (new files on disk) with a swap once the old batchers
 * are idle, close at stop. Each load has a generation, so logits of an older load never pass for a newer one.
 */
export class ModelRegistry {
  private models = new Map<string, LoadedModel>();
  private generation = 0;

  constructor(private readonly deps: ModelRegistryDeps) {}

  get(name: string): LoadedModel | undefined {
    return this.models.get(name);
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  list(): LoadedModel[] {
    return [...this.models.values()];
  }

  /** True while some model's batcher has no room for more images. */
  anyFull(): boolean {
    return this.list().some((m) => !m.batcher.hasRoom());
  }

  /** The open engines by configured bundle name. */
  engines(): ReadonlyMap<string, T3Engine> {
    return new Map(this.list().map((m) => [m.name, m.engine]));
  }

  /** Opens every configured bundle; replaces the current set (the first load). */
  async load(config: PipelineConfig): Promise<void> {
    this.models = await this.open(config);
  }

  /** Opens the configured bundles again and swaps them in; the old engines close once their batchers are idle. */
  async reload(config: PipelineConfig): Promise<{ name: string; version: string; executionProvider: ExecutionProviderName }[]> {
    const fresh = await this.open(config);
    const old = this.models;
    this.models = fresh;
    for (const m of old.values()) {
      await m.batcher.whenIdle();
      await m.engine.close();
    }
    return [...fresh.values()].map((m) => ({ name: m.bundle.manifest.name, version: m.bundle.manifest.version, executionProvider: m.engine.executionProvider }));
  }

  /** Waits for the batchers to drain, then closes every engine. */
  async close(): Promise<void> {
    for (const m of this.models.values()) await m.batcher.whenIdle();
    for (const m of this.models.values()) await m.engine.close();
    this.models.clear();
  }

  updateBatching(batching: PipelineConfig['batching']): void {
    for (const m of this.models.values()) m.batcher.updateSettings(batching);
  }

  private async open(config: PipelineConfig): Promise<Map<string, LoadedModel>> {
    const out = new Map<string, LoadedModel>();
    const generation = ++this.generation;
    try {
      for (const entry of config.bundles) {
        const dir = entry.dir === 'demo' ? demoBundleDir() : entry.dir;
        const bundle = await loadBundle(dir);
        checkDemonstrationAllowed(entry, bundle.manifest, config.deployment);
        if (bundle.manifest.demonstration) {
          // Said at every start, so no one mistakes the results for a clinical model's.
          this.deps.log('demonstration-model', { bundle: entry.name, name: bundle.manifest.name, version: bundle.manifest.version, dir, notice: DEMONSTRATION_NOTICE });
        }
        const engine = await T3Engine.open(bundle, {
          executionProviders: config.inference.executionProviders,
          fixedPassSessions: config.inference.fixedPassSessions,
          intraOpThreads: config.inference.intraOpThreads === 'auto' ? undefined : config.inference.intraOpThreads,
          log: (message) => this.deps.log('engine', { bundle: entry.name, message }),
        });
        const m = bundle.manifest;
        const identity = `${m.name}@${m.version}#${m.models.generalist.sha256}:${m.models.expert.sha256}#${JSON.stringify(m.input)}#g${generation}`;
        const model = { name: entry.name, dir, bundle, engine, identity } as LoadedModel;
        model.batcher = new T3bBatcher(entry.name, this.deps.classifierFor(model), config.batching);
        out.set(entry.name, model);
      }
    } catch (err) {
      for (const m of out.values()) await m.engine.close();
      throw err;
    }
    return out;
  }
}
