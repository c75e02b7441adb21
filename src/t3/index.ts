export { T3InputError } from './errors';
export {
  BATCH_AGGREGATIONS,
  DEFAULT_T3_HYPERPARAMETERS,
  GROUP_BY_MODES,
  guardEnabled,
  isGroupBy,
  resolveHyperparameters,
  validateHyperparameters,
  type BatchAggregation,
  type GroupBy,
  type T3Hyperparameters,
} from './hyperparameters';
export { logSoftmax, softmax } from './softmax';
export { pairwiseSum } from './pairwise-sum';
export { entropyFromLogProbabilities } from './entropy';
export { jsDivergence } from './js-divergence';
export { aggregateBatchLambda, applyExtrapolationGuard, sigmoid, t3Lambda } from './lambda';
export { mergedTemperature } from './merged-temperature';
export { dawinCoefficient, dawinOffsetCoefficients } from './dawin';
export {
  POLICY_NAMES,
  defaultPolicyConfig,
  parsePolicyName,
  type PolicyConfig,
  type PolicyName,
} from './policy';
export { groupBatch, seriesGroupMembership, type GroupingParameters } from './batch-groups';
export { estimateGroupLambdas, type GroupEstimation } from './grouped-lambda-estimation';
export {
  computeBatchCoefficients,
  type BatchCoefficients,
  type ImageCoefficients,
} from './batch-coefficients';
export {
  DEFAULT_SEQUENTIAL_SETTINGS,
  SequentialLambdaEstimate,
  sequentialOrder,
  validateSequentialSettings,
  type SequentialSettings,
} from './sequential-estimate';
export {
  batchSeed,
  estimateBatchLambda,
  type FixedPassRunner,
  type LambdaEstimateRecord,
  type LambdaEstimation,
} from './sequential-lambda-estimation';
export {
  DEFAULT_SERIES_REUSE_SETTINGS,
  defaultLambdaEstimatorSettings,
  lambdaEstimatorSettingsProblem,
  validateLambdaEstimatorSettings,
  type LambdaEstimatorSettings,
} from './sequential-estimator-settings';
