import { sigmoid, type BatchAggregation } from '../t3';
import { FitError } from './fit-error';
import { gridValue, nearestIndex, onGrid, type LambdaGrid } from './lambda-grid';

/**
 * Fitting T3B's coefficient map (docs/T3.md §2, "fitted coefficient map") on labelled validation data.
 *
 * The map is λ = λ_min + (λ_max − λ_min)·σ(γ·(JS − τ_JS)), aggregated per batch as the mean of λ (the paper's) or as
 * λ of the batch's mean JS, optionally with the extrapolation guard. The objective is T3B's top-1 accuracy at the
 * deployment batch size, averaged over the validation splits with equal weight (e.g. in-domain and broad-style
 * batches: the map must keep the expert's precision where it is reliable and defer to the generalist elsewhere).
 * The caller may add a pooled stream (FitSplit.pooledFrom, pooled-stream.ts) whose batches mix the splits' images:
 * without it the objective only sees homogeneous batches, and a map that is a hard switch between the two models
 * scores as well as one that also serves a batch that mixes domains.
 * The search is exhaustive over a grid; accuracy at any λ_B is read from per-batch tables precomputed on a fine λ
 * grid, so each candidate costs one lookup per batch.
 */

/** One validation image as the map sees it. */
export interface FitImage {
  /** JS divergence of the two models' outputs at the bundle's temperatures (what the engine computes). */
  js: number;
  /** Entropies at the guard's one temperature (for the guard stage). */
  guardEntropyPt: number;
  guardEntropyFt: number;
  /** Whether the generalist (λ = 0) and the expert (λ = 1) classify it correctly. */
  generalistRight: boolean;
  expertRight: boolean;
}

/** One T3B batch: its images and how many of them the merged model gets right at each point of the fit's grid. */
export interface FitBatch {
  images: FitImage[];
  correctAt: Uint16Array;
}

export interface FitSplit {
  name: string;
  batches: FitBatch[];
  /** Present for a stream that pools these splits' images in a shuffled order (mixed batches): it enters the
   *  objective like any split, but its images are not counted again where images are counted (disagreements). */
  pooledFrom?: string[];
}

export interface CoefficientMap {
  lambdaMin: number;
  lambdaMax: number;
  gamma: number;
  jsThreshold: number;
  batchAggregation: BatchAggregation;
  /** Guard: off when extDelta = 0. */
  extTau: number;
  extDelta: number;
  guardTemperature: number | null;
}

export interface MapSearchSpace {
  /** The λ grid where the batches' correctAt tables are given; every λ_B the search produces lies on it. */
  grid: LambdaGrid;
  /** Candidate values of λ_min and of λ_max (each any value on the grid). */
  endpoints: readonly number[];
  gammas: readonly number[];
  jsThresholds: readonly number[];
  aggregations: readonly BatchAggregation[];
  /** Guard stage: candidate τ and δ, the temperature its entropies were computed at, and the gain it must bring. */
  guardTaus: readonly number[];
  guardDeltas: readonly number[];
  guardTemperature: number;
  minGuardGain: number;
  /**
   * The objective reads accuracy averaged over λ_B ± this many grid steps, not at λ_B alone: accuracy at one λ on
   * ~1000 images moves by single images from one grid step to the next, and a map chosen on that noise does not
   * carry over to new draws. 0 reads accuracy at λ_B exactly.
   */
  smoothingSteps: number;
  /** Fewest batches per split the fit accepts. */
  minBatchesPerSplit: number;
  /** Fewest images, over all splits, on which exactly one of the two models is right (what the map trades). */
  minDisagreements: number;
}

export interface CoefficientMapFit {
  map: CoefficientMap;
  /** The objective reached (smoothed accuracy, mean over splits), and the estimated T3B accuracy at λ_B (fraction),
   *  mean over splits and per split. */
  objective: number;
  accuracy: number;
  perSplit: Record<string, number>;
  /** The estimated accuracy of the paper's map (λ_min 1, λ_max 0, γ 0.5, mean of λ), for comparison. */
  paperObjective: number;
  /** Images where only the generalist, only the expert is right. */
  generalistOnly: number;
  expertOnly: number;
  candidates: number;
  /** Parameters that ended on a bound of their search range, in words. */
  warnings: string[];
}

