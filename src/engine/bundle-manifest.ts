import type { Static } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv';
import { DEFAULT_T3_HYPERPARAMETERS, guardEnabled, validateHyperparameters, type LambdaEstimatorSettings, type T3Hyperparameters } from '../t3';
import { parseLambdaEstimators } from './bundle-lambda-estimators';
import type { ModelInputSpec, ResizeMethod } from '../dicom';
import { compileSchema } from '../util/schema-kit';
import { firstBundleFailure } from '../util/schema-failures';
import { BundleError } from './bundle-error';
import { BundleClassCodeSchema, BundleFileSchema, BundleModelEntrySchema, type BundleFile } from './bundle-schema';
import type { EstimationPrecision } from './quantized-estimation';

/** bundle.json "input": the model's input tensor name and the preprocessing that feeds it. */
export interface BundleInputSpec extends ModelInputSpec {
  name: string;
}

export type BundleClassCode = Static<typeof BundleClassCodeSchema>;
/** A class as the engine uses it: the prompt defaulted to "". */
export interface BundleClass { label: string; prompt: string; code: BundleClassCode; }
export type BundleModelEntry = Static<typeof BundleModelEntrySchema>;

/** bundle.json, format version 1 (contracts.md), checked against src/engine/bundle-schema.ts, defaults applied. */
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

/** input.resize when bundle.json leaves it out. */
const DEFAULT_RESIZE: ResizeMethod = 'bilinear';

let compiledSchema: ValidateFunction | null = null;

/** bundle-schema.ts compiled once, on the first bundle loaded. */
function bundleValidator(): ValidateFunction {
  compiledSchema ??= compileSchema(BundleFileSchema);
  return compiledSchema;
}

type Fail = (field: string, reason: string) => never;

/** The classes as the manifest keeps them; a label twice is refused (results and SRs are keyed by label). */
function manifestClasses(root: BundleFile, fail: Fail): BundleManifest['classes'] {
  const classes = root.classes.map((c) => ({ label: c.label, prompt: c.prompt ?? '', code: { value: c.code.value, scheme: c.code.scheme, meaning: c.code.meaning } }));
  const labels = new Set<string>();
  classes.forEach((c, i) => {
    if (labels.has(c.label)) fail(`classes[${i}].label`, `duplicate label "${c.label}"`);
    labels.add(c.label);
  });
  return classes;
}

/** The method's hyperparameters: the defaults, then what the `t3` section gives, checked as a whole. */
function manifestHyperparameters(section: BundleFile['t3'], fail: Fail): T3Hyperparameters {
  // estimationPrecision and estimators say how λ_B is estimated, not what the method is; they are read apart.
  // A key present with the value undefined (a manifest built in code, not read from JSON) keeps its default.
  const given = Object.fromEntries(
    Object.entries(section ?? {}).filter(([key, value]) => value !== undefined && key !== 'estimationPrecision' && key !== 'estimators'),
  );
  const t3: T3Hyperparameters = { ...DEFAULT_T3_HYPERPARAMETERS, ...given };
  // The engine puts the bundle's fitted temperatures on tPt and tFt, and they differ (2.6 against 0.8 in the demo):
  // entropies at those temperatures are not comparable, and a guard comparing them fires by temperature, not by
  // confidence (docs/T3.md §2). So a bundle that turns the guard on names the one temperature it compares at.
  if (guardEnabled(t3) && t3.guardTemperature === null) {
    fail('t3.guardTemperature', 'must be a positive number when the extrapolation guard is on (extDelta ≠ 0, extTau > 0): the guard compares both entropies at that one temperature');
  }
  try {
    validateHyperparameters(t3);
  } catch (error) {
    fail('t3', (error as Error).message);
  }
  return t3;
}

/** One model's entry; its file must stay inside the bundle folder (a manifest never points elsewhere on disk). */
function modelEntry(root: BundleFile, role: 'generalist' | 'expert', fail: Fail): BundleModelEntry {
  const m = root.models[role];
  if (m.file.includes('..') || m.file.startsWith('/')) fail(`models.${role}.file`, 'must be a file inside the bundle folder');
  return { file: m.file, name: m.name, version: m.version, sha256: m.sha256.toLowerCase() };
}

/**
 * Validates parsed bundle.json content. `file` is the path used in error messages. The schema checks each value
 * alone; what follows checks what spans several values, and applies the defaults. Only the first problem is reported.
 */
export function parseBundleManifest(raw: unknown, file: string): BundleManifest {
  const fail: Fail = (field, reason) => {
    throw new BundleError(file, field, reason);
  };
  const validate = bundleValidator();
  if (!validate(raw)) {
    const failure = firstBundleFailure(validate.errors ?? [], raw) ?? { key: '', reason: 'does not match schemas/bundle.schema.json' };
    fail(failure.key === '' ? '(root)' : failure.key, failure.reason);
  }
  const root = raw as BundleFile;

  const { input } = root;
  if (input.mean.length !== input.channels) fail('input.mean', `has ${input.mean.length} values but input.channels is ${input.channels}`);
  if (input.std.length !== input.channels) fail('input.std', `has ${input.std.length} values but input.channels is ${input.channels}`);
  const classes = manifestClasses(root, fail);
  const t3 = manifestHyperparameters(root.t3, fail);
  const { estimationPrecision, estimators } = root.t3 ?? {};

  return {
    formatVersion: 1,
    name: root.name,
    version: root.version,
    description: root.description ?? '',
    modalities: root.modalities ?? [],
    input: {
      name: input.name,
      width: input.width,
      height: input.height,
      channels: input.channels,
      mean: [...input.mean],
      std: [...input.std],
      resize: input.resize ?? DEFAULT_RESIZE,
    },
    output: { name: root.output.name },
    classes,
    logitScale: root.logitScale ?? 1,
    temperatures: root.temperatures ? { generalist: root.temperatures.generalist, expert: root.temperatures.expert } : { generalist: 1, expert: 1 },
    t3,
    // The schema checked the fields readers rely on; every other field the fit recorded is kept as written.
    t3Fit: root.t3Fit ? { ...root.t3Fit } : null,
    models: { generalist: modelEntry(root, 'generalist', fail), expert: modelEntry(root, 'expert', fail) },
    demonstration: root.demonstration ?? false,
    ...(estimationPrecision === undefined ? {} : { estimationPrecision }),
    ...(estimators === undefined ? {} : { lambdaEstimators: parseLambdaEstimators(estimators, fail) }),
  };
}
