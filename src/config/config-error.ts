import { CategorizedError } from '../errors';
/** A configuration value that cannot be used; `key` is its dotted path (e.g. `T3.batching.batchSize`). */
export class ConfigError extends CategorizedError {
  readonly key: string;
  constructor(key: string, message: string) {
    super('invalid-argument', `${key}: ${message}`);
    this.key = key;
  }
}
