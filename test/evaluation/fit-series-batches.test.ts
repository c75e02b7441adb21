import { t3Lambda } from '../../src/t3';
import {
  batchFitImages, concatFitImageTables, fitCoefficientMap, gridValue, lambdaGrid, seriesSplitFitImages,
  type FitImageTable, type FitSplit, type MapSearchSpace,
} from '../../src/evaluation';

const grid = lambdaGrid(-0.2, 1.2, 0.01);

function space(): MapSearchSpace {
  return {
    grid,
    endpoints: Array.from({ length: 15 }, (_, i) => Number((-0.2 + i * 0.1).toFixed(1))),
    gammas: [1, 4, 16, 64, 128],
    jsThresholds: Array.from({ length: 41 }, (_, i) => Number((i * 0.005).toFixed(3))),
    aggregations: ['lambda-of-mean-js'],
    guardTaus: [0.1], guardDeltas: [0.1], guardTemperature: 1, minGuardGain: 0.0025,
    smoothingSteps: 5, minBatchesPerSplit: 4, minDisagreements: 20,
  };
}

/** expert: right only where λ ≥ 0.5; generalist: right only where λ < 0.5; both: right everywhere. */
type Kind = 'expert' | 'generalist' | 'both';

function table(images: readonly { js: number; kind: Kind }[]): FitImageTable {
  const right = (kind: Kind, lambda: number) => kind === 'both' || (lambda >= 0.5) === (kind === 'expert');
  return {
    images: images.map(({ js, kind }) => ({ js, guardEntropyPt: 1, guardEntropyFt: 1, generalistRight: kind !== 'expert', expertRight: kind !== 'generalist' })),
    correct: Array.from({ length: grid.count }, (_, f) => Uint8Array.from(images, ({ kind }) => Number(right(kind, gridValue(grid, f))))),
  };
}

const repeat = (n: number, js: number, kind: Kind) => Array.from({ length: n }, () => ({ js, kind }));

/**
 * In-domain: JS 0.02, the expert right. Broad, two sites in order: site A (JS 0.05, the generalist right), then site
 * B (JS 0.1, both right). The pooled stream: batches of 20 in-domain and 12 site-B images, whose mean JS (0.05) is
 * site A's: whole, such a batch wants the expert where site A wants the generalist.
 */
function data(): { inDomain: FitImageTable; broad: FitImageTable; pooled: FitImageTable; sourceOf: number[] } {
  const inDomain = table(repeat(256, 0.02, 'expert'));
  const broad = table([...repeat(128, 0.05, 'generalist'), ...repeat(128, 0.1, 'both')]);
  const order: [number, number][] = [];
  for (let b = 0; b < 8; b++) {
    for (let i = 0; i < 20; i++) order.push([0, 20 * b + i]);
    for (let i = 0; i < 12; i++) order.push([1, 128 + 12 * b + i]);
  }
  return { inDomain, broad, pooled: concatFitImageTables([inDomain, broad], order), sourceOf: order.map(([s]) => s) };
}

describe('the pooled stream split by series (fit-series-batches.ts)', () => {
  test('splits each batch as t3b-grouped by series does: a series below minGroupSize stays with the batch', () => {
    const t = table([...repeat(20, 0.02, 'expert'), ...repeat(12, 0.1, 'generalist'), ...repeat(28, 0.02, 'expert'), ...repeat(4, 0.1, 'generalist')]);
    const sourceOf = [...Array(20).fill(0), ...Array(12).fill(1), ...Array(28).fill(0), ...Array(4).fill(1)];
    const split = seriesSplitFitImages('pooled', t, sourceOf, 32, { minGroupSize: 8, maxGroups: 2 }, ['in-domain', 'broad']);
    expect(split.pooledFrom).toEqual(['in-domain', 'broad']);
    // 20 + 12: two groups of their own; 28 + 4: the 4 are too few for a group and join the 28.
    expect(split.batches.map((b) => b.images.length)).toEqual([20, 12, 32]);
    const top = grid.count - 1;
    expect(split.batches.map((b) => [b.correctAt[0], b.correctAt[top]])).toEqual([[0, 20], [12, 0], [4, 28]]);
    // maxGroups 1 is plain T3B: every batch whole.
    expect(seriesSplitFitImages('pooled', t, sourceOf, 32, { minGroupSize: 8, maxGroups: 1 }, []).batches.map((b) => b.images.length)).toEqual([32, 32]);
    expect(() => seriesSplitFitImages('pooled', t, [0], 32, { minGroupSize: 8, maxGroups: 2 }, [])).toThrow(/1 sources for 64 images/);
  });

  test('change the chosen map where whole mixed batches and one site share a mean JS', () => {
    const { inDomain, broad, pooled, sourceOf } = data();
    const splits = (pooledSplit: FitSplit): FitSplit[] => [batchFitImages('in-domain', inDomain, 32), batchFitImages('broad', broad, 32), pooledSplit];
    const whole = fitCoefficientMap(splits(batchFitImages('pooled', pooled, 32, ['in-domain', 'broad'])), space());
    const bySeries = fitCoefficientMap(splits(seriesSplitFitImages('pooled', pooled, sourceOf, 32, { minGroupSize: 8, maxGroups: 2 }, ['in-domain', 'broad'])), space());
    // Whole mixed batches: the expert serves a batch of mean JS 0.05, so site A's batches get it too.
    expect(t3Lambda(0.05, whole.map)).toBeGreaterThanOrEqual(0.5);
    expect(whole.perSplit.broad).toBeCloseTo(0.5, 6);
    // Split by series: the map meets in-domain groups (JS 0.02) and site-B groups (0.1), and site A gets the generalist.
    expect(t3Lambda(0.02, bySeries.map)).toBeGreaterThanOrEqual(0.5);
    expect(t3Lambda(0.05, bySeries.map)).toBeLessThan(0.5);
    expect(bySeries.perSplit).toEqual({ 'in-domain': 1, broad: 1, pooled: 1 });
    // The pooled stream repeats images: the disagreements are the splits' own, either way.
    expect([bySeries.generalistOnly, bySeries.expertOnly]).toEqual([128, 256]);
    expect([whole.generalistOnly, whole.expertOnly]).toEqual([128, 256]);
  });
});
