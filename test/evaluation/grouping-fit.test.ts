import { fitGrouping, gridValue, lambdaGrid, type FitImageTable, type GroupingSearch, type GroupingStream } from '../../src/evaluation';
import { DEFAULT_T3_HYPERPARAMETERS, type T3Hyperparameters } from '../../src/t3';

const grid = lambdaGrid(-0.2, 1.2, 0.01);
const BATCH = 32;

/** A step map: JS below 0.1 gives λ = 1 (expert), above gives λ = 0 (generalist). */
const hp: T3Hyperparameters = {
  ...DEFAULT_T3_HYPERPARAMETERS, lambdaMin: 1, lambdaMax: 0, gamma: 256, jsThreshold: 0.1, batchAggregation: 'lambda-of-mean-js', extDelta: 0,
};

type Kind = 'expert-image' | 'generalist-image';

/** Images that the merged model gets right only on their model's side of λ = 0.5, with the given JS. */
function table(images: { js: number; kind: Kind }[]): FitImageTable {
  return {
    images: images.map((im) => ({ js: im.js, guardEntropyPt: 1, guardEntropyFt: 1, generalistRight: im.kind === 'generalist-image', expertRight: im.kind === 'expert-image' })),
    correct: Array.from({ length: grid.count }, (_, f) => Uint8Array.from(images, (im) => ((gridValue(grid, f) >= 0.5) === (im.kind === 'expert-image') ? 1 : 0))),
  };
}

const batches = 10;
/** In-domain: every image has low JS and wants the expert. */
const inDomain: { js: number; kind: Kind }[] = Array.from({ length: batches * BATCH }, () => ({ js: 0.02, kind: 'expert-image' }));
/** Shifted: high JS, wants the generalist, but 6 images per batch have low JS although the generalist is right on them:
 *  a minGroupSize of 6 or less splits them off and gives them the expert's λ (the needless split that loses). */
const shifted: { js: number; kind: Kind }[] = Array.from({ length: batches * BATCH }, (_, i) => ({ js: i % BATCH < 6 ? 0.05 : 0.3, kind: 'generalist-image' }));
/** Pooled: each batch is 16 in-domain and 16 shifted images, alternating. */
const pooled: { js: number; kind: Kind }[] = Array.from({ length: batches * BATCH }, (_, i) => (i % 2 === 0 ? inDomain[i] : { js: 0.3, kind: 'generalist-image' }));

const streams = (withPooled: boolean): GroupingStream[] => [
  { name: 'in-domain', homogeneous: true, table: table(inDomain) },
  { name: 'shifted', homogeneous: true, table: table(shifted) },
  ...(withPooled ? [{ name: 'pooled', homogeneous: false, table: table(pooled), sourceOf: pooled.map((_, i) => i % 2) }] : []),
];

/** Plain T3B as recorded when grouping is not chosen (the bundle's minGroupSize and groupBy). */
const PLAIN = { minGroupSize: 8, groupBy: 'js-step' as const };

const search = (overrides: Partial<GroupingSearch> = {}): GroupingSearch => ({
  grid, batchSize: BATCH, minGroupSizes: [4, 8, 12, 16, 24], maxGroups: [1, 2], smoothingSteps: 0,
  maxHomogeneousLoss: 0.001, minGain: 0.001, ...overrides,
});

