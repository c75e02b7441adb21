/** Data that cannot support a coefficient-map fit (too few images, nothing to trade off); the message says why. */
export class FitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FitError';
  }
}
