/**
 * What kind of failure an error is, independent of any transport: the gRPC layer maps a category to a status code,
 * the CLI to an exit code, the pipeline to "retry later" or "fail the study". Errors say what they are where they
 * are thrown; nothing downstream matches names or message text.
 */
export type ErrorCategory =
  /** The caller's input is wrong (a bad image, a malformed value): asking again with the same input fails again. */
  | 'invalid-argument'
  /** The thing asked for does not exist (a study, a job, a bundle name). */
  | 'not-found'
  /** The server is not in a state to do this (a bundle that does not load, a feature that is not configured). */
  | 'failed-precondition'
  /** A dependency is down or the service is starting or stopping: the same request may succeed later. */
  | 'unavailable'
  /** A bounded queue or limit is full: back off and retry. */
  | 'resource-exhausted'
  /** The caller went away or cancelled. */
  | 'cancelled'
  /** A fault of this program: the details go to the log, not to the caller. */
  | 'internal';

/** The base of every error that the layers above may act on. */
export class CategorizedError extends Error {
  readonly category: ErrorCategory;
  constructor(category: ErrorCategory, message: string) {
    super(message);
    this.name = new.target.name;
    this.category = category;
  }
}

/** The category of any thrown value: a CategorizedError's own, 'internal' for everything else. */
export function errorCategory(err: unknown): ErrorCategory {
  return err instanceof CategorizedError ? err.category : 'internal';
}