describe('fitGrouping (choosing minGroupSize and maxGroups on validation data)', () => {
  it('estimates plain T3B and each grouped candidate with the engine\'s grouping', () => {
    const fit = fitGrouping(streams(true), hp, search(), PLAIN);
    const plain = fit.candidates[0];
    expect(plain.maxGroups).toBe(1);
    expect(plain.perStream).toEqual({ 'in-domain': 1, shifted: 1, pooled: 0.5 });
    expect(plain.splitBatches).toEqual({ 'in-domain': 0, shifted: 0, pooled: 0 });
    const bySize = Object.fromEntries(fit.candidates.slice(1).map((c) => [c.minGroupSize, c]));
    // 16 + 16 splits at every minGroupSize up to 16: both halves right.
    expect(bySize[16].perStream.pooled).toBe(1);
    expect(bySize[16].splitBatches.pooled).toBe(batches);
    // 24 cannot split a 16/16 batch: T3B's figures.
    expect(bySize[24].perStream).toEqual(plain.perStream);
    // minGroupSize 4 splits the 6 low-JS shifted images off every shifted batch and gets them wrong.
    expect(bySize[4].splitBatches.shifted).toBe(batches);
    expect(bySize[4].perStream.shifted).toBeCloseTo(26 / 32, 10);
    expect(bySize[4].admissible).toBe(false);
    expect(bySize[8].admissible).toBe(true);
  });

  it('reports the bound of grouping by true source on the pooled stream, and none for homogeneous streams', () => {
    const fit = fitGrouping(streams(true), hp, search(), PLAIN);
    expect(fit.bySource).toEqual({ pooled: 1 });
    // A pooled stream whose sources are unknown has no bound.
    const unknown = streams(true).map((s) => ({ ...s, sourceOf: undefined }));
    expect(fitGrouping(unknown, hp, search(), PLAIN).bySource).toEqual({});
  });

  it('chooses the largest admissible minGroupSize among equals, with maxGroups 2, and says why', () => {
    const fit = fitGrouping(streams(true), hp, search(), PLAIN);
    expect(fit.chosen).toEqual({ groupBy: 'js-step', minGroupSize: 16, maxGroups: 2 });
    expect(fit.reason).toMatch(/minGroupSize 16, maxGroups 2/);
  });

  it('keeps plain T3B when no stream mixes domains', () => {
    const fit = fitGrouping(streams(false), hp, search(), PLAIN);
    expect(fit.chosen).toEqual({ groupBy: 'js-step', minGroupSize: 8, maxGroups: 1 });
    expect(fit.reason).toMatch(/no validation stream mixes domains/);
  });

  it('keeps plain T3B when only maxGroups 1 is searched, or when the gain is below the minimum', () => {
    expect(fitGrouping(streams(true), hp, search({ maxGroups: [1] }), PLAIN).chosen).toEqual({ groupBy: 'js-step', minGroupSize: 8, maxGroups: 1 });
    const fit = fitGrouping(streams(true), hp, search({ minGain: 0.5 }), PLAIN);
    expect(fit.chosen.maxGroups).toBe(1);
    expect(fit.reason).toMatch(/less than the 50\.00 required/);
  });

  it('keeps plain T3B when every grouped candidate loses on a homogeneous split', () => {
    const fit = fitGrouping(streams(true), hp, search({ minGroupSizes: [4] }), PLAIN);
    expect(fit.chosen.maxGroups).toBe(1);
    expect(fit.reason).toMatch(/every grouped candidate loses/);
  });

  it('widening the candidates to a loss tolerance that admits minGroupSize 4 still prefers the better objective', () => {
    // With 20 points of tolerance minGroupSize 4 is admissible, but its shifted loss lowers the objective.
    const fit = fitGrouping(streams(true), hp, search({ maxHomogeneousLoss: 0.2 }), PLAIN);
    expect(fit.candidates.find((c) => c.minGroupSize === 4)?.admissible).toBe(true);
    expect(fit.chosen).toEqual({ groupBy: 'js-step', minGroupSize: 16, maxGroups: 2 });
  });

  /** Pooled batches where one image's JS misleads: half the shifted images look in-domain (JS 0.02). Splitting at the
   *  step puts them with the in-domain images (wrong λ); their source says where they came from. */
  const misleading: { js: number; kind: Kind }[] = pooled.map((im, i) => (i % 4 === 1 ? { js: 0.02, kind: 'generalist-image' } : im));
  const misleadingStreams = (): GroupingStream[] => [
    ...streams(false),
    { name: 'pooled', homogeneous: false, table: table(misleading), sourceOf: misleading.map((_, i) => i % 2) },
  ];

  it('grouping by series uses each image\'s source: homogeneous splits stay T3B exactly, pooled batches split by source', () => {
    const fit = fitGrouping(misleadingStreams(), hp, search({ groupBys: ['js-step', 'series'] }), PLAIN);
    const plain = fit.candidates[0];
    const series16 = fit.candidates.find((c) => c.groupBy === 'series' && c.minGroupSize === 16);
    expect(series16?.perStream).toEqual({ 'in-domain': 1, shifted: 1, pooled: 1 });
    expect(series16?.splitBatches).toEqual({ 'in-domain': 0, shifted: 0, pooled: batches });
    // By the step, 24 of 32 images fall below it: the 8 misleading shifted images get the expert's λ.
    const step8 = fit.candidates.find((c) => c.groupBy === 'js-step' && c.minGroupSize === 8 && c.maxGroups === 2);
    expect(step8?.perStream.pooled).toBeCloseTo(24 / 32, 10);
    expect(plain.perStream.pooled).toBeLessThan(1);
    expect(fit.chosen).toEqual({ groupBy: 'series', minGroupSize: 16, maxGroups: 2 });
    expect(fit.reason).toMatch(/groupBy series, minGroupSize 16, maxGroups 2/);
  });

  it('without series among the modes searched, grouping by series is never chosen', () => {
    const fit = fitGrouping(misleadingStreams(), hp, search({ groupBys: ['js-step'] }), PLAIN);
    expect(fit.candidates.every((c) => c.groupBy === 'js-step')).toBe(true);
  });

  it('grouping by series tries every maxGroups >= 2 given, grouping by the step only 2', () => {
    const fit = fitGrouping(misleadingStreams(), hp, search({ groupBys: ['js-step', 'series'], minGroupSizes: [8], maxGroups: [1, 2, 3] }), PLAIN);
    expect(fit.candidates.map((c) => `${c.groupBy}/${c.maxGroups}`)).toEqual(['js-step/1', 'js-step/2', 'series/2', 'series/3']);
    // Two sources give the same groups with 2 or 3 places: a full tie keeps the first found (the smaller cap).
    expect(fit.chosen).toEqual({ groupBy: 'series', minGroupSize: 8, maxGroups: 2 });
  });
});
