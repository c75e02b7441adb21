/**
 * A grid of merge coefficients λ and what the merged model θ(λ) predicts along it. The fit and the oracle curve
 * need the merged model's prediction at many λ; running the engine at every one would cost a pass each, so the
 * engine runs at a coarse grid of λ ("sweep", e.g. every 0.05) and predictions in between come from the logits
 * interpolated linearly between the two nearest sweep points. The interpolation is an approximation used only to
 * rank candidate maps: the fit re-measures its chosen map with the real merged passes.
 */

export interface LambdaGrid {
  /** Smallest λ of the grid. */
  min: number;
  /** Step between grid points. */
  step: number;
  /** Number of grid points: min, min + step, …, min + (count − 1)·step. */
  count: number;
}

/** The grid from `min` to `max` (inclusive, rounded to whole steps). */
export function lambdaGrid(min: number, max: number, step: number): LambdaGrid {
  if (!(Number.isFinite(min) && Number.isFinite(max) && step > 0 && max >= min)) {
    throw new RangeError(`a λ grid needs finite min <= max and a positive step, got ${min}, ${max}, ${step}`);
  }
  return { min, step, count: Math.round((max - min) / step) + 1 };
}

export function gridValue(grid: LambdaGrid, index: number): number {
  return Number((grid.min + index * grid.step).toFixed(10));
}

/** Index of the grid point nearest to λ, clamped to the grid (callers check `onGrid` when it matters). */
export function nearestIndex(grid: LambdaGrid, lambda: number): number {
  const i = Math.round((lambda - grid.min) / grid.step);
  return i < 0 ? 0 : i >= grid.count ? grid.count - 1 : i;
}

/** Whether λ lies inside the grid's range (up to half a step beyond either end). */
export function onGrid(grid: LambdaGrid, lambda: number): boolean {
  const i = (lambda - grid.min) / grid.step;
  return i >= -0.5 && i <= grid.count - 0.5;
}

/**
 * For every point of `fine`, whether the merged model gets each image right: correct[f][i] (1 or 0). `sweepLogits`
 * holds the merged model's logits at each point of `sweep` (row-major [images × classes]); `fine` must lie within
 * the sweep's range.
 */
export function correctnessOnGrid(
  sweep: LambdaGrid,
  sweepLogits: readonly Float32Array[],
  labels: readonly number[],
  classes: number,
  fine: LambdaGrid,
): Uint8Array[] {
  if (sweepLogits.length !== sweep.count) throw new RangeError(`${sweepLogits.length} logit tables for ${sweep.count} sweep points`);
  const sweepMax = sweep.min + (sweep.count - 1) * sweep.step;
  const fineMax = fine.min + (fine.count - 1) * fine.step;
  if (fine.min < sweep.min - 1e-9 || fineMax > sweepMax + 1e-9) {
    throw new RangeError(`the fine grid [${fine.min}, ${fineMax}] leaves the sweep's range [${sweep.min}, ${sweepMax}]`);
  }
  const n = labels.length;
  for (const table of sweepLogits) {
    if (table.length !== n * classes) throw new RangeError(`a logit table holds ${table.length} values, expected ${n}·${classes}`);
  }
  const out: Uint8Array[] = [];
  for (let f = 0; f < fine.count; f++) {
    const position = Math.min(Math.max((gridValue(fine, f) - sweep.min) / sweep.step, 0), sweep.count - 1);
    const lo = Math.min(Math.floor(position), sweep.count - 1);
    const hi = Math.min(lo + 1, sweep.count - 1);
    const w = position - lo;
    const a = sweepLogits[lo];
    const b = sweepLogits[hi];
    const correct = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestValue = -Infinity;
      for (let c = 0; c < classes; c++) {
        const k = i * classes + c;
        const z = (1 - w) * a[k] + w * b[k];
        if (z > bestValue) {
          bestValue = z;
          best = c;
        }
      }
      correct[i] = best === labels[i] ? 1 : 0;
    }
    out.push(correct);
  }
  return out;
}
