export {
  applyCorruption, CORRUPTION_NAMES, CORRUPTION_PARAMETERS, CORRUPTION_REFERENCE_SIDE, corruptionParameter, corruptionSizeScale, CorruptionError,
  gaussianBlur, parseCorruptionName, SEVERITIES, SIZE_SCALED_CORRUPTIONS, type CorruptionName,
} from './corruptions';
export { checkSplitNames, RESERVED_SPLIT_NAMES } from './split-names';
export { EvaluationInputError } from './evaluation-input-error';
export { selectPolicies } from './policy-filter';
export { CORRUPTED_MEAN, DEFAULT_BOOTSTRAP, MIXED_SPLIT, POOLED_SPLIT, runEvaluation, type EvaluationOptions, type EvaluationResult, type LambdaPoint, type OracleCurve, type PolicySummary, type SplitInfo } from './evaluation';
export { pairedBootstrap, type BootstrapInterval, type BootstrapOptions } from './paired-bootstrap';
export { DEFAULT_T3B_BATCH_SIZES, DEFAULT_WISE_ALPHAS, evaluationPolicies, type EvaluatedPolicy, type PolicySetOptions } from './evaluation-policies';
export { scorePolicyOnSplit, type InferenceRunner, type PolicySplitRun, type PreparedSplit, type SplitScore } from './evaluation-runner';
export { clamp01, cloneImage, createImage, meanAbsoluteDifference, type PlanarImage } from './image';
export {
  discoverSplits, LABELS_FILE, loadLabelledSplit, resolveClassIndex,
  type ClassRef, type DicomImageReader, type LabelledImage, type LabelledSplit, type LoadSplitOptions,
} from './labelled-dataset';
export { LabelsError, parseLabelsCsv, type LabelRow } from './labels-csv';
export { argmax, corruptionErrors, expectedCalibrationError, meanNegativeLogLikelihood, top1Accuracy, type CorruptionErrorSummary, type CorruptionErrorTable } from './metrics';
export { fromModelTensor, toModelTensor, type ModelInputShape } from './model-input';
export { decodePng, ImageDecodeError } from './png-image';
export { prepareSplit } from './prepare-split';
export { hashSeed, normalGenerator, uniformGenerator } from './random';
export { evaluationMarkdown } from './report-markdown';
export { evaluationSvg } from './report-svg';
export { resizeImage, type ResizeMethod } from './resize';
export { CalibrationError, fitTemperature, temperatureNll, type TemperatureFit, type TemperatureSearch } from './temperature-scaling';
export { calibrationWarnings, MIN_CALIBRATION_IMAGES, TEMPERATURE_SEARCH_RANGE } from './calibration-warnings';
export { fitCoefficientMap, PAPER_MAP, describeGrid, type CoefficientMap, type CoefficientMapFit, type FitBatch, type FitImage, type FitSplit, type MapSearchSpace } from './coefficient-fit';
export { FitError } from './fit-error';
export { batchFitImages, buildFitSplit, concatFitImageTables, fitImageTable, sweepLogits, type FitImageTable, type LogitPassRunner } from './fit-data';
export { pooledOrder, pooledPreparedSplit } from './pooled-stream';
export { fitGrouping, type GroupingCandidate, type GroupingFit, type GroupingSearch, type GroupingStream } from './grouping-fit';
export { fitVerdict, MEAN_COLUMN, type FitComparison, type FitValidation, type FitVerdict } from './fit-verdict';
export { combineHashes, hashLabelledFolder } from './data-hash';
export { correctnessOnGrid, gridValue, gridValues, lambdaGrid, nearestIndex, onGrid, type LambdaGrid } from './lambda-grid';
export { HOMOGENEOUS_SERIES_STREAM, MIXED_SERIES_STREAM, POOLED_STREAM, compareEstimators, comparisonStreams, estimatorComparisonMarkdown, type EstimatorComparisonOptions, type EstimatorRow, type PooledSeries } from './estimator-comparison';
export { homogeneousSeriesOrder, mixedSeriesOrder, seriesPreparedSplit, type SeriesStreamOptions } from './series-stream';
export { T3B_ESTIMATORS, estimatorSettingsFor, type T3bEstimatorName } from './evaluation-policies';
