import type { ErrorObject } from 'ajv';
import { ConfigError } from './config-error';
import { schemaFailures } from '../util/schema-failures';

/** Ajv's errors for `data` as ConfigErrors under `root` (`T3.batching.batchSize: must be …`), one per bad key. */
export function configErrorsFromSchema(errors: readonly ErrorObject[], data: unknown, root: string): ConfigError[] {
  return schemaFailures(errors, data, root).map((failure) => new ConfigError(failure.key, failure.reason));
}
