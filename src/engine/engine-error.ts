import { CategorizedError } from '../errors';
/** Inference could not be done for a whole call (bad arguments, a crashed worker, non-finite logits). The engine
 *  stays usable after it. */
export class EngineError extends CategorizedError {
  constructor(message: string) {
    super('internal', message);
  }
}
