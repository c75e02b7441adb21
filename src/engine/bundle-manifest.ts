import {
  BATCH_AGGREGATIONS,
  DEFAULT_T3_HYPERPARAMETERS,
  guardEnabled,
  isBatchAggregation,
  validateHyperparameters,
  type T3Hyperparameters,
} from '../t3';
import { parseLambdaEstimators } from './bundle-lambda-estimators';
import type { LambdaEstimatorSettings } from '../t3';
import { RESIZE_METHODS, type ModelInputSpec, type ResizeMethod } from '../dicom';
import { BundleError } from './bundle-error';
import { ESTIMATION_PRECISIONS, isEstimationPrecision, type EstimationPrecision } from './quantized-estimation';

/** bundle.json "input": the model's input tensor name and the preprocessing that feeds it. */
export interface BundleInputSpec extends ModelInputSpec {
  name: string;
}

export interface BundleClassCode { value: string; scheme: string; meaning: string; }
export interface BundleClass { label: string; prompt: string; code: BundleClassCode; }
export interface BundleModelEntry { file: string; name: string; version: string; sha256: string; }

/** bundle.json, format version 1 (contracts.md). */
export interface BundleManifest {
  formatVersion: 1;
  name: string;
  version: string;
  description: string;
  modalities: string[];
  input: BundleInputSpec;
  output: { name: string };
  classes: BundleClass[];
  logitScale: number;
  temperatures: { generalist: number; expert: number };
  /** Bundle-level T3 hyperparameters (the coefficient map); missing fields take the defaults of src/t3. */
  t3: T3Hyperparameters;
  /** How `t3` was fitted (orthanc-t3 fit), or null for a map that was not fitted (the paper's defaults). */
  t3Fit: T3FitRecord | null;
  models: { generalist: BundleModelEntry; expert: BundleModelEntry };
  /**
   * True for a demonstration model (trained on synthetic images, not a medical device): serve logs it, results and
   * SRs say so, and a production configuration refuses it unless allowed. Absent in bundle.json means false.
   */
  demonstration?: boolean;
  /**
   * `t3.estimationPrecision`: precision of the fixed passes that only estimate λ (quantized-estimation.ts). Kept beside
   * the hyperparameters rather than among them: it changes how λ is computed, not the coefficient map. Absent: float32.
   */
  estimationPrecision?: EstimationPrecision;
  /**
   * `t3.estimators`: the λ_B estimators a site turns on (sequential sampling, series reuse; t3/sequential-estimator-settings.ts),
   * each off by default. Beside the hyperparameters for the same reason: they change how λ_B is estimated, not the map.
   */
  lambdaEstimators?: LambdaEstimatorSettings;
}

/**
 * Provenance of a fitted coefficient map, written by `orthanc-t3 fit` beside the `t3` section it fitted. The engine
 * does not use it; it says which data, objective and command produced the map, so the map can be audited and redone.
 */
export interface T3FitRecord {
  /** What the fit maximised, in words. */
  objective: string;
  /** The command line that produced the fit. */
  command: string;
  /** ISO 8601 time of the fit. */
  date: string;
  /** The labelled validation data: a hash over every split's labels and image bytes, and its size. */
  data: { sha256: string; images: number; splits: { name: string; images: number; sha256: string }[] };
  /** Every other field the fit recorded (search ranges, validation scores, warnings), kept as written. */
  [key: string]: unknown;
}

type Json = Record<string, unknown>;

/** Field-by-field reader that throws BundleError naming the file and the JSON path of the bad field. */
class ManifestReader {
  constructor(private readonly file: string) {}

  fail(field: string, reason: string): never {
    throw new BundleError(this.file, field, reason);
  }