interface Scored {
  map: CoefficientMap;
  /** Smoothed accuracy (the objective), then exact accuracy at λ_B (the first tie-break). */
  objective: number;
  exact: number;
}

/** Per split, per batch: the number of correct images averaged over a window of ±steps grid points. */
function smoothTables(splits: readonly FitSplit[], steps: number): Float64Array[][] {
  return splits.map((split) => split.batches.map((batch) => {
    const t = batch.correctAt;
    const out = new Float64Array(t.length);
    for (let f = 0; f < t.length; f++) {
      let sum = 0;
      let n = 0;
      for (let k = Math.max(f - steps, 0); k <= Math.min(f + steps, t.length - 1); k++) {
        sum += t[k];
        n++;
      }
      out[f] = sum / n;
    }
    return out;
  }));
}

/** The paper's map in this project's convention (λ = the expert's weight). */
export const PAPER_MAP: CoefficientMap = Object.freeze({
  lambdaMin: 1, lambdaMax: 0, gamma: 0.5, jsThreshold: 0, batchAggregation: 'mean-lambda',
  extTau: 0.1, extDelta: 0, guardTemperature: null,
});

function checkData(splits: readonly FitSplit[], space: MapSearchSpace): { generalistOnly: number; expertOnly: number } {
  if (splits.length === 0) throw new FitError('no validation splits: the fit needs labelled images (e.g. in-domain/ and broad/)');
  for (const split of splits) {
    const images = split.batches.reduce((n, b) => n + b.images.length, 0);
    if (split.batches.length < space.minBatchesPerSplit) {
      throw new FitError(`split "${split.name}" has ${images} image${images === 1 ? '' : 's'}, ${split.batches.length} batch${split.batches.length === 1 ? '' : 'es'}: `
        + `the fit needs at least ${space.minBatchesPerSplit} batches per split to tell a map from noise (the demo bundle's fit used 32 batches of 32 per split)`);
    }
    for (const batch of split.batches) {
      if (batch.correctAt.length !== space.grid.count) throw new RangeError(`a batch of "${split.name}" has ${batch.correctAt.length} accuracy points for a grid of ${space.grid.count}`);
    }
  }
  let generalistOnly = 0;
  let expertOnly = 0;
  for (const split of splits) {
    if (split.pooledFrom) continue;
    for (const batch of split.batches) {
      for (const im of batch.images) {
        if (im.generalistRight && !im.expertRight) generalistOnly++;
        if (im.expertRight && !im.generalistRight) expertOnly++;
      }
    }
  }
  if (generalistOnly === 0 && expertOnly === 0) {
    throw new FitError('the generalist and the expert are right on exactly the same images: no coefficient map can do better than either model, so there is nothing to fit');
  }
  if (generalistOnly === 0) {
    throw new FitError(`the expert is right on every image the generalist gets right (and on ${expertOnly} more): the best map is the expert alone (policy expert, λ = 1); a fitted map would only add two passes`);
  }
  if (expertOnly === 0) {
    throw new FitError(`the generalist is right on every image the expert gets right (and on ${generalistOnly} more): the best map is the generalist alone (policy generalist, λ = 0); a fitted map would only add two passes`);
  }
  if (generalistOnly + expertOnly < space.minDisagreements) {
    throw new FitError(`only ${generalistOnly + expertOnly} images have exactly one model right (${generalistOnly} the generalist, ${expertOnly} the expert): `
      + `the fit needs at least ${space.minDisagreements} such images; give it more validation data`);
  }
  return { generalistOnly, expertOnly };
}

/** Per batch, the part of λ_B that depends on (γ, τ_JS): the mean of σ, or σ of the mean JS. */
function sigmoidTerms(splits: readonly FitSplit[], gamma: number, tau: number, aggregation: BatchAggregation): Float64Array[] {
  return splits.map((split) => {
    const out = new Float64Array(split.batches.length);
    split.batches.forEach((batch, b) => {
      if (aggregation === 'mean-lambda') {
        let sum = 0;
        for (const im of batch.images) sum += sigmoid(gamma * (im.js - tau));
        out[b] = sum / batch.images.length;
      } else {
        let sum = 0;
        for (const im of batch.images) sum += im.js;
        out[b] = sigmoid(gamma * (sum / batch.images.length - tau));
      }
    });
    return out;
  });
}

