import * as grpc from '@grpc/grpc-js';
import type { BackendErrorKind } from './backend';

/** An error that already knows the gRPC status it should reach the client as. */
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

const BACKEND_KIND_STATUS: Readonly<Record<BackendErrorKind, grpc.status>> = {
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  'not-found': grpc.status.NOT_FOUND,
  'failed-precondition': grpc.status.FAILED_PRECONDITION,
  unavailable: grpc.status.UNAVAILABLE,
  'resource-exhausted': grpc.status.RESOURCE_EXHAUSTED,
};

/**
 * Errors of other modules, recognised by their `name` so this layer does not import the modules that define them
 * (DESIGN.md boundaries). Their messages were written to be shown: they name the input and the reason and carry no
 * patient data.
 */
const NAMED_ERROR_STATUS: Readonly<Record<string, grpc.status>> = {
  DicomError: grpc.status.INVALID_ARGUMENT,
  T3InputError: grpc.status.INVALID_ARGUMENT,
  ConfigError: grpc.status.INVALID_ARGUMENT,
  // A bundle that fails to load on the server is the server's state, not the caller's input.
  BundleError: grpc.status.FAILED_PRECONDITION,
  // The pipeline's: a study Orthanc does not have, a full inference queue.
  StudyNotFoundError: grpc.status.NOT_FOUND,
  QueueFullError: grpc.status.RESOURCE_EXHAUSTED,
};

/**
 * The status a failed call answers with. Anything unrecognised is INTERNAL with a fixed text, so stack traces and
 * internal paths never reach a client; `onInternal` lets the server log the original.
 */
export function statusFor(err: unknown, onInternal?: (err: unknown) => void): StatusAnswer {
  if (err instanceof CallError) return { code: err.code, details: err.message };
  if (err instanceof Error) {
    if (err.name === 'BackendError' && 'kind' in err) {
      const code = BACKEND_KIND_STATUS[(err as { kind: BackendErrorKind }).kind];
      if (code !== undefined) return { code, details: err.message };
    }
    const named = NAMED_ERROR_STATUS[err.name];
    if (named !== undefined) return { code: named, details: err.message };
  }
  onInternal?.(err);
  return { code: grpc.status.INTERNAL, details: 'internal error (see the server log)' };
}

/** The object grpc-js accepts as a call's error. */
export function serviceError(answer: StatusAnswer): Partial<grpc.StatusObject> {
  return { code: answer.code, details: answer.details, metadata: new grpc.Metadata() };
}
