/** Bad input to the report module: `field` names the offending input path (e.g. `images[2].predictions[0].label`). */
export class ReportError extends Error {
  readonly field: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'ReportError';
    this.field = field;
  }
}
