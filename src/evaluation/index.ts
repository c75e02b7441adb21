export {
  applyCorruption, CORRUPTION_NAMES, CORRUPTION_PARAMETERS, corruptionParameter, corruptionSizeScale, CorruptionError,
  gaussianBlur, parseCorruptionName, SEVERITIES, type CorruptionName,
} from './corruptions';
export { checkSplitNames } from './split-names';
export { EvaluationInputError } from './evaluation-input-error';
export { selectPolicies } from './policy-filter';
export { DEFAULT_BOOTSTRAP, MIXED_SPLIT, POOLED_SPLIT, runEvaluation, type EvaluationResult } from './evaluation';
export { pairedBootstrap } from './paired-bootstrap';
export { DEFAULT_T3B_BATCH_SIZES, DEFAULT_WISE_ALPHAS, evaluationPolicies, type EvaluatedPolicy } from './evaluation-policies';
export { scorePolicyOnSplit, type InferenceRunner, type PreparedSplit } from './evaluation-runner';
export { createImage, meanAbsoluteDifference, type PlanarImage } from './image';
export {
  discoverSplits, LABELS_FILE, loadLabelledSplit,
  type DicomImageReader, type LabelledSplit,
} from './labelled-dataset';
export { LabelsError, parseLabelsCsv } from './labels-csv';
export { argmax, corruptionErrors, expectedCalibrationError, meanNegativeLogLikelihood, top1Accuracy } from './metrics';
export { fromModelTensor, toModelTensor } from './model-input';
export { decodePng, ImageDecodeError } from './png-image';
export { prepareSplit } from './prepare-split';
export { uniformGenerator } from './random';
export { evaluationMarkdown } from './report-markdown';
export { evaluationSvg } from './report-svg';
export { resizeImage } from './resize';
export { CalibrationError, fitTemperature, temperatureNll, type TemperatureFit } from './temperature-scaling';
export { calibrationWarnings } from './calibration-warnings';
export { fitCoefficientMap, PAPER_MAP, describeGrid, type CoefficientMap, type CoefficientMapFit, type FitBatch, type FitSplit, type MapSearchSpace } from './coefficient-fit';
export { FitError } from './fit-error';
export { batchFitImages, concatFitImageTables, fitImageTable, sweepLogits, type FitImageTable } from './fit-data';
export { pooledOrder, pooledPreparedSplit } from './pooled-stream';
export { fitGrouping, type GroupingFit, type GroupingSearch, type GroupingStream } from './grouping-fit';
export { fitVerdict, MEAN_COLUMN, type FitValidation, type FitVerdict } from './fit-verdict';
export { combineHashes, hashLabelledFolder } from './data-hash';
export { gridValue, lambdaGrid, type LambdaGrid } from './lambda-grid';
export { compareEstimators, comparisonStreams, estimatorComparisonMarkdown, type EstimatorRow, type PooledSeries } from './estimator-comparison';
export { homogeneousSeriesOrder, mixedSeriesOrder, seriesPreparedSplit } from './series-stream';
export { T3B_ESTIMATORS, type T3bEstimatorName } from './evaluation-policies';
export { seriesSplitFitImages } from './fit-series-batches';
