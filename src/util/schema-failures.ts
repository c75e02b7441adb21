import type { ErrorObject } from 'ajv';
import { ERROR_MESSAGES_KEYWORD, type ErrorMessages } from './schema-kit';
import { isRecord } from './json-value';

/**
 * Ajv's failures (compiled with `verbose`, so each carries its schema and value) as the key/reason pairs administrators
 * read (config/ turns them into ConfigErrors, engine/ into BundleErrors; this file knows neither, so both can use it): the dotted key path of the bad value (`T3.triage.rules[0].threshold`) and one sentence saying what it must
 * be and what it is. One error per key: the first failure of a value is its message, as with the checks written by
 * hand before the schema.
 */

type Schema = Record<string, unknown>;

/** A value as an error message shows it: strings quoted and cut at 40 characters, containers by kind. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value.length > 40 ? value.slice(0, 40) + '…' : value}"`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * `/triage/rules/0/threshold` under `T3` → `T3.triage.rules[0].threshold` (indices only where the value is an array);
 * under the root `''` (a whole configuration file) `/T3/triage/…` gives the same key.
 */
function keyOf(root: string, instancePath: string, data: unknown): string {
  if (instancePath === '') return root;
  let key = root;
  let node: unknown = data;
  for (const raw of instancePath.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    key += Array.isArray(node) ? `[${segment}]` : key === '' ? segment : `.${segment}`;
    node = Array.isArray(node) ? node[Number(segment)] : isRecord(node) ? node[segment] : undefined;
  }
  return key;
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function typesOf(schema: Schema): string[] {
  const type = schema.type;
  return Array.isArray(type) ? (type as string[]) : typeof type === 'string' ? [type] : [];
}

/** What a schema accepts, as the end of "must be …": used where no single keyword failed (a missing value, a union). */
function expectation(schema: Schema): string {
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Schema[]).map(expectation).join(' or ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return `one of ${(schema.enum as unknown[]).join(' | ')}`;
  const type = typesOf(schema).find((t) => t !== 'null');
  const range = typeof schema.minimum === 'number' ? ` between ${schema.minimum} and ${String(schema.maximum)}` : '';
  switch (type) {
    case 'integer':
      return `an integer${range}`;
    case 'number':
      return `a number${range}`;
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'an object';
    case 'array':
      return 'an array';
    default:
      return 'a string';
  }
}

/** The message of a value whose type is wrong, as the hand-written checks gave it (numbers before integers). */
function typeMessage(schema: Schema, value: unknown): string {
  if (Array.isArray(schema.enum)) return `must be ${expectation(schema)}, got ${describeValue(value)}`;
  const type = typesOf(schema).find((t) => t !== 'null');
  if (type === 'integer' && typeof value === 'number' && Number.isFinite(value)) return `must be an integer, got ${value}`;
  const what = type === 'integer' || type === 'number' ? 'a number' : expectation(schema);
  return `must be ${what}, got ${describeValue(value)}`;
}

function messageOf(error: ErrorObject): string {
  const schema = (error.parentSchema ?? {}) as Schema;
  const custom = schema[ERROR_MESSAGES_KEYWORD] as ErrorMessages | undefined;
  const value: unknown = error.data;
  switch (error.keyword) {
    case 'type':
      return typeMessage(schema, value);
    case 'minimum':
    case 'maximum':
      return `must be between ${String(schema.minimum)} and ${String(schema.maximum)}, got ${String(value)}`;
    case 'minLength':
      return 'must not be empty';
    case 'enum':
    case 'const':
      return `must be ${expectation(schema)}, got ${describeValue(value)}`;
    case 'pattern':
      return `${custom?.pattern ?? `must match ${String(schema.pattern)}`}, got ${describeValue(value)}`;
    case 'minItems':
      return custom?.minItems ?? `must list at least ${String(schema.minItems)}`;
    case 'additionalProperties':
      return `unknown key (known: ${Object.keys(schema.properties ?? {}).join(', ')})`;
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return typeMessage(((schema.properties ?? {}) as Record<string, Schema>)[missing] ?? {}, undefined);
    }
    case 'anyOf':
      return `must be ${expectation(schema)}, got ${describeValue(value)}`;
    default:
      return error.message ?? error.keyword;
  }
}

function errorKey(root: string, error: ErrorObject, data: unknown): string {
  const at = keyOf(root, error.instancePath, data);
  // The key an unknown or missing property names is under `at`, or is the whole key at the top of a file.
  const under = (property: string) => (at === '' ? property : `${at}.${property}`);
  if (error.keyword === 'additionalProperties') return under((error.params as { additionalProperty: string }).additionalProperty);
  if (error.keyword === 'required') return under((error.params as { missingProperty: string }).missingProperty);
  return at;
}

/**
 * A value failing a union (a frame index or a word) is reported against the branch of its own JSON type, so `-1`
 * gets the integer's range and `"last"` the list of words; a value of no branch's type gets the whole union.
 */
