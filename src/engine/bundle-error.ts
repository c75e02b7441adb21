import { CategorizedError } from '../errors';
/** A model bundle that cannot be used; the message names the file and, where it applies, the field. */
export class BundleError extends CategorizedError {
  readonly file: string;
  readonly field: string | null;

  constructor(file: string, field: string | null, reason: string) {
    // A bundle that does not load is the server's state, not a caller's input.
    super('failed-precondition', field ? `${file}: ${field}: ${reason}` : `${file}: ${reason}`);
    this.file = file;
    this.field = field;
  }
}
