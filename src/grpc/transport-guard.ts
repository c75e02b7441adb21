import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { RequestByteBudget } from './request-byte-budget';

/**
 * Checks made on each HTTP/2 stream below grpc-js, where it offers no hook:
 *
 * - Header list size. The server advertises SETTINGS_MAX_HEADER_LIST_SIZE and answers a call whose headers are
 *   larger (counted as HTTP/2 does: name + value + 32 per field) with RESOURCE_EXHAUSTED at once. A single header
 *   field over 64 KiB never reaches this code: nghttp2 ends the connection with GOAWAY(COMPRESSION_ERROR), and
 *   grpc-core clients (grpcio 1.51) wait for their deadline on it (see SECURITY.md).
 * - Repeated `authorization` headers. Node keeps only the first value of a repeated `authorization` header, so a
 *   second one would go unseen; the guard hands grpc-js every value, and authorize() refuses more than one.
 * - Request bytes. The 5-byte gRPC length prefix arrives with the first DATA frame: the message's size is reserved
 *   in the byte budget right then, and a call that does not fit is answered RESOURCE_EXHAUSTED before its body is
 *   read (flow control stops the client from sending it). The reservation lasts until the stream closes.
 */
export interface TransportGuardOptions {
  maxHeaderListBytes: number;
  budget: RequestByteBudget;
}

type StreamListener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

/** grpc-js keeps its HTTP/2 servers in a private map; read it once here so a changed internal fails loudly. */
function http2ServersOf(server: grpc.Server): http2.Http2Server[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) {
    throw new Error('@grpc/grpc-js no longer exposes its HTTP/2 servers (Server.http2Servers); the transport guard cannot be installed');
  }
  return [...servers.keys()] as http2.Http2Server[];
}

const GRPC_PREFIX_BYTES = 5;

function refuse(stream: http2.ServerHttp2Stream, code: grpc.status, message: string): void {
  if (stream.closed || stream.destroyed) return;
  if (!stream.headersSent) {
    // A trailers-only answer, as grpc-js sends one, then RST_STREAM(NO_ERROR): "stop sending, the answer is final".
    stream.respond({
      ':status': 200,
      'content-type': 'application/grpc+proto',
      'grpc-status': String(code),
      // As grpc-js encodes it (clients decode with decodeURI).
      'grpc-message': encodeURI(message),
    }, { endStream: true });
  }
  stream.close(http2.constants.NGHTTP2_NO_ERROR);
}

/** Counts the message's bytes in the budget as soon as its length prefix is known; refuses the call when full. */
function reserveOnFirstData(stream: http2.ServerHttp2Stream, budget: RequestByteBudget): void {
  let prefix = Buffer.alloc(0);
  let release: (() => void) | null = null;
  const onData = (chunk: Buffer): void => {
    prefix = Buffer.concat([prefix, chunk.subarray(0, GRPC_PREFIX_BYTES - prefix.length)]);
    if (prefix.length < GRPC_PREFIX_BYTES) return;
    stream.off('data', onData);
    const messageBytes = prefix.readUInt32BE(1);
    release = budget.tryReserve(messageBytes);
    if (!release) {
      refuse(stream, grpc.status.RESOURCE_EXHAUSTED,
        `the server holds ${budget.heldBytes} bytes of requests and its budget is ${budget.limitBytes}; this ${messageBytes}-byte request does not fit now: retry with backoff`);
    }
  };
  // Before grpc-js's own listener, so a refused body is not buffered further.
  stream.prependListener('data', onData);
  stream.once('close', () => release?.());
}

export function installTransportGuard(server: grpc.Server, options: TransportGuardOptions): void {
  for (const http2Server of http2ServersOf(server)) {
    // Applies to every session accepted from now on (the server is bound but has not accepted any yet).
    http2Server.updateSettings({ maxHeaderListSize: options.maxHeaderListBytes });
    const onStream: StreamListener = (stream, headers, _flags, rawHeaders) => {
      const authorization: string[] = [];
      let headerListBytes = 0;
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        headerListBytes += Buffer.byteLength(rawHeaders[i]) + Buffer.byteLength(rawHeaders[i + 1]) + 32;
        if (rawHeaders[i].toLowerCase() === 'authorization') authorization.push(rawHeaders[i + 1]);
      }
      if (headerListBytes > options.maxHeaderListBytes) {
        refuse(stream, grpc.status.RESOURCE_EXHAUSTED, `the call's headers take ${headerListBytes} bytes; the limit is ${options.maxHeaderListBytes}`);
        return;
      }
      if (authorization.length > 1) (headers as Record<string, unknown>).authorization = authorization;
      reserveOnFirstData(stream, options.budget);
    };
    // First, so grpc-js reads the headers after they were completed.
    http2Server.prependListener('stream', onStream as (...args: unknown[]) => void);
  }
}