function resolveUnions(errors: readonly ErrorObject[]): ErrorObject[] {
  let kept = [...errors];
  for (const union of errors.filter((e) => e.keyword === 'anyOf')) {
    const branches = ((union.parentSchema as Schema).anyOf ?? []) as Schema[];
    const valueType = jsonTypeOf(union.data);
    // A branch that is one word ("auto") says less than the whole union, so it is never chosen alone.
    const chosen = branches.findIndex((b) => b.const === undefined && typesOf(b).some((t) => t === valueType || (t === 'integer' && valueType === 'number')));
    const inside = `${union.schemaPath}/`;
    kept = kept.filter((e) => {
      if (e === union) return chosen < 0;
      if (!e.schemaPath.startsWith(inside)) return true;
      return chosen >= 0 && e.schemaPath.startsWith(`${inside}${chosen}/`);
    });
  }
  return kept;
}

/** Ajv's errors for `data` under `root`, the first failure of each key only, in Ajv's order. */
function firstFailurePerKey(errors: readonly ErrorObject[], data: unknown, root: string): [string, ErrorObject][] {
  const byKey = new Map<string, ErrorObject>();
  for (const error of resolveUnions(errors)) {
    const key = errorKey(root, error, data);
    if (!byKey.has(key)) byKey.set(key, error);
  }
  return [...byKey.entries()];
}

/** A bad value: its dotted key path and the sentence saying what it must be. */
export interface SchemaFailure {
  key: string;
  reason: string;
}

/** Ajv's errors for `data` under `root` in t3.json's message style, the first failure of each key only. */
export function schemaFailures(errors: readonly ErrorObject[], data: unknown, root: string): SchemaFailure[] {
  return firstFailurePerKey(errors, data, root).map(([key, error]) => ({ key, reason: messageOf(error) }));
}

/*
 * The second message style: bundle.json's, as its hand-written checks gave it before the schema (and as the bundle
 * tests and bundle authors know it): `missing`, `missing or not an object`, `must be a positive integer, got 0`,
 * `must be one of bilinear, nearest, area, got "cubic"`, values written as JSON. A message in the schema's
 * `errorMessages` annotation is the whole reason (`unknown hyperparameter`, `must be 64 hexadecimal digits`).
 */

/** What a number must be, as the end of "must be …": `a positive integer`, `null or a positive number other than 1`. */
function numberWanted(schema: Schema): string {
  const types = typesOf(schema);
  let what = 'a finite number';
  if (types.includes('integer') && schema.minimum === 1) what = 'a positive integer';
  else if (schema.exclusiveMinimum === 0) what = 'a positive number';
  const not = schema.not as Schema | undefined;
  if (not?.const !== undefined) what += ` other than ${JSON.stringify(not.const)}`;
  return types.includes('null') ? `null or ${what}` : what;
}

/** The bundle-style reason a value given as `value` (undefined: left out) fails `schema` for. */
function bundleValueMessage(schema: Schema, value: unknown): string {
  const got = `got ${JSON.stringify(value)}`;
  if (Array.isArray(schema.enum)) return `must be one of ${(schema.enum as unknown[]).filter((v): v is string => typeof v === 'string').join(', ')}, ${got}`;
  if (schema.const !== undefined) return `must be ${JSON.stringify(schema.const)}, ${got}`;
  const types = typesOf(schema);
  if (types.includes('object')) return 'missing or not an object';
  if (value === undefined) return 'missing';
  if (types.includes('array')) return 'must be an array';
  if (types.includes('boolean')) return `must be true or false, ${got}`;
  if (types.includes('number') || types.includes('integer')) return `must be ${numberWanted(schema)}, ${got}`;
  return 'must be a string';
}

function bundleMessageOf(error: ErrorObject): string {
  const schema = (error.parentSchema ?? {}) as Schema;
  const custom = (schema[ERROR_MESSAGES_KEYWORD] as Record<string, string> | undefined)?.[error.keyword];
  if (custom !== undefined) return custom;
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return bundleValueMessage(((schema.properties ?? {}) as Record<string, Schema>)[missing] ?? {}, undefined);
    }
    case 'pattern':
      return `must match ${String(schema.pattern)}`;
    case 'minItems':
      return `must list at least ${String(schema.minItems)}`;
    case 'additionalProperties':
      return 'unknown key';
    default:
      return bundleValueMessage(schema, error.data);
  }
}

/**
 * The first of Ajv's failures for a bundle.json as bundle.json's checks report it: the key path (`classes[2].code`,
 * `t3.lambada`; '' for the whole file) and the reason. The manifest stops at its first problem, as it always has.
 */
export function firstBundleFailure(errors: readonly ErrorObject[], data: unknown): SchemaFailure | null {
  const [first] = firstFailurePerKey(errors, data, '');
  return first ? { key: first[0], reason: bundleMessageOf(first[1]) } : null;
}
