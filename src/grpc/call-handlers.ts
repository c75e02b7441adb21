import * as grpc from '@grpc/grpc-js';
import { authorize } from './authorize';
import type { RoleName } from './backend';
import { CallError, serviceError, statusFor } from './status-mapping';
import type { TokenTable } from './token-table';

/** Key of the object a request that does not decode turns into (see `tolerantDeserializers`). */
const UNDECODABLE = Symbol('undecodable request');

/**
 * The service definition with request deserializers that do not throw: grpc-js answers a request it cannot decode
 * with INTERNAL, but a malformed message is the caller's error, so it is handed on as a marker and the handler
 * answers INVALID_ARGUMENT instead.
 */
export function tolerantDeserializers(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return { [UNDECODABLE]: err instanceof Error ? err.message : String(err) };
        }
      },
    };
  }
  return out;
}

function checkDecoded(request: unknown): void {
  if (typeof request === 'object' && request !== null && UNDECODABLE in request) {
    const reason = (request as Record<symbol, string>)[UNDECODABLE];
    throw new CallError(grpc.status.INVALID_ARGUMENT, `the request is not a valid protobuf message of this method's type (${reason})`);
  }
}

/** What every handler needs: who may call, and where unexpected errors are reported. */
export interface HandlerContext {
  /** The token table now (it changes when the configuration's tokens are updated). */
  tokens: () => TokenTable;
  /** Called with errors that reach the client as INTERNAL (the client sees a fixed text only). */
  onInternalError: (method: string, err: unknown) => void;
}

/** Who made a call: its token's id, and what the caller says of its own user in metadata (the Orthanc plugin). */
export interface CallerView {
  tokenId: string;
  orthancUser?: string;
  remoteAddress?: string;
}

/** A metadata value the caller sets about itself, bounded; undefined when absent (it is a claim, logged as such). */
function claimed(metadata: grpc.Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' && value !== '' ? value.slice(0, 256) : undefined;
}

/**
 * Wraps a unary method: checks the bearer token's role first, gives the body an AbortSignal that fires when the
 * client cancels or its deadline passes, and maps any thrown error to a status.
 */
export function unaryHandler<Req, Res>(
  context: HandlerContext,
  method: string,
  role: RoleName,
  body: (request: Req, signal: AbortSignal, caller: CallerView) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const controller = new AbortController();
    call.on('cancelled', () => controller.abort());
    const run = async (): Promise<Res> => {
      const tokenId = authorize(call.metadata, context.tokens(), role);
      checkDecoded(call.request);
      const orthancUser = claimed(call.metadata, 'x-t3-orthanc-user');
      const remoteAddress = claimed(call.metadata, 'x-t3-remote-address');
      return body(call.request, controller.signal, { tokenId, ...(orthancUser ? { orthancUser } : {}), ...(remoteAddress ? { remoteAddress } : {}) });
    };
    run().then(
      (response) => callback(null, response),
      (err: unknown) => callback(serviceError(statusFor(err, (e) => context.onInternalError(method, e)))),
    );
  };
}

/**
 * Wraps a server-streaming method the same way. The body resolves when the stream should end normally; it must
 * resolve (or reject) once `signal` fires.
 */
export function serverStreamHandler<Req, Res>(
  context: HandlerContext,
  method: string,
  role: RoleName,
  body: (request: Req, call: grpc.ServerWritableStream<Req, Res>, signal: AbortSignal) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const controller = new AbortController();
    call.on('cancelled', () => controller.abort());
    const run = async (): Promise<void> => {
      authorize(call.metadata, context.tokens(), role);
      checkDecoded(call.request);
      await body(call.request, call, controller.signal);
    };
    run().then(
      () => {
        if (!controller.signal.aborted) call.end();
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        call.emit('error', serviceError(statusFor(err, (e) => context.onInternalError(method, e))));
      },
    );
  };
}
