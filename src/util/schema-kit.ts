import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox';
import Ajv, { type ValidateFunction } from 'ajv';

/**
 * TypeBox building blocks the configuration schemas share. Each gives a plain JSON Schema (what Ajv checks and what
 * schemas/*.schema.json publish) and the TypeScript type of the values it accepts.
 */

/** Annotation keyword (not JSON Schema): the message a failed keyword gives instead of the generic one. */
export const ERROR_MESSAGES_KEYWORD = 'errorMessages';

/**
 * Per-keyword messages for the annotation above, e.g. `{ minItems: 'must list at least one bundle' }`. The t3.json
 * style (schema-errors.ts) follows a pattern's message with the value (`…, got "nowhere"`); the bundle.json style
 * gives each message as written, as bundle.json's hand-written checks did.
 */
export type ErrorMessages = Partial<Record<'minItems' | 'pattern' | 'type' | 'additionalProperties' | 'minimum' | 'exclusiveMinimum', string>>;

/**
 * The Ajv every schema here is checked with: all errors (the message mappers pick per key), `verbose` (each error
 * carries its schema and value, which the messages need), strict (a misspelt keyword in a schema is an error, not an
 * ignored one), and our annotation keyword declared.
 */
export function compileSchema(schema: TSchema): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addVocabulary([ERROR_MESSAGES_KEYWORD]);
  return ajv.compile(schema);
}

/** One of the given strings, as `{ "type": "string", "enum": [...] }`: editors offer the values, errors list them. */
export function stringEnum<T extends string>(values: readonly T[], options: SchemaOptions = {}) {
  return Type.Unsafe<T>({ ...options, type: 'string', enum: [...values] });
}

/** An integer in [minimum, maximum]; every integer setting has both bounds, so an error can name the range. */
export function integerIn(minimum: number, maximum: number, options: SchemaOptions = {}) {
  return Type.Integer({ ...options, minimum, maximum });
}

/** A finite number in [minimum, maximum]. */
export function numberIn(minimum: number, maximum: number, options: SchemaOptions = {}) {
  return Type.Number({ ...options, minimum, maximum });
}

export function nonEmptyString(options: SchemaOptions = {}) {
  return Type.String({ ...options, minLength: 1 });
}

/**
 * The schema or null, written as a type list (`"type": ["string", "null"]`) rather than anyOf, so a wrong value gets
 * the schema's own message and not one per branch. A list of allowed words gets null among them, or null would fail it.
 */
export function nullable<S extends TSchema>(schema: S) {
  const { type, ...rest } = schema as { type?: string; enum?: unknown[] };
  if (typeof type !== 'string') throw new TypeError('nullable() needs a schema with one "type"');
  return Type.Unsafe<Static<S> | null>({ ...rest, type: [type, 'null'], ...(rest.enum ? { enum: [...rest.enum, null] } : {}) });
}

/** A string matching `pattern`, with the message an administrator reads when it does not. */
export function patternString(pattern: string, message: string, options: SchemaOptions = {}) {
  return Type.String({ ...options, pattern, [ERROR_MESSAGES_KEYWORD]: { pattern: message } });
}

/** An array of at least one item, with the message an administrator reads when it is empty. */
export function nonEmptyArray<S extends TSchema>(items: S, message: string, options: SchemaOptions = {}) {
  return Type.Array(items, { ...options, minItems: 1, [ERROR_MESSAGES_KEYWORD]: { minItems: message } });
}

/** A closed object: an unknown key (a typo) is refused rather than leaving the meant setting at its default. */
export function closedObject<P extends Parameters<typeof Type.Object>[0]>(properties: P, options: SchemaOptions = {}) {
  return Type.Object(properties, { ...options, additionalProperties: false });
}
