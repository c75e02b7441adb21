export { T3InputError } from './errors';
export {
  BATCH_AGGREGATIONS,
  DEFAULT_T3_HYPERPARAMETERS,
  guardEnabled,
  isBatchAggregation,
  resolveHyperparameters,
  validateHyperparameters,
  validateTemperature,
  type BatchAggregation,
  type T3Hyperparameters,
} from './hyperparameters';
export { logSoftmax, softmax } from './softmax';
export { pairwiseSum } from './pairwise-sum';
export { entropyFromLogProbabilities } from './entropy';
export { jsDivergence, logAddExp, type JsDivergenceOptions } from './js-divergence';
export { aggregateBatchLambda, applyExtrapolationGuard, batchLambda, sigmoid, t3Lambda, type GuardedLambda } from './lambda';
export { mergedTemperature } from './merged-temperature';
export { dawinCoefficient, dawinOffsetCoefficients } from './dawin';
export {
  DEFAULT_POLICY_NAME,
  DEFAULT_WISE_ALPHA,
  POLICY_NAMES,
  defaultPolicyConfig,
  isPolicyName,
  parsePolicyName,
  type PolicyConfig,
  type PolicyName,
} from './policy';
export { groupBatch, validateGroupingParameters, type BatchGroups, type GroupingParameters } from './batch-groups';
export {
  computeBatchCoefficients,
  type BatchCoefficients,
  type ImageCoefficients,
} from './batch-coefficients';
export {
  DEFAULT_SEQUENTIAL_SETTINGS,
  SequentialLambdaEstimate,
  sequentialOrder,
  sequentialSettingsProblem,
  validateSequentialSettings,
  type SampledImage,
  type SequentialSettings,
  type SequentialState,
  type SequentialStopReason,
} from './sequential-estimate';
export {
  batchSeed,
  estimateBatchLambda,
  type EstimatedBatchLambda,
  type FixedPassRunner,
  type LambdaEstimateOutcome,
  type LambdaEstimateRecord,
  type LambdaEstimation,
} from './sequential-lambda-estimation';
export {
  DEFAULT_SERIES_REUSE_SETTINGS,
  defaultLambdaEstimatorSettings,
  lambdaEstimatorSettingsProblem,
  seriesReuseSettingsProblem,
  validateLambdaEstimatorSettings,
  type LambdaEstimatorSettings,
  type SeriesReuseSettings,
} from './sequential-estimator-settings';
