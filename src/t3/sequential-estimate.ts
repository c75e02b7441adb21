import { T3InputError } from './errors';
import { guardEnabled, type T3Hyperparameters } from './hyperparameters';
import { t3Lambda } from './lambda';
import { studentTQuantile } from './sequential-student-t';

/**
 * Sequential sampling of T3B's λ_B (docs/LAMBDA-ESTIMATORS.md): the two fixed passes run on a few images of the batch
 * at a time, in a seeded random order, and sampling stops as soon as λ_B is decided: every λ the map gives over the
 * confidence interval of the batch's mean statistic lies within `lambdaTolerance` of the λ at the estimate. With a
 * steep fitted map that is "the batch's side of the step is decided"; with a gentle map, "the interval is narrow".
 * Undecided after `maxImages`: the remaining images get the fixed passes too and λ_B is full T3B's, exactly.
 *
 * The mean estimated is that of THIS batch (a finite population of N images, sampled without replacement). The
 * interval is the finite-population Student-t interval, x̄ ± t_{1−α/2, n−1} · s · √((1 − n/N) / n) (Cochran,
 * Sampling Techniques, §2.15), valid for sampling without replacement by Hájek's finite-population central limit
 * theorem: an approximation, not a finite-sample guarantee. Distribution-free bounds (Hoeffding–Serfling, empirical
 * Bernstein–Serfling) are valid at every n but pay for the JS range [0, ln 2]: at N ≤ 32 they never decide before
 * the whole batch (Hoeffding–Serfling's half-width at 95 % is 0.29 nats at n = 8 of N = 32 and 0.17 at n = 16, against a fitted
 * step about 0.03 nats wide), so they would save nothing. The looks are
 * corrected by Bonferroni: each of the L possible looks uses α/L, so the chance that ANY look decides wrongly stays
 * ≤ α under the approximation. At n = N the interval has zero width: the estimate is exact.
 */
export interface SequentialSettings {
  /** Probability (per batch) that the decided λ_B is within lambdaTolerance of full T3B's; e.g. 0.95. */
  confidence: number;
  /** Largest distance, in λ, between the decided λ_B and any λ over the interval; e.g. 0.1. */
  lambdaTolerance: number;
  /** Images of the first draw (the interval needs a variance); ≥ 2. */
  minImages: number;
  /** Images of each later draw (1 or 2 in the wording; any positive integer). */
  step: number;
  /** Sampled images after which an undecided batch falls back to all images. */
  maxImages: number;
}

/**
 * minImages 8: a first draw of 4 from a batch mixing two domains half and half is all from one domain one time in
 * eight, and then its small variance decides wrongly (the t interval's known weakness on mixtures); with 8 that is
 * about 1 in 400 at B = 32. Measured on the demo bundle's pooled stream at B = 32: −0.4 points against full T3B with
 * 4, −0.0 with 8, at the same passes per image (docs/LAMBDA-ESTIMATORS.md).
 */
export const DEFAULT_SEQUENTIAL_SETTINGS: Readonly<SequentialSettings> = Object.freeze({
  confidence: 0.95,
  lambdaTolerance: 0.1,
  minImages: 8,
  step: 2,
  maxImages: 16,
});

/** The first bad field of sequential settings (its key and why), or null when they are valid. */
export function sequentialSettingsProblem(s: SequentialSettings): { key: keyof SequentialSettings; reason: string } | null {
  if (!(typeof s.confidence === 'number' && s.confidence > 0 && s.confidence < 1)) {
    return { key: 'confidence', reason: `must be a number in (0, 1), got ${String(s.confidence)}` };
  }
  if (!(typeof s.lambdaTolerance === 'number' && Number.isFinite(s.lambdaTolerance) && s.lambdaTolerance > 0)) {
    return { key: 'lambdaTolerance', reason: `must be a positive finite number, got ${String(s.lambdaTolerance)}` };
  }
  for (const [key, min] of [['minImages', 2], ['step', 1], ['maxImages', 2]] as const) {
    const v = s[key];
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= min)) return { key, reason: `must be an integer >= ${min}, got ${String(v)}` };
  }
  if (s.maxImages < s.minImages) return { key: 'maxImages', reason: `(${s.maxImages}) must be >= minImages (${s.minImages})` };
  return null;
}

/** Throws T3InputError naming the bad field (`what` prefixes it, e.g. "t3.estimators.sequential"). */
export function validateSequentialSettings(s: SequentialSettings, what = 'sequential'): void {
  const problem = sequentialSettingsProblem(s);
  if (problem) throw new T3InputError(`${what}.${problem.key} ${problem.reason}`);
}

/** One sampled image's coefficients, as computeBatchCoefficients gives them. */
export interface SampledImage { js: number; lambda: number; lambdaFinal: number; }

export type SequentialStopReason =
  /** The interval's λ range fell within the tolerance: λ_B = the map at the sample's estimate. */
  | 'decided'
  /** Every image was sampled (the batch was small, or sampling reached its end): λ_B is full T3B's. */
  | 'all-images'
  /** Not decided after maxImages: the rest of the batch got the fixed passes; λ_B is full T3B's. */
  | 'undecided';

export interface SequentialState {
  /** Images sampled so far. */
  sampled: number;
  /** The batch's mean statistic (JS, or λ' under mean-lambda) estimated from the sample. */
  estimate: number;
  /** Its interval at this look (equal ends when n = N). */
  low: number;
  high: number;
  /** λ at the estimate (the map plus the mean guard shift, or the mean λ'), and the widest distance to it over the interval. */
  lambda: number;
  lambdaSpread: number;
  decided: boolean;
}

