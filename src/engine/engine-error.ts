/** Inference could not be done for a whole call (bad arguments, a crashed worker, non-finite logits). The engine
 *  stays usable after it. */
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}
