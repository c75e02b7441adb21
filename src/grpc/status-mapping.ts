import * as grpc from '@grpc/grpc-js';
import { CategorizedError, type ErrorCategory } from '../errors';

/** An error of this layer that already knows the gRPC status it should reach the client as. */
export class CallError extends Error {
  readonly code: grpc.status;
  constructor(code: grpc.status, message: string) {
    super(message);
    this.name = 'CallError';
    this.code = code;
  }
}

export interface StatusAnswer {
  code: grpc.status;
  details: string;
}

/** The one translation from an error's category (src/errors) to a gRPC status. */
export const CATEGORY_STATUS: Readonly<Record<ErrorCategory, grpc.status>> = Object.freeze({
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  'not-found': grpc.status.NOT_FOUND,
  'failed-precondition': grpc.status.FAILED_PRECONDITION,
  unavailable: grpc.status.UNAVAILABLE,
  'resource-exhausted': grpc.status.RESOURCE_EXHAUSTED,
  cancelled: grpc.status.CANCELLED,
  internal: grpc.status.INTERNAL,
});

const INTERNAL_DETAILS = 'internal error (see the server log)';

/**
 * The status a failed call answers with: a CallError's own, else the error's category. Categorised messages were
 * written to be shown (they name the input and the reason, never patient data); 'internal' ones and anything
 * uncategorised answer INTERNAL with a fixed text, so stack traces and internal paths never reach a client, and
 * `onInternal` lets the server log the original.
 */
export function statusFor(err: unknown, onInternal?: (err: unknown) => void): StatusAnswer {
  if (err instanceof CallError) return { code: err.code, details: err.message };
  if (err instanceof CategorizedError && err.category !== 'internal') return { code: CATEGORY_STATUS[err.category], details: err.message };
  onInternal?.(err);
  return { code: grpc.status.INTERNAL, details: INTERNAL_DETAILS };
}

/** The object grpc-js accepts as a call's error. */
export function serviceError(answer: StatusAnswer): Partial<grpc.StatusObject> {
  return { code: answer.code, details: answer.details, metadata: new grpc.Metadata() };
}
