import { UsageError } from './command';
import { GROUP_BY_MODES, isGroupBy, type GroupBy } from '../t3';

/**
 * The fit's search ranges as the command line sets them. Every searched parameter can be widened: a fit that ends
 * on a bound warns that the best value may lie beyond it, and the user must then be able to look there. Ranges
 * keep the default grids' spacing (λ endpoints every 0.05, γ doubling, τ_JS every 0.005), so a widened search
 * contains the default one and differs only where it was widened.
 */

/** Spacing of the λ endpoints, and the default range (extrapolation allowed on both sides). */
export const ENDPOINT_STEP = 0.05;
export const DEFAULT_LAMBDA_RANGE: readonly [number, number] = [-0.2, 1.2];
/** γ from 0.5 to 256, doubling: the steepness of the map spans a gentle ramp to a step. */
export const DEFAULT_GAMMA_RANGE: readonly [number, number] = [0.5, 256];
/** τ_JS from 0 to 0.5 nats every 0.005 (JS ≤ ln 2 ≈ 0.69; the demo's batch-mean JS lies in 0.02–0.3). */
export const DEFAULT_JS_THRESHOLD_RANGE: readonly [number, number] = [0, 0.5];
export const JS_THRESHOLD_STEP = 0.005;
/** No threshold above this can matter: JS in nats never exceeds ln 2. */
const JS_THRESHOLD_CEILING = 0.7;
export const DEFAULT_GUARD_TAUS: readonly number[] = [0.01, 0.03, 0.1, 0.3];
export const DEFAULT_GUARD_DELTAS: readonly number[] = [0.05, 0.1, 0.2];

const round = (v: number) => Number(v.toFixed(10));

function pair(option: string, text: string): [number, number] {
  const parts = text.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || text.split(',').some((s) => s.trim() === '') || parts.some((v) => !Number.isFinite(v)) || parts[0] >= parts[1]) {
    throw new UsageError(`--${option} must be two numbers A,B with A < B, got "${text}"`);
  }
  return [parts[0], parts[1]];
}

/** λ_min and λ_max candidates: --lambda-range A,B rounded outward to whole 0.05 steps, so that 0 and 1 stay on the
 *  grid. The range must hold 0 and 1: the fit reads both models' predictions there. */
export function lambdaRange(text: string | undefined): [number, number] {
  if (text === undefined) return [...DEFAULT_LAMBDA_RANGE];
  const [a, b] = pair('lambda-range', text);
  if (a > 0 || b < 1) throw new UsageError(`--lambda-range must contain 0 and 1 (the generalist and the expert), got "${text}"`);
  return [round(Math.floor(a / ENDPOINT_STEP) * ENDPOINT_STEP), round(Math.ceil(b / ENDPOINT_STEP) * ENDPOINT_STEP)];
}

/** γ candidates for --gamma-range A,B (0 < A < B): A, 2A, 4A, … up to B, and B itself when the doubling misses it. */
export function gammaCandidates(text: string | undefined): number[] {
  const [a, b] = text === undefined ? DEFAULT_GAMMA_RANGE : pair('gamma-range', text);
  if (a <= 0) throw new UsageError(`--gamma-range must be positive (γ is the steepness of the map; its direction comes from the endpoints), got "${text}"`);
  const values: number[] = [];
  for (let g = a; g <= b * (1 + 1e-12); g *= 2) values.push(round(g));
  if (values[values.length - 1] < b) values.push(round(b));
  return values;
}

/** τ_JS candidates for --js-threshold-range A,B (0 ≤ A < B ≤ 0.7), rounded outward to whole 0.005 steps. */
export function jsThresholdCandidates(text: string | undefined): number[] {
  const [a, b] = text === undefined ? DEFAULT_JS_THRESHOLD_RANGE : pair('js-threshold-range', text);
  if (a < 0 || b > JS_THRESHOLD_CEILING) {
    throw new UsageError(`--js-threshold-range must lie within [0, ${JS_THRESHOLD_CEILING}] nats (JS never exceeds ln 2 ≈ 0.693), got "${text}"`);
  }
  const lo = Math.floor(round(a / JS_THRESHOLD_STEP));
  const hi = Math.ceil(round(b / JS_THRESHOLD_STEP));
  return Array.from({ length: hi - lo + 1 }, (_, i) => Number(((lo + i) * JS_THRESHOLD_STEP).toFixed(3)));
}

/** Guard candidates (--guard-taus, --guard-deltas): a comma-separated list of positive numbers. */
export function positiveList(option: string, text: string | undefined, defaults: readonly number[]): number[] {
  if (text === undefined) return [...defaults];
  const values = text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v <= 0)) {
    throw new UsageError(`--${option} must be a comma-separated list of positive numbers, got "${text}"`);
  }
  return [...new Set(values)].sort((x, y) => x - y);
}

/** Grouped T3B's candidates (docs/T3.md §4): the fewest images per group, tried after the map is fitted. At batch 32 a
 *  group of 24 leaves 8 for the other; 4 is about the fewest whose mean JS is not one image's noise. */
export const DEFAULT_MIN_GROUP_SIZES: readonly number[] = [4, 8, 12, 16, 24];
/** 1 is plain T3B; 2 lets a batch split at the map's step (a map has one step, so more groups cannot occur). */
export const DEFAULT_MAX_GROUPS: readonly number[] = [1, 2];

/** What grouping may split by (docs/T3.md §4): the map's step, and the images' series (their source). */
export const DEFAULT_GROUP_BYS: readonly GroupBy[] = ['js-step', 'series'];

/** --group-by: a comma-separated list of grouping modes (js-step, series). */
export function groupByList(text: string | undefined): GroupBy[] {
  if (text === undefined) return [...DEFAULT_GROUP_BYS];
  const values = text.split(',').map((s) => s.trim()).filter(Boolean);
  const modes = values.filter(isGroupBy);
  if (values.length === 0 || modes.length !== values.length) {
    throw new UsageError(`--group-by must be a comma-separated list of ${GROUP_BY_MODES.join(', ')}, got "${text}"`);
  }
  return [...new Set(modes)];
}

/** --min-group-sizes / --max-groups: a comma-separated list of positive integers. */
export function positiveIntegerList(option: string, text: string | undefined, defaults: readonly number[]): number[] {
  if (text === undefined) return [...defaults];
  const values = text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new UsageError(`--${option} must be a comma-separated list of positive integers, got "${text}"`);
  }
  return [...new Set(values)].sort((x, y) => x - y);
}