  object(value: unknown, field: string): Json {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, 'missing or not an object');
    return value as Json;
  }

  string(value: unknown, field: string, options: { allowEmpty?: boolean } = {}): string {
    if (typeof value !== 'string') this.fail(field, value === undefined ? 'missing' : 'must be a string');
    if (!options.allowEmpty && value.trim() === '') this.fail(field, 'must not be empty');
    return value;
  }

  number(value: unknown, field: string, check: (n: number) => boolean = () => true, what = 'a finite number'): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
      this.fail(field, value === undefined ? 'missing' : `must be ${what}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  positiveInteger(value: unknown, field: string): number {
    return this.number(value, field, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  }

  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, value === undefined ? 'missing' : 'must be an array');
    return value;
  }
}

/** Validates parsed bundle.json content. `file` is the path used in error messages. */
export function parseBundleManifest(raw: unknown, file: string): BundleManifest {
  const r = new ManifestReader(file);
  const root = r.object(raw, '(root)');
  if (root.formatVersion !== 1) r.fail('formatVersion', `must be 1, got ${JSON.stringify(root.formatVersion)}`);

  const modalities = r.array(root.modalities ?? [], 'modalities').map((m, i) => r.string(m, `modalities[${i}]`));

  const input = r.object(root.input, 'input');
  const channels = r.positiveInteger(input.channels, 'input.channels');
  const mean = r.array(input.mean, 'input.mean').map((v, i) => r.number(v, `input.mean[${i}]`));
  const std = r.array(input.std, 'input.std').map((v, i) => r.number(v, `input.std[${i}]`, (n) => n > 0, 'a positive number'));
  if (mean.length !== channels) r.fail('input.mean', `has ${mean.length} values but input.channels is ${channels}`);
  if (std.length !== channels) r.fail('input.std', `has ${std.length} values but input.channels is ${channels}`);
  const resize = r.string(input.resize ?? 'bilinear', 'input.resize');
  if (!(RESIZE_METHODS as readonly string[]).includes(resize)) {
    r.fail('input.resize', `must be one of ${RESIZE_METHODS.join(', ')}, got "${resize}"`);
  }

  const output = r.object(root.output, 'output');

  const classes = r.array(root.classes, 'classes').map((c, i) => {
    const cls = r.object(c, `classes[${i}]`);
    const code = r.object(cls.code, `classes[${i}].code`);
    return {
      label: r.string(cls.label, `classes[${i}].label`),
      prompt: r.string(cls.prompt ?? '', `classes[${i}].prompt`, { allowEmpty: true }),
      code: {
        value: r.string(code.value, `classes[${i}].code.value`),
        scheme: r.string(code.scheme, `classes[${i}].code.scheme`),
        meaning: r.string(code.meaning, `classes[${i}].code.meaning`),
      },
    };
  });
  if (classes.length === 0) r.fail('classes', 'must list at least one class');
  const labels = new Set<string>();
  classes.forEach((c, i) => {
    if (labels.has(c.label)) r.fail(`classes[${i}].label`, `duplicate label "${c.label}"`);
    labels.add(c.label);
  });

  const temperatures = r.object(root.temperatures ?? { generalist: 1, expert: 1 }, 'temperatures');
  const positive = (n: number) => n > 0;

  const t3Raw = r.object(root.t3 ?? {}, 't3');
  const t3 = { ...DEFAULT_T3_HYPERPARAMETERS };
  for (const key of Object.keys(t3Raw)) {
    if (!(key in DEFAULT_T3_HYPERPARAMETERS) && key !== 'estimationPrecision' && key !== 'estimators') r.fail(`t3.${key}`, 'unknown hyperparameter');
  }
  const numericKeys = ['tPt', 'tFt', 'lambdaMin', 'lambdaMax', 'gamma', 'jsThreshold', 'eps', 'extTau', 'extDelta', 'minGroupSize', 'maxGroups'] as const;
  for (const key of numericKeys) {
    if (t3Raw[key] !== undefined) t3[key] = r.number(t3Raw[key], `t3.${key}`);
  }
  if (t3Raw.guardTemperature !== undefined && t3Raw.guardTemperature !== null) {
    t3.guardTemperature = r.number(t3Raw.guardTemperature, 't3.guardTemperature', (n) => n > 0, 'null or a positive number');
  }
  const aggregation = t3Raw.batchAggregation;
  if (aggregation !== undefined) {
    if (isBatchAggregation(aggregation)) t3.batchAggregation = aggregation;
    else r.fail('t3.batchAggregation', `must be one of ${BATCH_AGGREGATIONS.join(', ')}, got ${JSON.stringify(aggregation)}`);
  }
  // The engine puts the bundle's fitted temperatures on tPt and tFt, and they differ (2.6 against 0.8 in the demo):
  // entropies at those temperatures are not comparable, and a guard comparing them fires by temperature, not by
  // confidence (docs/T3.md §2). So a bundle that turns the guard on names the one temperature it compares at.
  if (guardEnabled(t3) && t3.guardTemperature === null) {
    r.fail('t3.guardTemperature', 'must be a positive number when the extrapolation guard is on (extDelta ≠ 0, extTau > 0): the guard compares both entropies at that one temperature');
  }
  if (t3Raw.logBase !== undefined && t3Raw.logBase !== null) {
    t3.logBase = r.number(t3Raw.logBase, 't3.logBase', (n) => n > 0 && n !== 1, 'null or a positive number other than 1');
  } else if (t3Raw.logBase === null) {
    t3.logBase = null;
  }
  if (t3.tPt <= 0) r.fail('t3.tPt', 'must be positive');
  if (t3.tFt <= 0) r.fail('t3.tFt', 'must be positive');
  if (t3.eps < 0) r.fail('t3.eps', 'must not be negative');
  try {
    validateHyperparameters(t3);
  } catch (error) {
    r.fail('t3', (error as Error).message);
  }

  const models = r.object(root.models, 'models');
  const modelEntry = (role: 'generalist' | 'expert'): BundleModelEntry => {
    const m = r.object(models[role], `models.${role}`);
    const sha256 = r.string(m.sha256, `models.${role}.sha256`).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(sha256)) r.fail(`models.${role}.sha256`, 'must be 64 hexadecimal digits');
    const fileName = r.string(m.file, `models.${role}.file`);
    if (fileName.includes('..') || fileName.startsWith('/')) r.fail(`models.${role}.file`, 'must be a file inside the bundle folder');
    return { file: fileName, name: r.string(m.name, `models.${role}.name`), version: r.string(m.version, `models.${role}.version`), sha256 };
  };

  return {
    formatVersion: 1,
    name: r.string(root.name, 'name'),
    version: r.string(root.version, 'version'),
    description: r.string(root.description ?? '', 'description', { allowEmpty: true }),
    modalities,
    input: {
      name: r.string(input.name, 'input.name'),
      width: r.positiveInteger(input.width, 'input.width'),
      height: r.positiveInteger(input.height, 'input.height'),
      channels,
      mean,
      std,
      resize: resize as ResizeMethod,
    },
    output: { name: r.string(output.name, 'output.name') },
    classes,
    logitScale: r.number(root.logitScale ?? 1, 'logitScale', positive, 'a positive number'),
    temperatures: {
      generalist: r.number(temperatures.generalist, 'temperatures.generalist', positive, 'a positive number'),
      expert: r.number(temperatures.expert, 'temperatures.expert', positive, 'a positive number'),
    },
    t3,
    t3Fit: parseFitRecord(r, root.t3Fit),
    models: { generalist: modelEntry('generalist'), expert: modelEntry('expert') },
    demonstration: demonstrationFlag(r, root.demonstration),
    ...(t3Raw.estimationPrecision === undefined ? {} : { estimationPrecision: estimationPrecision(r, t3Raw.estimationPrecision) }),
    ...(t3Raw.estimators === undefined ? {} : { lambdaEstimators: parseLambdaEstimators(t3Raw.estimators, (field, reason) => r.fail(field, reason)) }),
  };
}

function estimationPrecision(r: ManifestReader, value: unknown): EstimationPrecision {
  if (!isEstimationPrecision(value)) r.fail('t3.estimationPrecision', `must be one of ${ESTIMATION_PRECISIONS.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

function demonstrationFlag(r: ManifestReader, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') r.fail('demonstration', `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** Checks the fields of a fit's provenance that readers rely on; other fields are kept as written. */
function parseFitRecord(r: ManifestReader, raw: unknown): T3FitRecord | null {
  if (raw === undefined || raw === null) return null;
  const fit = r.object(raw, 't3Fit');
  const data = r.object(fit.data, 't3Fit.data');
  const sha = r.string(data.sha256, 't3Fit.data.sha256');
  if (!/^[0-9a-f]{64}$/.test(sha)) r.fail('t3Fit.data.sha256', 'must be 64 hexadecimal digits');
  const splits = r.array(data.splits, 't3Fit.data.splits').map((s, i) => {
    const split = r.object(s, `t3Fit.data.splits[${i}]`);
    return {
      name: r.string(split.name, `t3Fit.data.splits[${i}].name`),
      images: r.positiveInteger(split.images, `t3Fit.data.splits[${i}].images`),
      sha256: r.string(split.sha256, `t3Fit.data.splits[${i}].sha256`),
    };
  });
  return {
    ...fit,
    objective: r.string(fit.objective, 't3Fit.objective'),
    command: r.string(fit.command, 't3Fit.command'),
    date: r.string(fit.date, 't3Fit.date'),
    data: { sha256: sha, images: r.positiveInteger(data.images, 't3Fit.data.images'), splits },
  };
}
