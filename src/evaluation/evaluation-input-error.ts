import { CategorizedError } from '../errors';

/**
 * The evaluation was asked for something it cannot do as given (a policy filter that names no policy, a split that
 * uses a name the evaluation reserves for its own streams). Asking again with the same input fails again.
 */
export class EvaluationInputError extends CategorizedError {
  constructor(message: string) {
    super('invalid-argument', message);
  }
}
