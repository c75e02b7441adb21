/**
 * The one schema of bundle.json (format version 1, contracts.md): parseBundleManifest checks a file against it, and
 * schemas/bundle.schema.json (written by `npx tsx scripts/generate-schemas.ts`) publishes it for bundle authors'
 * editors. TypeBox + Ajv for the reasons given in src/config/t3-schema.ts; the messages are bundle.json's own style
 * (firstBundleFailure in src/util/schema-failures.ts), unchanged from its hand-written checks.
 *
 * The schema holds what one value can be checked for alone. What spans several values or needs code stays in
 * parseBundleManifest: mean/std lengths against input.channels, duplicate class labels, the guard-temperature rule,
 * validateHyperparameters (whole group sizes), the λ-estimator settings' own rules (parseLambdaEstimators),
 * model files inside the bundle folder, sha256 lowercasing and the defaults. Names other modules own (the
 * hyperparameters and their defaults, resize methods, aggregations, estimation precisions, estimator settings) are
 * imported, never restated.
 *
 * The top level and the objects in it stay open to keys they do not name, as they always were (a bundle may carry
 * notes; t3Fit keeps every field a fit records); the `t3` section is closed, so a misspelt hyperparameter is refused
 * rather than left at its default.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  BATCH_AGGREGATIONS,
  DEFAULT_T3_HYPERPARAMETERS,
  defaultLambdaEstimatorSettings,
  GROUP_BY_MODES,
  type T3Hyperparameters,
} from '../t3';
import { RESIZE_METHODS } from '../dicom';
import { closedObject, ERROR_MESSAGES_KEYWORD, nonEmptyArray, nullable, patternString, stringEnum } from '../util/schema-kit';
import { ESTIMATION_PRECISIONS, type EstimationPrecision } from './quantized-estimation';

/** A string with something other than spaces in it (the hand-written check trimmed before testing for empty). */
const text = (description?: string) => patternString('\\S', 'must not be empty', description ? { description } : {});
const positiveInteger = (description?: string) => Type.Integer({ minimum: 1, ...(description ? { description } : {}) });
const positiveNumber = (description?: string) => Type.Number({ exclusiveMinimum: 0, ...(description ? { description } : {}) });
const HEX_DIGITS_MESSAGE = 'must be 64 hexadecimal digits';

/**
 * The hyperparameters whose schema is more than "a number": those with a bound of their own, and those whose default
 * is not a number. Every other key of DEFAULT_T3_HYPERPARAMETERS is a finite number whose range
 * validateHyperparameters checks with the others.
 */
const HYPERPARAMETER_SCHEMAS: Partial<Record<keyof T3Hyperparameters, TSchema>> = {
  tPt: Type.Number({ exclusiveMinimum: 0, [ERROR_MESSAGES_KEYWORD]: { exclusiveMinimum: 'must be positive' } }),
  tFt: Type.Number({ exclusiveMinimum: 0, [ERROR_MESSAGES_KEYWORD]: { exclusiveMinimum: 'must be positive' } }),
  eps: Type.Number({ minimum: 0, [ERROR_MESSAGES_KEYWORD]: { minimum: 'must not be negative' } }),
  logBase: nullable(Type.Number({ exclusiveMinimum: 0, not: { const: 1 }, description: 'Base of the entropy logarithm; null: natural.' })),
  guardTemperature: nullable(positiveNumber('The one temperature the extrapolation guard compares both entropies at; required when the guard is on.')),
  batchAggregation: stringEnum(BATCH_AGGREGATIONS),
  groupBy: stringEnum(GROUP_BY_MODES),
};

function hyperparameterSchema(key: keyof T3Hyperparameters, defaultValue: unknown): TSchema {
  const schema = HYPERPARAMETER_SCHEMAS[key] ?? (typeof defaultValue === 'number' ? Type.Number() : undefined);
  // A hyperparameter added to src/t3 whose default is not a number needs its schema above; failing at load says so.
  if (!schema) throw new TypeError(`bundle-schema.ts: no schema for the hyperparameter ${key}`);
  return { ...schema, default: defaultValue };
}

