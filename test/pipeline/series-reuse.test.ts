import type { BatchInference } from '../../src/engine';
import { SeriesLambdaStore, seriesLambdaStoreFor } from '../../src/pipeline/classification/series-lambda-store';
import { lambdaEstimationFor, rememberSeriesLambda } from '../../src/pipeline/classification/series-reuse';
import { defaultLambdaEstimatorSettings, type LambdaEstimateRecord, type LambdaEstimatorSettings } from '../../src/t3';

function settings(sequential: boolean, seriesReuse: boolean): LambdaEstimatorSettings {
  const s = defaultLambdaEstimatorSettings();
  s.sequential.enabled = sequential;
  s.seriesReuse.enabled = seriesReuse;
  return s;
}

function batch(id: string, lambdaB: number, estimate?: Partial<LambdaEstimateRecord>): BatchInference {
  return {
    batchId: id, policy: 't3b', batchLambda: lambdaB, images: [], passes: 3, executionProvider: 'cpu', durationMs: 1, coefficientSample: null,
    ...(estimate ? { lambdaEstimate: { method: 'sequential', sampled: 4, outcome: 'decided', confidence: 0.95, reusedFrom: null, sampleLambda: lambdaB, ...estimate } } : {}),
  } as BatchInference;
}

describe('SeriesLambdaStore', () => {
  test('returns what was stored, drops it after maxAgeMs, and keeps at most maxSeries (oldest estimate first out)', () => {
    let now = 1000;
    const store = new SeriesLambdaStore({ maxSeries: 2, maxAgeMs: 500 }, () => now);
    store.set('A', { lambdaB: 1.1, batchId: 'a1', images: 32 });
    expect(store.get('A')).toEqual({ lambdaB: 1.1, batchId: 'a1', images: 32, estimatedAt: 1000 });
    now = 1500;
    expect(store.get('A')).not.toBeNull();
    now = 1501;
    expect(store.get('A')).toBeNull();
    expect(store.size).toBe(0);
    store.set('A', { lambdaB: 1, batchId: 'a2', images: 8 });
    store.set('B', { lambdaB: 2, batchId: 'b1', images: 8 });
    store.set('C', { lambdaB: 3, batchId: 'c1', images: 8 });
    expect(store.size).toBe(2);
    expect(store.get('A')).toBeNull();
    expect(store.get('B')?.batchId).toBe('b1');
    // Re-estimating B makes it the newest: C is then the oldest.
    store.set('B', { lambdaB: 2.5, batchId: 'b2', images: 8 });
    store.set('D', { lambdaB: 4, batchId: 'd1', images: 8 });
    expect(store.get('C')).toBeNull();
    expect(store.get('B')?.batchId).toBe('b2');
  });

  test('refuses limits that cannot bound it', () => {
    expect(() => new SeriesLambdaStore({ maxSeries: 0, maxAgeMs: 1 })).toThrow(RangeError);
    expect(() => new SeriesLambdaStore({ maxSeries: 1, maxAgeMs: 0 })).toThrow(RangeError);
  });

  test('one store per engine: the same engine gets it back, another engine (a new bundle) starts empty', () => {
    const engineA = {};
    const engineB = {};
    const a = seriesLambdaStoreFor(engineA, { maxSeries: 4, maxAgeMs: 1000 });
    a.set('S', { lambdaB: 1, batchId: 'x', images: 1 });
    expect(seriesLambdaStoreFor(engineA, { maxSeries: 4, maxAgeMs: 1000 })).toBe(a);
    expect(seriesLambdaStoreFor(engineB, { maxSeries: 4, maxAgeMs: 1000 }).get('S')).toBeNull();
  });
});

describe('lambdaEstimationFor / rememberSeriesLambda', () => {
  test('a later batch of an estimated series is checked against its λ_B; a first batch is estimated in full', () => {
    const store = new SeriesLambdaStore({ maxSeries: 8, maxAgeMs: 60_000 });
    const s = settings(false, true);
    const series = Array<string>(8).fill('1.2.3');
    expect(lambdaEstimationFor(s, store, series)).toEqual({});
    rememberSeriesLambda(store, series, batch('b1', 0.9));
    expect(lambdaEstimationFor(s, store, series)).toEqual({
      lambdaEstimation: { method: 'series-reuse', lambdaB: 0.9, fromBatch: 'b1', checkImages: 2, lambdaTolerance: 0.1 },
    });
  });

  test('a reused λ_B does not renew the entry; a re-estimate after a failed check replaces it', () => {
    const store = new SeriesLambdaStore({ maxSeries: 8, maxAgeMs: 60_000 });
    const series = Array<string>(4).fill('S');
    rememberSeriesLambda(store, series, batch('b1', 0.9));
    rememberSeriesLambda(store, series, batch('b2', 0.9, { method: 'series-reuse', outcome: 'reused', reusedFrom: 'b1', confidence: null }));
    expect(store.get('S')?.batchId).toBe('b1');
    rememberSeriesLambda(store, series, batch('b3', 0.2, { method: 'series-reuse', outcome: 'check-failed', reusedFrom: 'b1', sampled: 4, confidence: null }));
    expect(store.get('S')).toMatchObject({ batchId: 'b3', lambdaB: 0.2, images: 4 });
  });

  test('a batch holding several series (or an image without one) is never reused and stores nothing', () => {
    const store = new SeriesLambdaStore({ maxSeries: 8, maxAgeMs: 60_000 });
    rememberSeriesLambda(store, ['A', 'A'], batch('b1', 0.9));
    rememberSeriesLambda(store, ['B', 'B'], batch('b2', 0.3));
    expect(lambdaEstimationFor(settings(false, true), store, ['A', 'B'])).toEqual({});
    rememberSeriesLambda(store, ['A', 'B'], batch('b3', 0.5));
    expect(store.get('A')?.batchId).toBe('b1');
    expect(store.get('B')?.batchId).toBe('b2');
    rememberSeriesLambda(store, ['', ''], batch('b4', 0.5));
    expect(store.size).toBe(2);
    // With sequential sampling on, the mixed batch is sampled sequentially instead.
    expect(lambdaEstimationFor(settings(true, true), store, ['A', 'B']).lambdaEstimation?.method).toBe('sequential');
  });

  test('both on: series reuse first, with sequential sampling as the fallback of a failed check', () => {
    const store = new SeriesLambdaStore({ maxSeries: 8, maxAgeMs: 60_000 });
    rememberSeriesLambda(store, ['A'], batch('b1', 0.9));
    const options = lambdaEstimationFor(settings(true, true), store, ['A', 'A']);
    expect(options.lambdaEstimation).toMatchObject({ method: 'series-reuse', fallback: { confidence: 0.95, minImages: 8, step: 2, maxImages: 16, lambdaTolerance: 0.1 } });
    expect(lambdaEstimationFor(settings(false, false), store, ['A'])).toEqual({});
  });

  test('series reuse expires: after maxAgeSeconds the next batch is estimated afresh', () => {
    let now = 0;
    const store = new SeriesLambdaStore({ maxSeries: 8, maxAgeMs: 600_000 }, () => now);
    rememberSeriesLambda(store, ['A'], batch('b1', 0.9));
    now = 600_001;
    expect(lambdaEstimationFor(settings(false, true), store, ['A'])).toEqual({});
  });
});