/** Per batch, the guard's mean shift of λ per unit δ: mean of sign(H_pt − H_ft) over images where min(H) < τ. */
function guardTerms(splits: readonly FitSplit[], tau: number): Float64Array[] {
  return splits.map((split) => Float64Array.from(split.batches, (batch) => {
    let sum = 0;
    for (const im of batch.images) {
      if (Math.min(im.guardEntropyPt, im.guardEntropyFt) < tau) sum += Math.sign(im.guardEntropyPt - im.guardEntropyFt);
    }
    return sum / batch.images.length;
  }));
}

interface Evaluation { objective: number; exact: number; perSplit: number[]; offGrid: boolean }

function evaluate(splits: readonly FitSplit[], smoothed: readonly Float64Array[][], grid: LambdaGrid, lambdaB: (split: number, batch: number) => number): Evaluation {
  let objective = 0;
  let exact = 0;
  let offGrid = false;
  const perSplit: number[] = [];
  for (let s = 0; s < splits.length; s++) {
    const batches = splits[s].batches;
    let correct = 0;
    let smooth = 0;
    let images = 0;
    for (let b = 0; b < batches.length; b++) {
      const lambda = lambdaB(s, b);
      if (!onGrid(grid, lambda)) offGrid = true;
      const i = nearestIndex(grid, lambda);
      correct += batches[b].correctAt[i];
      smooth += smoothed[s][b][i];
      images += batches[b].images.length;
    }
    perSplit.push(correct / images);
    exact += correct / images / splits.length;
    objective += smooth / images / splits.length;
  }
  return { objective, exact, perSplit, offGrid };
}

/** Better: higher (smoothed) objective; then higher exact accuracy; then smaller γ (smoother); then endpoints closer to [0, 1]. */
function better(a: Scored, b: Scored | null): boolean {
  if (b === null) return true;
  const EPS = 1e-12;
  if (a.objective > b.objective + EPS) return true;
  if (a.objective < b.objective - EPS) return false;
  if (a.exact > b.exact + EPS) return true;
  if (a.exact < b.exact - EPS) return false;
  if (a.map.gamma !== b.map.gamma) return a.map.gamma < b.map.gamma;
  const outside = (m: CoefficientMap) => Math.max(0, -m.lambdaMin, m.lambdaMin - 1) + Math.max(0, -m.lambdaMax, m.lambdaMax - 1);
  return outside(a.map) < outside(b.map) - EPS;
}

/**
 * Searches the map that maximises estimated T3B accuracy. Throws FitError when the data cannot support a fit (too
 * few batches, one model right wherever the other is, too few images where they differ).
 */
