/** A model bundle that cannot be used; the message names the file and, where it applies, the field. */
export class BundleError extends Error {
  readonly file: string;
  readonly field: string | null;

  constructor(file: string, field: string | null, reason: string) {
    super(field ? `${file}: ${field}: ${reason}` : `${file}: ${reason}`);
    this.name = 'BundleError';
    this.file = file;
    this.field = field;
  }
}
