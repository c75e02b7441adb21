import type { BatchInference, ImageInference } from '../../src/engine';
import { SeriesLambdaStore } from '../../src/pipeline/classification/series-lambda-store';
import { rememberGroupLambdas } from '../../src/pipeline/classification/series-reuse';
import type { LambdaEstimateRecord } from '../../src/t3';

const image = (group: number): ImageInference => ({
  probabilities: [1, 0], js: 0.1, lambda: 0.5, lambdaFinal: 0.5, entropyPt: 1, entropyFt: 1, extrapolationTriggered: false, appliedLambda: 0.5, group,
});
const record = (outcome: LambdaEstimateRecord['outcome'], sampled: number): LambdaEstimateRecord =>
  ({ method: outcome === 'reused' ? 'series-reuse' : 'sequential', outcome, sampled, confidence: null, reusedFrom: null, sampleLambda: 0.5 });

function batch(groups: number[], estimates?: BatchInference['groupEstimates']): BatchInference {
  return {
    batchId: 'b7', policy: 't3b-grouped', batchLambda: null, passes: 4, executionProvider: 'cpu', durationMs: 1, coefficientSample: null,
    images: groups.map(image), groupLambdas: [1.1, 0.1, 0.6], ...(estimates ? { groupEstimates: estimates } : {}),
  };
}

test('each one-series group estimated afresh becomes its series\' entry under the group\'s id; reused and mixed groups do not', () => {
  const store = new SeriesLambdaStore({ maxSeries: 8, maxAgeMs: 60_000 });
  // Group 0: series A (decided from 2), group 1: series B (reused), group 2: the remainder of C and D.
  const series = ['A', 'B', 'A', 'B', 'C', 'D'];
  rememberGroupLambdas(store, series, batch([0, 1, 0, 1, 2, 2], [
    { record: record('decided', 2), sampleSize: 2 }, { record: record('reused', 2), sampleSize: 2 }, { record: null, sampleSize: null },
  ]));
  expect(store.get('A')).toMatchObject({ lambdaB: 1.1, batchId: 'b7/g0', images: 2 });
  expect(store.get('B')).toBeNull();
  expect(store.get('C')).toBeNull();
  expect(store.get('D')).toBeNull();
});

test('groups split at the map\'s step (no group estimates) are never stored: such a group may hold part of a series', () => {
  const store = new SeriesLambdaStore({ maxSeries: 8, maxAgeMs: 60_000 });
  rememberGroupLambdas(store, ['A', 'A', 'A'], batch([0, 1, 1]));
  expect(store.size).toBe(0);
});
