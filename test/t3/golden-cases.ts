import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { T3Hyperparameters } from '../../src/t3';

/** One case of test/fixtures/t3_golden.json (an unchanged copy of the numpy float64 reference, pinned by SHA-256 in golden.test.ts). */
export interface GoldenCase {
  name: string;
  hyperparameters: {
    t_pt: number; t_ft: number; lambda_min: number; lambda_max: number; gamma: number;
    log_base: number | null; eps: number; ext_tau: number; ext_delta: number;
  };
  inputs: { pt_logits: number[][]; ft_logits: number[][] };
  outputs: {
    entropy_pt: number[]; entropy_ft: number[]; js: number[]; lambda: number[];
    extrapolation_triggered: boolean[]; lambda_final: number[]; batch_lambda: number;
    batch_lambda_alt_of_mean_js: number; dawin_coef: number[]; dawin_coef_offset: (number | null)[];
  };
}

export const GOLDEN_PATH = path.resolve(__dirname, '..', 'fixtures', 't3_golden.json');

export function loadGoldenCases(): GoldenCase[] {
  return (JSON.parse(readFileSync(GOLDEN_PATH, 'utf8')) as { cases: GoldenCase[] }).cases;
}

export function toHyperparameters(h: GoldenCase['hyperparameters']): T3Hyperparameters {
  return {
    tPt: h.t_pt, tFt: h.t_ft, lambdaMin: h.lambda_min, lambdaMax: h.lambda_max, gamma: h.gamma,
    logBase: h.log_base, eps: h.eps, extTau: h.ext_tau, extDelta: h.ext_delta,
    // The golden file's conventions: the paper's map (no JS threshold), guard entropies at each model's own
    // temperature, λ_B the mean of λ'.
    jsThreshold: 0, guardTemperature: null, batchAggregation: 'mean-lambda',
    // Grouping is not part of the golden file: the defaults (t3b-grouped = t3b).
    minGroupSize: 8, maxGroups: 1, groupBy: 'js-step',
  };
}

/** The float64 tolerance the golden file states for a plain TS `number` implementation. */
export const FLOAT64_TOLERANCE = 1e-10;

/** Max |a−b| over two arrays where null must meet null; Infinity on any length or null mismatch. */
export function maxAbsDiff(actual: (number | null)[], expected: (number | null)[]): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (a === null || e === null) {
      if (a !== e) return Infinity;
      continue;
    }
    const d = Math.abs(a - e);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}
