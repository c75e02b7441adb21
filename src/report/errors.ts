import { CategorizedError } from '../errors';
/** Bad input to the report module: `field` names the offending input path (e.g. `images[2].predictions[0].label`). */
export class ReportError extends CategorizedError {
  readonly field: string;
  constructor(field: string, reason: string) {
    super('invalid-argument', `${field}: ${reason}`);
    this.field = field;
  }
}
