import type { PolicyName } from '../t3';
import type { QuantizeOptions } from './quantized-model';

/**
 * Precision of the fixed passes (λ=0 generalist, λ=1 expert) that only estimate λ: `float32` runs the models
 * themselves; `int8` runs 8-bit copies of them (quantized-model.ts), cheaper where MatMul/Gemm dominate (transformers),
 * at the cost of a slightly different λ (docs/LAMBDA-ESTIMATORS.md, "Low-precision estimation passes"). The merged
 * pass, which gives the predictions, always runs in full precision. Bundle key `t3.estimationPrecision`.
 */
export type EstimationPrecision = 'float32' | 'int8';

export const ESTIMATION_PRECISIONS: readonly EstimationPrecision[] = ['float32', 'int8'];

/**
 * What the estimation copies quantize: MatMul and Gemm weights only. ConvInteger has no fused kernel in ONNX Runtime's
 * CPU provider and loses the float Conv's NCHWc kernels: an all-Conv demo model ran 2.5–4× slower with its
 * convolutions quantized (docs/LAMBDA-ESTIMATORS.md), so convolutions stay float.
 */
export const ESTIMATION_QUANTIZE_OPTIONS: QuantizeOptions = Object.freeze({ conv: false });

/**
 * Policies whose fixed passes only estimate λ (their predictions come from merged passes), so those passes may run in
 * int8. The output ensemble's predictions are the fixed passes themselves: they stay full precision.
 */
export function fixedPassesOnlyEstimate(policy: PolicyName): boolean {
  return policy === 't3b' || policy === 't3b-grouped' || policy === 't3' || policy === 'dawin';
}
