/** A configuration value that cannot be used; `key` is its dotted path (e.g. `T3.batching.batchSize`). */
export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(`${key}: ${message}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}
