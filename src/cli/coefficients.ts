import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ExitCode, type CliCommand, type CliIo } from './command';
import { optionString, parseArgs } from './parse-args';
import { isRecord } from '../util/json-value';
import {
  computeBatchCoefficients,
  resolveHyperparameters,
  T3InputError,
  type T3Hyperparameters,
} from '../t3';

const HELP = `usage: orthanc-t3 coefficients [--input FILE]

Reads one case of logits as JSON (from FILE, or from stdin when --input is not given):
  {"inputs": {"pt_logits": [[...], ...], "ft_logits": [[...], ...]},
   "hyperparameters": {"t_pt", "t_ft", "lambda_min", "lambda_max", "gamma", "log_base", "eps", "ext_tau", "ext_delta",
                       "js_threshold", "guard_temperature", "batch_aggregation"}}
(rows are images, columns classes; missing hyperparameters take their defaults: the paper's map λ = 1 − σ(0.5·JS),
guard off, λ_B the mean of λ') and prints one JSON object with entropy_pt, entropy_ft, js, lambda,
extrapolation_triggered, lambda_final, batch_lambda, dawin_coef and dawin_coef_offset (null where undefined).
Exit status 1 on malformed input.
`;

/** snake_case keys of the golden file's hyperparameters → fields of T3Hyperparameters. */
const HYPERPARAMETER_KEYS: Record<string, keyof T3Hyperparameters> = {
  t_pt: 'tPt',
  t_ft: 'tFt',
  lambda_min: 'lambdaMin',
  lambda_max: 'lambdaMax',
  gamma: 'gamma',
  log_base: 'logBase',
  eps: 'eps',
  ext_tau: 'extTau',
  ext_delta: 'extDelta',
  js_threshold: 'jsThreshold',
  guard_temperature: 'guardTemperature',
  batch_aggregation: 'batchAggregation',
};

/** Fields that also accept null (logBase: nats; guardTemperature: each model's own temperature). */
const NULLABLE: readonly (keyof T3Hyperparameters)[] = ['logBase', 'guardTemperature'];

/** Malformed case file: reported on stderr with exit status 1. */
class CaseInputError extends Error {}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function parseLogits(value: unknown, key: string): number[][] {
  if (!Array.isArray(value)) throw new CaseInputError(`inputs.${key} must be an array of rows of numbers`);
  return value.map((row, r) => {
    if (!Array.isArray(row)) throw new CaseInputError(`inputs.${key}[${r}] must be an array of numbers`);
    return row.map((z, c) => {
      if (typeof z !== 'number') throw new CaseInputError(`inputs.${key}[${r}][${c}] must be a number, got ${JSON.stringify(z)}`);
      return z;
    });
  });
}

function parseHyperparameters(value: unknown): T3Hyperparameters {
  if (value === undefined || value === null) return resolveHyperparameters();
  if (!isRecord(value)) throw new CaseInputError('hyperparameters must be an object');
  const partial: Partial<Record<keyof T3Hyperparameters, unknown>> = {};
  for (const [key, v] of Object.entries(value)) {
    const field = HYPERPARAMETER_KEYS[key];
    // Unknown keys are rejected so that a typo does not silently fall back to a default.
    if (!field) throw new CaseInputError(`unknown hyperparameter "${key}"; known: ${Object.keys(HYPERPARAMETER_KEYS).join(', ')}`);
    if (field === 'batchAggregation') {
      if (typeof v !== 'string') throw new CaseInputError(`hyperparameters.${key} must be a string, got ${JSON.stringify(v)}`);
    } else {
      const nullable = NULLABLE.includes(field);
      if (!(typeof v === 'number' || (nullable && v === null))) throw new CaseInputError(`hyperparameters.${key} must be a number${nullable ? ' or null' : ''}, got ${JSON.stringify(v)}`);
    }
    partial[field] = v;
  }
  return resolveHyperparameters(partial as Partial<T3Hyperparameters>);
}

/** Golden-file output: NaN (undefined statistics) is written as null, as JSON has no NaN. */
function finiteOrNull(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}

export function caseOutputs(caseJson: unknown): Record<string, unknown> {
  if (!isRecord(caseJson)) throw new CaseInputError('the case must be a JSON object with "inputs" and "hyperparameters"');
  const inputs = caseJson.inputs;
  if (!isRecord(inputs)) throw new CaseInputError('"inputs" must be an object with pt_logits and ft_logits');
  const pt = parseLogits(inputs.pt_logits, 'pt_logits');
  const ft = parseLogits(inputs.ft_logits, 'ft_logits');
  const hp = parseHyperparameters(caseJson.hyperparameters);
  const result = computeBatchCoefficients(pt, ft, hp);
  return {
    entropy_pt: result.images.map((im) => im.entropyPt),
    entropy_ft: result.images.map((im) => im.entropyFt),
    js: result.images.map((im) => im.js),
    lambda: result.images.map((im) => im.lambda),
    extrapolation_triggered: result.images.map((im) => im.extrapolationTriggered),
    lambda_final: result.images.map((im) => im.lambdaFinal),
    batch_lambda: finiteOrNull(result.batchLambda),
    dawin_coef: result.images.map((im) => finiteOrNull(im.dawinCoef)),
    dawin_coef_offset: result.dawinCoefOffset.map(finiteOrNull),
  };
}

export const coefficientsCommand: CliCommand = {
  name: 'coefficients',
  summary: 'explain T3 coefficients (JS, λ, DaWin) for one case of logits',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['input'], flags: ['help'] });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    if (args.positionals.length > 0) {
      io.stderr.write(`orthanc-t3 coefficients: unexpected argument "${args.positionals[0]}" (use --input FILE)\n`);
      return ExitCode.usage;
    }
    const file = optionString(args, 'input');
    let text: string;
    try {
      text = file === undefined ? await readAll(io.stdin) : await readFile(file, 'utf8');
    } catch (err) {
      io.stderr.write(`orthanc-t3 coefficients: cannot read ${file ?? 'stdin'}: ${err instanceof Error ? err.message : String(err)}\n`);
      return ExitCode.usage;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      io.stderr.write(`orthanc-t3 coefficients: ${file ?? 'stdin'} is not valid JSON: ${err instanceof Error ? err.message : String(err)}\n`);
      return ExitCode.usage;
    }
    try {
      io.stdout.write(JSON.stringify(caseOutputs(json)) + '\n');
      return ExitCode.ok;
    } catch (err) {
      if (err instanceof CaseInputError || err instanceof T3InputError) {
        io.stderr.write(`orthanc-t3 coefficients: ${err.message}\n`);
        return ExitCode.usage;
      }
      throw err;
    }
  },
};
