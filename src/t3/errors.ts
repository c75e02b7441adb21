import { CategorizedError } from '../errors';
/** Bad input to the T3 method (logits, shapes, hyperparameters, policy names); the message names what and why. */
export class T3InputError extends CategorizedError {
  constructor(message: string) {
    super('invalid-argument', message);
  }
}
