import { pairwiseSum } from './pairwise-sum';

/**
 * Shannon entropy in nats of the distribution whose log-probabilities are given: H = −Σ p·ln p.
 * Classes with p = 0 (underflowed) contribute 0, the limit of p·ln p, rather than 0·(−Infinity) = NaN.
 */
export function entropyFromLogProbabilities(logProbabilities: ArrayLike<number>): number {
  const terms = new Array<number>(logProbabilities.length);
  for (let c = 0; c < logProbabilities.length; c++) {
    const lp = logProbabilities[c];
    const p = Math.exp(lp);
    terms[c] = p > 0 ? p * lp : 0;
  }
  // 0 − sum rather than −sum: a one-hot distribution has entropy +0, not −0.
  return 0 - pairwiseSum(terms);
}