/** Running mean and variance (Welford): numerically stable for one or two values at a time. */
class RunningMoments {
  n = 0;
  mean = 0;
  private m2 = 0;
  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }
  /** Sample variance (n − 1 denominator), the unbiased estimate of the finite population's S². */
  get variance(): number {
    return this.n > 1 ? this.m2 / (this.n - 1) : Number.NaN;
  }
}

/**
 * The stopping rule over one batch of N images. Feed it the coefficients of the images sampled so far (`add`), ask
 * how many to draw next (`nextDraw`: 0 when done), and read the decision (`state`).
 */
export class SequentialLambdaEstimate {
  private readonly statistic = new RunningMoments();
  /** Guard shifts λ' − λ (only tracked when the guard can fire under lambda-of-mean-js). */
  private readonly shift = new RunningMoments();
  private readonly trackShift: boolean;
  /** Bonferroni: every look at n ∈ {minImages, minImages + step, …} up to min(maxImages, N) spends α / looks. */
  private readonly alphaPerLook: number;

  constructor(
    readonly populationSize: number,
    private readonly hp: Pick<T3Hyperparameters, 'lambdaMin' | 'lambdaMax' | 'gamma' | 'jsThreshold' | 'batchAggregation' | 'extTau' | 'extDelta'>,
    readonly settings: SequentialSettings,
  ) {
    if (!Number.isInteger(populationSize) || populationSize < 1) throw new T3InputError(`a batch holds at least one image, got ${populationSize}`);
    validateSequentialSettings(settings);
    this.trackShift = hp.batchAggregation === 'lambda-of-mean-js' && guardEnabled(hp);
    const lastLook = Math.min(settings.maxImages, populationSize);
    const looks = lastLook <= settings.minImages ? 1 : 1 + Math.ceil((lastLook - settings.minImages) / settings.step);
    // Under lambda-of-mean-js with the guard, two intervals (the JS and the shift) share each look's α.
    this.alphaPerLook = (1 - settings.confidence) / looks / (this.trackShift ? 2 : 1);
  }

  /** The confidence each look's interval is built at (after Bonferroni), for the record. */
  get perLookConfidence(): number {
    return 1 - this.alphaPerLook;
  }

  add(images: readonly SampledImage[]): void {
    for (const image of images) {
      if (this.statistic.n >= this.populationSize) throw new T3InputError(`more images sampled than the batch's ${this.populationSize}`);
      this.statistic.add(this.hp.batchAggregation === 'lambda-of-mean-js' ? image.js : image.lambdaFinal);
      if (this.trackShift) this.shift.add(image.lambdaFinal - image.lambda);
    }
  }

  get sampled(): number {
    return this.statistic.n;
  }

  /** Half-width of the finite-population t interval of the mean of `m` at this look (0 once every image is in). */
  private halfWidth(m: RunningMoments): number {
    const n = m.n;
    const N = this.populationSize;
    if (n >= N) return 0;
    if (n < 2) return Number.POSITIVE_INFINITY;
    const t = studentTQuantile(1 - this.alphaPerLook / 2, n - 1);
    return t * Math.sqrt(m.variance * (1 - n / N) / n);
  }

  private lambdaAt(statistic: number, shift: number): number {
    return this.hp.batchAggregation === 'lambda-of-mean-js' ? t3Lambda(statistic, this.hp) + shift : statistic;
  }

  state(): SequentialState {
    const m = this.statistic;
    if (m.n === 0) throw new T3InputError('no image sampled yet');
    const h = this.halfWidth(m);
    const shiftMean = this.trackShift ? this.shift.mean : 0;
    const shiftHalf = this.trackShift ? this.halfWidth(this.shift) : 0;
    const lambda = this.lambdaAt(m.mean, shiftMean);
    const low = m.mean - h;
    const high = m.mean + h;
    // The map is monotone in the statistic, so its extremes over the interval are at the ends.
    const spread = Number.isFinite(h)
      ? Math.max(Math.abs(this.lambdaAt(low, shiftMean) - lambda), Math.abs(this.lambdaAt(high, shiftMean) - lambda)) + shiftHalf
      : Number.POSITIVE_INFINITY;
    const looked = m.n >= Math.min(this.settings.minImages, this.populationSize);
    return {
      sampled: m.n, estimate: m.mean, low, high, lambda, lambdaSpread: spread,
      decided: m.n >= this.populationSize || (looked && spread <= this.settings.lambdaTolerance),
    };
  }

  /** Images to draw next: the first draw, a step, everything left once undecided at maxImages, or 0 when done. */
  nextDraw(): number {
    const n = this.sampled;
    const N = this.populationSize;
    if (n >= N) return 0;
    if (n < this.settings.minImages) return Math.min(this.settings.minImages, N) - n;
    if (this.state().decided) return 0;
    if (n >= this.settings.maxImages) return N - n;
    return Math.min(this.settings.step, this.settings.maxImages - n, N - n);
  }

  /** Why sampling stopped (call once nextDraw() is 0). */
  stopReason(): SequentialStopReason {
    if (this.sampled < this.populationSize) return 'decided';
    return this.populationSize <= this.settings.maxImages ? 'all-images' : 'undecided';
  }
}

/**
 * A seeded random order of a batch's positions (Fisher–Yates on mulberry32): the sequential estimate draws images in
 * this order, so the sample is a simple random sample without replacement, and the same seed gives the same sample.
 */
export function sequentialOrder(count: number, seed: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