/** `t3.estimators` (docs/LAMBDA-ESTIMATORS.md): each estimator's settings, named and typed by its defaults. */
function estimatorsSchema(): TSchema {
  const estimator = (defaults: Record<string, unknown>) =>
    closedObject(
      Object.fromEntries(Object.entries(defaults).map(([key, value]) => [key, Type.Optional({ ...(typeof value === 'boolean' ? Type.Boolean() : Type.Number()), default: value })])),
      { [ERROR_MESSAGES_KEYWORD]: { type: 'must be an object', additionalProperties: 'unknown setting' } },
    );
  const defaults = defaultLambdaEstimatorSettings();
  return closedObject(
    { sequential: Type.Optional(estimator({ ...defaults.sequential })), seriesReuse: Type.Optional(estimator({ ...defaults.seriesReuse })) },
    {
      description: 'λ_B estimators a site turns on (sequential sampling, series reuse), each off by default; the settings\' ranges are checked by the sidecar.',
      [ERROR_MESSAGES_KEYWORD]: { type: 'must be an object', additionalProperties: 'unknown estimator (expected sequential or seriesReuse)' },
    },
  );
}

/** The `t3` section as a file writes it: every key optional (missing ones take DEFAULT_T3_HYPERPARAMETERS). */
export interface BundleT3Section extends Partial<T3Hyperparameters> {
  estimationPrecision?: EstimationPrecision;
  /** Read by parseLambdaEstimators, which fills in the defaults and checks the settings' ranges. */
  estimators?: unknown;
}

function t3SectionSchema() {
  const hyperparameters = Object.fromEntries(
    Object.entries(DEFAULT_T3_HYPERPARAMETERS).map(([key, value]) => [key, Type.Optional(hyperparameterSchema(key as keyof T3Hyperparameters, value))]),
  );
  const section = closedObject(
    {
      ...hyperparameters,
      estimationPrecision: Type.Optional(stringEnum(ESTIMATION_PRECISIONS, { description: 'Precision of the fixed passes that only estimate λ; absent: float32.' })),
      estimators: Type.Optional(estimatorsSchema()),
    },
    { description: 'The T3 hyperparameters (the coefficient map); a key left out takes the default shown.', [ERROR_MESSAGES_KEYWORD]: { additionalProperties: 'unknown hyperparameter' } },
  );
  return Type.Unsafe<BundleT3Section | null>(nullable(section));
}

export const BundleClassCodeSchema = Type.Object({ value: text(), scheme: text('Coding scheme designator, e.g. SCT.'), meaning: text() });

export const BundleClassSchema = Type.Object({
  label: text(),
  prompt: Type.Optional(nullable(Type.String({ description: 'Text prompt of a zero-shot model; absent: "".' }))),
  code: BundleClassCodeSchema,
});

export const BundleModelEntrySchema = Type.Object({
  file: text('ONNX file inside the bundle folder.'),
  name: text(),
  version: text(),
  sha256: patternString('^[0-9a-fA-F]{64}$', HEX_DIGITS_MESSAGE, { description: "SHA-256 of the file, checked when the bundle loads." }),
});

export const T3FitRecordSchema = Type.Object({
  objective: text(),
  command: text(),
  date: text(),
  data: Type.Object({
    sha256: patternString('^[0-9a-f]{64}$', HEX_DIGITS_MESSAGE),
    images: positiveInteger(),
    splits: Type.Array(Type.Object({ name: text(), images: positiveInteger(), sha256: text() })),
  }),
}, { description: 'How `t3` was fitted (orthanc-t3 fit); every other field the fit recorded is kept as written.' });

export const BundleFileSchema = Type.Object({
  formatVersion: Type.Literal(1),
  name: text(),
  version: text(),
  description: Type.Optional(nullable(Type.String())),
  demonstration: Type.Optional(Type.Boolean({ description: 'A demonstration model (not a medical device): production configurations refuse it unless allowed.' })),
  modalities: Type.Optional(nullable(Type.Array(text()))),
  input: Type.Object({
    name: text('Name of the model\'s input tensor.'),
    width: positiveInteger(),
    height: positiveInteger(),
    channels: positiveInteger(),
    mean: Type.Array(Type.Number(), { description: 'One value per channel.' }),
    std: Type.Array(positiveNumber(), { description: 'One value per channel.' }),
    resize: Type.Optional(nullable(stringEnum(RESIZE_METHODS, { default: 'bilinear' }))),
  }),
  output: Type.Object({ name: text('Name of the model\'s logits output.') }),
  classes: nonEmptyArray(BundleClassSchema, 'must list at least one class'),
  logitScale: Type.Optional(nullable(positiveNumber())),
  temperatures: Type.Optional(nullable(Type.Object({ generalist: positiveNumber(), expert: positiveNumber() }))),
  t3: Type.Optional(t3SectionSchema()),
  t3Fit: Type.Optional(nullable(T3FitRecordSchema)),
  models: Type.Object({ generalist: BundleModelEntrySchema, expert: BundleModelEntrySchema }),
});

/** A bundle.json that passed the schema, before parseBundleManifest applies its cross-field rules and defaults. */
export type BundleFile = Static<typeof BundleFileSchema>;