export function fitCoefficientMap(splits: readonly FitSplit[], space: MapSearchSpace): CoefficientMapFit {
  const counts = checkData(splits, space);
  const grid = space.grid;
  const smoothed = smoothTables(splits, space.smoothingSteps);
  for (const e of space.endpoints) {
    if (!onGrid(grid, e)) throw new RangeError(`endpoint candidate ${e} lies outside the λ grid`);
  }
  let best: Scored | null = null;
  let candidates = 0;
  // Whether some candidate as good as the best has each parameter strictly inside its range: a bound that ties
  // with an interior value is not a sign that the range was too narrow.
  const interior = new BoundTracker(space);
  for (const aggregation of space.aggregations) {
    for (const gamma of space.gammas) {
      for (const tau of space.jsThresholds) {
        const terms = sigmoidTerms(splits, gamma, tau, aggregation);
        for (const lambdaMin of space.endpoints) {
          for (const lambdaMax of space.endpoints) {
            candidates++;
            const e = evaluate(splits, smoothed, grid, (s, b) => lambdaMin + (lambdaMax - lambdaMin) * terms[s][b]);
            if (best !== null && e.objective < best.objective - 1e-12) continue;
            const scored: Scored = {
              map: { lambdaMin, lambdaMax, gamma, jsThreshold: tau, batchAggregation: aggregation, extTau: PAPER_MAP.extTau, extDelta: 0, guardTemperature: null },
              objective: e.objective, exact: e.exact,
            };
            if (best === null || scored.objective > best.objective + 1e-12) interior.reset();
            interior.add(scored.map);
            if (better(scored, best)) best = scored;
          }
        }
      }
    }
  }
  if (best === null) throw new FitError('the search space is empty: give at least one γ, τ_JS, endpoint and aggregation');
  let chosen: Scored = best;

  // Guard stage: with the map fixed, a guard at one temperature; kept only if it gains at least minGuardGain.
  const mapTerms = sigmoidTerms(splits, chosen.map.gamma, chosen.map.jsThreshold, chosen.map.batchAggregation);
  const mapLambda = (s: number, b: number) => chosen.map.lambdaMin + (chosen.map.lambdaMax - chosen.map.lambdaMin) * mapTerms[s][b];
  let guardBest: Scored | null = null;
  for (const tau of space.guardTaus) {
    const shifts = guardTerms(splits, tau);
    for (const delta of space.guardDeltas) {
      candidates++;
      const e = evaluate(splits, smoothed, grid, (s, b) => mapLambda(s, b) + delta * shifts[s][b]);
      if (e.offGrid) continue;
      const scored: Scored = { map: { ...chosen.map, extTau: tau, extDelta: delta, guardTemperature: space.guardTemperature }, objective: e.objective, exact: e.exact };
      if (better(scored, guardBest)) guardBest = scored;
    }
  }
  if (guardBest && guardBest.objective >= chosen.objective + space.minGuardGain) chosen = guardBest;

  const final = chosen.map;
  const finalTerms = sigmoidTerms(splits, final.gamma, final.jsThreshold, final.batchAggregation);
  const finalShifts = final.extDelta !== 0 ? guardTerms(splits, final.extTau) : null;
  const finalEval = evaluate(splits, smoothed, grid, (s, b) => final.lambdaMin + (final.lambdaMax - final.lambdaMin) * finalTerms[s][b] + (finalShifts ? final.extDelta * finalShifts[s][b] : 0));
  const paperTerms = sigmoidTerms(splits, PAPER_MAP.gamma, PAPER_MAP.jsThreshold, PAPER_MAP.batchAggregation);
  const paper = evaluate(splits, smoothed, grid, (s, b) => PAPER_MAP.lambdaMin + (PAPER_MAP.lambdaMax - PAPER_MAP.lambdaMin) * paperTerms[s][b]);

  return {
    map: final,
    objective: finalEval.objective,
    accuracy: finalEval.exact,
    perSplit: Object.fromEntries(splits.map((s, i) => [s.name, finalEval.perSplit[i]])),
    paperObjective: paper.exact,
    generalistOnly: counts.generalistOnly,
    expertOnly: counts.expertOnly,
    candidates,
    warnings: interior.warnings(best.map),
  };
}

/**
 * A parameter at the edge of its search range, when no equally good candidate has it inside, means the optimum
 * may lie beyond the range: the map is then a guess at the range's edge, and the user should widen it.
 */
class BoundTracker {
  private readonly ranges: { name: string; pick: (m: CoefficientMap) => number; lo: number; hi: number; inside: boolean }[];

  constructor(space: MapSearchSpace) {
    const range = (name: string, values: readonly number[], pick: (m: CoefficientMap) => number) =>
      ({ name, pick, lo: Math.min(...values), hi: Math.max(...values), inside: values.length < 2 });
    this.ranges = [
      range('λ_min', space.endpoints, (m) => m.lambdaMin),
      range('λ_max', space.endpoints, (m) => m.lambdaMax),
      range('γ', space.gammas, (m) => m.gamma),
      range('τ_JS', space.jsThresholds, (m) => m.jsThreshold),
    ];
  }

  reset(): void {
    for (const r of this.ranges) r.inside = r.lo === r.hi;
  }

  add(map: CoefficientMap): void {
    for (const r of this.ranges) {
      const v = r.pick(map);
      if (v !== r.lo && v !== r.hi) r.inside = true;
    }
  }

  warnings(map: CoefficientMap): string[] {
    return this.ranges.filter((r) => !r.inside && (r.pick(map) === r.lo || r.pick(map) === r.hi)).map((r) => {
      const v = r.pick(map);
      return `${r.name} = ${v} is on the ${v === r.lo ? 'lower' : 'upper'} bound of its search range [${r.lo}, ${r.hi}]: the best value may lie beyond it`;
    });
  }
}

/** λ values of a grid as plain numbers (for printing the search space). */
export function describeGrid(grid: LambdaGrid): { min: number; max: number; step: number } {
  return { min: grid.min, max: gridValue(grid, grid.count - 1), step: grid.step };
}
