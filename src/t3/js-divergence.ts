import { T3InputError } from './errors';
import { pairwiseSum } from './pairwise-sum';

export interface JsDivergenceOptions {
  /** null = natural log (nats, range [0, ln 2]); 2 gives bits (range [0, 1]). */
  logBase: number | null;
  /** 0 = exact log-space evaluation; > 0 = Σ a·(ln(a+eps) − ln(M+eps)) in probability space. */
  eps: number;
}

/** ln(e^a + e^b) without overflow or loss for very negative arguments. */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const max = a > b ? a : b;
  return max + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * Jensen–Shannon divergence ½KL(p‖M) + ½KL(q‖M), M = (p+q)/2, from log-probabilities.
 * The exact form works in log space (ln M = logaddexp(ln p, ln q) − ln 2), so classes with probabilities far below
 * float precision still count and no epsilon biases the result. Rounding can push the exact value a few ulps
 * outside its mathematical range [0, ln 2]; it is clamped to that range so λ never sees a negative divergence.
 */
export function jsDivergence(
  logP: ArrayLike<number>,
  logQ: ArrayLike<number>,
  options: JsDivergenceOptions = { logBase: null, eps: 0 },
): number {
  const n = logP.length;
  if (logQ.length !== n) {
    throw new T3InputError(`JS divergence needs two distributions over the same classes, got ${n} and ${logQ.length}`);
  }
  const { logBase, eps } = options;
  let js: number;
  if (eps > 0) {
    const termsP = new Array<number>(n);
    const termsQ = new Array<number>(n);
    for (let c = 0; c < n; c++) {
      const p = Math.exp(logP[c]);
      const q = Math.exp(logQ[c]);
      const lm = Math.log((p + q) / 2 + eps);
      termsP[c] = p * (Math.log(p + eps) - lm);
      termsQ[c] = q * (Math.log(q + eps) - lm);
    }
    js = 0.5 * pairwiseSum(termsP) + 0.5 * pairwiseSum(termsQ);
  } else {
    const termsP = new Array<number>(n);
    const termsQ = new Array<number>(n);
    for (let c = 0; c < n; c++) {
      const lp = logP[c];
      const lq = logQ[c];
      const lm = logAddExp(lp, lq) - Math.LN2;
      const p = Math.exp(lp);
      const q = Math.exp(lq);
      termsP[c] = p > 0 ? p * (lp - lm) : 0;
      termsQ[c] = q > 0 ? q * (lq - lm) : 0;
    }
    js = Math.min(Math.max(0.5 * pairwiseSum(termsP) + 0.5 * pairwiseSum(termsQ), 0), Math.LN2);
  }
  return logBase === null ? js : js / Math.log(logBase);
}
