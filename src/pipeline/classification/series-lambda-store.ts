/**
 * The λ_B last estimated for each series (SeriesInstanceUID), for series reuse (series-reuse.ts): bounded in size
 * (the least recently estimated series is dropped first) and in age (an entry older than maxAgeMs is not returned,
 * so a series that pauses and resumes is estimated afresh). One store per engine: a λ_B belongs to one pair of
 * models and one map, so a new bundle starts with an empty store (seriesLambdaStoreFor).
 */
export interface SeriesLambdaEntry {
  lambdaB: number;
  /** The batch whose fixed passes gave it. */
  batchId: string;
  /** Images of that batch that gave it. */
  images: number;
  /** When it was estimated (ms, the store's clock). */
  estimatedAt: number;
}

export class SeriesLambdaStore {
  private readonly entries = new Map<string, SeriesLambdaEntry>();

  constructor(
    private readonly limits: { maxSeries: number; maxAgeMs: number },
    private readonly now: () => number = Date.now,
  ) {
    if (!(Number.isInteger(limits.maxSeries) && limits.maxSeries >= 1)) throw new RangeError(`maxSeries must be an integer >= 1, got ${limits.maxSeries}`);
    if (!(limits.maxAgeMs > 0)) throw new RangeError(`maxAgeMs must be positive, got ${limits.maxAgeMs}`);
  }

  /** The series' entry while it is young enough; an expired one is dropped. */
  get(series: string): SeriesLambdaEntry | null {
    const entry = this.entries.get(series);
    if (!entry) return null;
    if (this.now() - entry.estimatedAt > this.limits.maxAgeMs) {
      this.entries.delete(series);
      return null;
    }
    return entry;
  }

  /** Records a fresh estimate (stamped now); drops the oldest-estimated series beyond maxSeries. */
  set(series: string, entry: Omit<SeriesLambdaEntry, 'estimatedAt'>): void {
    this.entries.delete(series);
    this.entries.set(series, { ...entry, estimatedAt: this.now() });
    while (this.entries.size > this.limits.maxSeries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

const stores = new WeakMap<object, SeriesLambdaStore>();

/**
 * The store of one engine (created on first use with these limits): series state lives exactly as long as the
 * engine that estimated it, so replacing the bundle (new models or map) forgets every stored λ_B.
 */
export function seriesLambdaStoreFor(engine: object, limits: { maxSeries: number; maxAgeMs: number }): SeriesLambdaStore {
  let store = stores.get(engine);
  if (!store) {
    store = new SeriesLambdaStore(limits);
    stores.set(engine, store);
  }
  return store;
}
