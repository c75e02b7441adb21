import { aggregateBatchLambda, groupBatch, resolveHyperparameters, T3InputError, t3Lambda, validateHyperparameters } from '../../src/t3';

// A steep fitted-style map (as bundles/demo-trained): the expert's weight 1.1 below the step at JS 0.065, 0.1 above.
const steep = resolveHyperparameters({ lambdaMin: 1.1, lambdaMax: 0.1, gamma: 128, jsThreshold: 0.065, batchAggregation: 'lambda-of-mean-js' });

function images(jsValues: readonly number[]): { js: number; lambda: number; lambdaFinal: number }[] {
  return jsValues.map((js) => ({ js, lambda: t3Lambda(js, steep), lambdaFinal: t3Lambda(js, steep) }));
}

const bySeries = (minGroupSize: number, maxGroups: number) => ({ minGroupSize, maxGroups, groupBy: 'series' as const });
/** Deterministic JS values spread over both sides of the step, so a split by the step would differ from one by series. */
const js = (n: number, offset = 0) => Array.from({ length: n }, (_, i) => 0.01 + 0.02 * ((i * 7 + offset) % 11));

describe('groupBatch by series', () => {
  test('a batch of one series is one group whose λ is T3B\'s λ_B exactly, whatever the limits', () => {
    const batch = images(js(32));
    const sources = Array<string>(32).fill('1.2.3.4');
    for (const [min, max] of [[1, 1], [1, 8], [8, 2], [40, 4]]) {
      const groups = groupBatch(batch, steep, bySeries(min, max), sources);
      expect(groups.groupOf).toEqual(Array<number>(32).fill(0));
      expect(groups.lambdas).toEqual([aggregateBatchLambda(batch, steep)]);
      expect(groups.sizes).toEqual([32]);
      expect(groups.seriesCounts).toEqual([1]);
    }
    // The step would have split the same batch: grouping by series ignores it.
    expect(groupBatch(batch, steep, { minGroupSize: 4, maxGroups: 2 }).lambdas).toHaveLength(2);
  });

  test('two series of a batch get a group each, with λ over their own images', () => {
    const values = js(32);
    const sources = values.map((_, i) => (i % 3 === 0 ? 'B' : 'A'));
    const groups = groupBatch(images(values), steep, bySeries(8, 2), sources);
    // Group 0 holds the batch's first image (series B).
    expect(groups.groupOf).toEqual(sources.map((s) => (s === 'B' ? 0 : 1)));
    expect(groups.sizes).toEqual([11, 21]);
    expect(groups.seriesCounts).toEqual([1, 1]);
    const of = (series: string) => images(values.filter((_, i) => sources[i] === series));
    expect(groups.lambdas[0]).toBe(aggregateBatchLambda(of('B'), steep));
    expect(groups.lambdas[1]).toBe(aggregateBatchLambda(of('A'), steep));
  });

  test('series smaller than minGroupSize form one remainder group, or join the largest group when the remainder is small too', () => {
    // A: 16 images, B: 6, C: 6, D: 4 — with minGroupSize 8 only A is large; the remainder B+C+D (16) is a group.
    const sources = [...Array<string>(16).fill('A'), ...Array<string>(6).fill('B'), ...Array<string>(6).fill('C'), ...Array<string>(4).fill('D')];
    const batch = images(js(32, 3));
    const groups = groupBatch(batch, steep, bySeries(8, 4), sources);
    expect(groups.sizes).toEqual([16, 16]);
    expect(groups.seriesCounts).toEqual([1, 3]);
    expect(groups.groupOf.slice(16)).toEqual(Array<number>(16).fill(1));
    expect(groups.lambdas[1]).toBe(aggregateBatchLambda(batch.slice(16), steep));
    // With minGroupSize 20 nothing is large: the whole batch is the remainder, T3B's λ_B.
    expect(groupBatch(batch, steep, bySeries(20, 4), sources).lambdas).toEqual([aggregateBatchLambda(batch, steep)]);
    // A: 26, B: 6 with minGroupSize 8: the remainder (6) is too small for a λ of its own and joins A.
    const joined = groupBatch(batch, steep, bySeries(8, 4), [...Array<string>(26).fill('A'), ...Array<string>(6).fill('B')]);
    expect(joined.sizes).toEqual([32]);
    expect(joined.seriesCounts).toEqual([2]);
    // Images without a series ('') are never a series of their own: they are remainder.
    const unknown = groupBatch(batch, steep, bySeries(4, 4), [...Array<string>(16).fill('A'), ...Array<string>(16).fill('')]);
    expect(unknown.sizes).toEqual([16, 16]);
    expect(unknown.seriesCounts).toEqual([1, 1]);
  });

  test('at most maxGroups groups: the largest series first, the rest to the remainder', () => {
    // Four series of 10, 9, 8 and 5 images.
    const sources = [...Array<string>(5).fill('D'), ...Array<string>(8).fill('C'), ...Array<string>(10).fill('A'), ...Array<string>(9).fill('B')];
    const batch = images(js(32, 5));
    const two = groupBatch(batch, steep, bySeries(4, 2), sources);
    // One place for A (largest), one for the remainder D + C + B; group 0 holds the first image (D, remainder).
    expect(two.sizes).toEqual([22, 10]);
    expect(two.seriesCounts).toEqual([3, 1]);
    expect(two.groupOf.filter((g, i) => sources[i] === 'A' && g === 1)).toHaveLength(10);
    const three = groupBatch(batch, steep, bySeries(4, 3), sources);
    expect(three.sizes.slice().sort((a, b) => a - b)).toEqual([9, 10, 13]);
    // Every series its own group when there are places for all and each is large enough.
    const four = groupBatch(batch, steep, bySeries(4, 4), sources);
    expect(four.sizes).toEqual([5, 8, 10, 9]);
    // maxGroups 1 is plain T3B.
    expect(groupBatch(batch, steep, bySeries(4, 1), sources).lambdas).toEqual([aggregateBatchLambda(batch, steep)]);
  });

  test('deterministic: the same values, sources and order give the same groups; ties go to the series seen first', () => {
    const sources = [...Array<string>(8).fill('X'), ...Array<string>(8).fill('Y'), ...Array<string>(8).fill('Z')];
    const batch = images(js(24));
    const a = groupBatch(batch, steep, bySeries(8, 2), sources);
    expect(groupBatch(batch, steep, bySeries(8, 2), sources)).toEqual(a);
    // X, Y, Z tie at 8: X (seen first) keeps its place, Y and Z form the remainder.
    expect(a.groupOf).toEqual([...Array<number>(8).fill(0), ...Array<number>(16).fill(1)]);
  });

  test('refuses a batch without one series per image, and a bad groupBy', () => {
    const batch = images(js(4));
    expect(() => groupBatch(batch, steep, bySeries(1, 2))).toThrow(T3InputError);
    expect(() => groupBatch(batch, steep, bySeries(1, 2), ['a', 'b'])).toThrow(/needs the series of every image: 2 series for 4 images/);
    expect(() => groupBatch(batch, steep, { minGroupSize: 1, maxGroups: 2, groupBy: 'pixels' as never }, ['a', 'a', 'a', 'a'])).toThrow(/groupBy must be one of js-step, series/);
    expect(() => validateHyperparameters({ ...steep, groupBy: 'study' as never })).toThrow(/hyperparameter groupBy must be one of js-step, series, got "study"/);
  });
});
