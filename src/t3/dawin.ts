import { T3InputError } from './errors';
import { pairwiseSum } from './pairwise-sum';

/**
 * DaWin's entropy-ratio coefficient (arXiv 2410.03782, naver-ai/dawin `negexp_ent_ratio`):
 * λ = e^{−H_ft} / (e^{−H_pt} + e^{−H_ft}). Lower entropy (more confident) pulls λ toward that model.
 */
export function dawinCoefficient(entropyPt: number, entropyFt: number): number {
  const a = Math.exp(-entropyPt);
  const b = Math.exp(-entropyFt);
  return b / (a + b);
}

function mean(xs: ArrayLike<number>): number {
  return pairwiseSum(xs) / xs.length;
}

/** Sample standard deviation (ddof = 1, as torch.std's default), NaN for fewer than two values. */
function sampleStd(xs: ArrayLike<number>, m: number): number {
  if (xs.length < 2) return Number.NaN;
  const squares = new Array<number>(xs.length);
  for (let i = 0; i < xs.length; i++) squares[i] = (xs[i] - m) * (xs[i] - m);
  return Math.sqrt(pairwiseSum(squares) / (xs.length - 1));
}

/**
 * DaWin with `--offset-adjustment` (naver-ai/dawin, dawin_rft/main_dawin.py), statistics taken over the rows given:
 *   bias  = (std(H_pt)/mean(H_pt) + std(H_ft)/mean(H_ft)) / 2      (coefficients of variation, ddof = 1)
 *   biasw = (mean(H_pt) + mean(H_ft)) / mean(H_pt)
 *   λ_i   = (e^{−H_ft,i} + bias/biasw) / (e^{−H_pt,i} + e^{−H_ft,i} + bias)
 * The statistics are undefined for a single row (no sample std) and when a model's entropies are all 0 (0/0);
 * those give null for every row instead of NaN.
 */
export function dawinOffsetCoefficients(entropyPt: ArrayLike<number>, entropyFt: ArrayLike<number>): (number | null)[] {
  const n = entropyPt.length;
  if (entropyFt.length !== n) throw new T3InputError(`entropy arrays differ in length: ${n} and ${entropyFt.length}`);
  const meanPt = mean(entropyPt);
  const meanFt = mean(entropyFt);
  const bias = (sampleStd(entropyPt, meanPt) / meanPt + sampleStd(entropyFt, meanFt) / meanFt) / 2;
  const biasW = (meanPt + meanFt) / meanPt;
  const out: (number | null)[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.exp(-entropyPt[i]);
    const b = Math.exp(-entropyFt[i]);
    const coef = (b + bias / biasW) / (a + b + bias);
    out.push(Number.isFinite(coef) ? coef : null);
  }
  return out;
}
