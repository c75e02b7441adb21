/**
 * Quantiles of Student's t distribution, for the sequential λ_B estimate's interval (sequential-estimate.ts). Computed
 * from the regularized incomplete beta function (continued fraction, modified Lentz) and bisection: exact to ~1e-10,
 * where the usual series approximations undercover at the few degrees of freedom of a 4-image sample.
 */

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms). */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (Numerical Recipes' betacf, modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-15) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with ν degrees of freedom. */
function studentTCdf(t: number, nu: number): number {
  const tail = 0.5 * regularizedIncompleteBeta(nu / (nu + t * t), nu / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** Quantiles already computed: a batch asks for the same few (p, ν) at every look, batch after batch. */
const quantiles = new Map<string, number>();
const MAX_CACHED_QUANTILES = 4096;

/** The t with P(T ≤ t) = p (0 < p < 1), ν > 0 degrees of freedom. */
export function studentTQuantile(p: number, nu: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`a quantile needs 0 < p < 1, got ${p}`);
  if (!(nu > 0)) throw new RangeError(`degrees of freedom must be positive, got ${nu}`);
  if (p < 0.5) return -studentTQuantile(1 - p, nu);
  const key = `${p}:${nu}`;
  const known = quantiles.get(key);
  if (known !== undefined) return known;
  const t = bisectQuantile(p, nu);
  if (quantiles.size >= MAX_CACHED_QUANTILES) quantiles.clear();
  quantiles.set(key, t);
  return t;
}

function bisectQuantile(p: number, nu: number): number {
  let low = 0;
  let high = 1;
  while (studentTCdf(high, nu) < p) high *= 2;
  for (let i = 0; i < 200 && high - low > 1e-12 * Math.max(1, high); i++) {
    const mid = 0.5 * (low + high);
    if (studentTCdf(mid, nu) < p) low = mid;
    else high = mid;
  }
  return 0.5 * (low + high);
}
