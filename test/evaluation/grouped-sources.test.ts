import type { BatchInference, InferOptions } from '../../src/engine';
import {
  homogeneousSeriesOrder, pooledOrder, pooledPreparedSplit, scorePolicyOnSplit, seriesPreparedSplit, type InferenceRunner, type PreparedSplit,
} from '../../src/evaluation';
import { defaultPolicyConfig, type PolicyConfig } from '../../src/t3';

// eval and fit hand grouped T3B each image's source: the split a pooled image came from, a series stream's series.

function split(name: string, count: number, label: number): PreparedSplit {
  return { name, kind: 'clean', tensors: new Float32Array(count * 2).fill(label), labels: Array<number>(count).fill(label) };
}

/** Records the sources of every call and answers each image with its own pixel value as the class. */
class RecordingRunner implements InferenceRunner {
  readonly sources: (readonly string[] | undefined)[] = [];
  async infer(pixels: Float32Array, count: number, policy: PolicyConfig, options: InferOptions = {}): Promise<BatchInference> {
    this.sources.push(options.sources);
    const images = Array.from({ length: count }, (_, i) => {
      const probabilities = [0, 0];
      probabilities[pixels[2 * i]] = 1;
      return { probabilities, js: 0.1, lambda: 0.5, lambdaFinal: 0.5, entropyPt: 0, entropyFt: 0, extrapolationTriggered: false, appliedLambda: 0.5, group: 0 };
    });
    return { batchId: 'b', policy: policy.name, batchLambda: 0.5, images, passes: 3, executionProvider: 'cpu', durationMs: 0, coefficientSample: null, groupLambdas: [0.5] };
  }
}

const grouped = { id: 't3b-grouped-4', label: 'grouped', config: defaultPolicyConfig('t3b-grouped'), batchSize: 4 };
const splits = [split('in-domain', 6, 0), split('shifted', 6, 1)];

test('each image of the pooled stream carries the split it came from, in the stream\'s order', async () => {
  const order = pooledOrder([6, 6], 'test');
  const pooled = pooledPreparedSplit('pooled', splits, order);
  expect(pooled.sources).toEqual(order.map(([s]) => splits[s].name));
  const runner = new RecordingRunner();
  const run = await scorePolicyOnSplit(runner, grouped, pooled);
  expect(runner.sources.flatMap((s) => [...(s ?? [])])).toEqual(pooled.sources);
  // The recorded source of every image agrees with its label (split 0 is class 0 here).
  expect(run.score.accuracy).toBe(1);
  expect(pooled.sources?.map((s) => (s === 'in-domain' ? 0 : 1))).toEqual(pooled.labels);
});

test('a series stream\'s images carry their series; a plain split is one source; other policies get none', async () => {
  const stream = seriesPreparedSplit('series', splits, homogeneousSeriesOrder(splits, { seriesLength: 3, chunk: 4 }));
  const runner = new RecordingRunner();
  await scorePolicyOnSplit(runner, grouped, stream);
  expect(runner.sources.flatMap((s) => [...(s ?? [])])).toEqual(stream.series);
  const plain = new RecordingRunner();
  await scorePolicyOnSplit(plain, grouped, splits[0]);
  expect(plain.sources.flatMap((s) => [...(s ?? [])])).toEqual(Array<string>(6).fill('in-domain'));
  const t3b = new RecordingRunner();
  await scorePolicyOnSplit(t3b, { ...grouped, id: 't3b-4', config: defaultPolicyConfig('t3b') }, stream);
  expect(t3b.sources.every((s) => s === undefined)).toBe(true);
});
