/** Bad input to the T3 method (logits, shapes, hyperparameters, policy names); the message names what and why. */
export class T3InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'T3InputError';
  }
}
