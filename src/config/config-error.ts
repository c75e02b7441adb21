import { CategorizedError } from '../errors';
/** A configuration value that cannot be used; `key` is its dotted path (e.g. `T3.batching.batchSize`). */
export class ConfigError extends CategorizedError {
  readonly key: string;
  constructor(key: string, message: string) {
    super('invalid-argument', `${key}: ${message}`);
    this.key = key;
  }
}

/**
 * Several configuration values that cannot be used, all reported at once (an administrator fixes them in one go).
 * `key` is the first one's; the message has one line per problem.
 */
export class ConfigErrorList extends ConfigError {
  readonly errors: readonly ConfigError[];
  constructor(errors: readonly ConfigError[]) {
    super(errors[0].key, errors[0].message.slice(errors[0].key.length + 2));
    this.errors = errors;
    this.message = errors.map((e) => e.message).join('\n');
  }
}

/** Runs checks and keeps every ConfigError they throw; `throwIfAny` reports them together. */
export class ConfigErrorCollector {
  private readonly errors: ConfigError[] = [];

  /** The check's value, or undefined when it failed (its error is kept). */
  check<T>(run: () => T): T | undefined {
    try {
      return run();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.add(err);
      return undefined;
    }
  }

  /** Every error kept so far, in the order found. */
  get found(): readonly ConfigError[] {
    return this.errors;
  }

  /** Keeps an error found without running a check. */
  add(error: ConfigError): void {
    this.errors.push(...(error instanceof ConfigErrorList ? error.errors : [error]));
  }

  throwIfAny(): void {
    if (this.errors.length === 1) throw this.errors[0];
    if (this.errors.length > 1) throw new ConfigErrorList(this.errors);
  }
}
