import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { adminServiceHandlers } from './admin-service';
import { AdmissionQueue } from './admission';
import type { TriageBackend } from './backend';
import { tolerantDeserializers, type HandlerContext } from './call-handlers';
import { ADMIN_SERVICE_NAME, loadT3Protos, TRIAGE_SERVICE_NAME } from './proto-definition';
import { ListenConfigError, parseListenAddress, serverCredentials, type TransportSecurity } from './server-security';
import { BurstMemoryReclaim } from './burst-memory-reclaim';
import { RequestByteBudget } from './request-byte-budget';
import type { TokenTable } from './token-table';
import { installTransportGuard } from './transport-guard';
import { triageServiceHandlers } from './triage-service';

export interface GrpcServerOptions {
  /** host:port; port 0 picks a free port (see RunningGrpcServer.port). */
  listen: string;
  /** TLS (optionally mutual), or plaintext, which is refused unless `listen` is a loopback address. */
  security: TransportSecurity;
  /**
   * Bearer tokens and their roles, read on every call (a function when the table can change while the server runs);
   * an empty table at start is refused (every call would fail).
   */
  tokens: TokenTable | (() => TokenTable);
  backend: TriageBackend;
  /** Largest request or response message in bytes (default 64 MiB); larger requests get RESOURCE_EXHAUSTED. */
  maxMessageBytes?: number;
  /**
   * Total bytes of request messages held at once, from their first bytes until their call ends (default 256 MiB,
   * at least maxMessageBytes); a request beyond it is refused with RESOURCE_EXHAUSTED before its body is read.
   */
  maxRequestBytesInFlight?: number;
  /** Largest header list a call may send (default 16 KiB): a larger one fails at once. */
  maxHeaderListBytes?: number;
  /** Most images in one Classify call (default 256). */
  maxImagesPerCall?: number;
  /** Classify calls running at once (default 2: decoding of one overlaps inference of another). */
  classifyConcurrency?: number;
  /** Classify calls waiting beyond those; more get RESOURCE_EXHAUSTED (default 64). */
  classifyQueueLimit?: number;
  /** Events a WatchTriage client may lag before it is dropped (default 256). */
  watchBufferLimit?: number;
  /** Receives server-side failures that clients only see as INTERNAL. Never given request contents. */
  onInternalError?: (method: string, err: unknown) => void;
}

export interface RunningGrpcServer {
  /** The bound port (the real one when `listen` asked for port 0). */
  port: number;
  host: string;
  health: HealthImplementation;
  admission: AdmissionQueue;
  /** Bytes of request messages held now, and the budget. */
  requestBytes: RequestByteBudget;
  /**
   * Stops accepting calls, marks health NOT_SERVING, lets running calls finish for `graceMs` (default 5 s), then
   * cancels what is left (open WatchTriage streams end with CANCELLED).
   */
  close(graceMs?: number): Promise<void>;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Four messages of the largest size: enough for the two running Classify calls and two waiting. */
export const DEFAULT_MAX_REQUEST_BYTES_IN_FLIGHT = 4 * DEFAULT_MAX_MESSAGE_BYTES;
/** A bearer token and the standard gRPC headers need well under 1 KiB; 16 KiB leaves room for tracing headers. */
export const DEFAULT_MAX_HEADER_LIST_BYTES = 16 * 1024;

/** Starts the TriageService, AdminService, grpc.health.v1.Health and server reflection on one port. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { host, port } = parseListenAddress(options.listen);
  const credentials = serverCredentials(options.security, host);
  const fixed = options.tokens;
  const tokens: () => TokenTable = typeof fixed === 'function' ? fixed : () => fixed;
  if (tokens().size === 0) {
    throw new ListenConfigError('no gRPC bearer tokens are configured: every call would be refused; configure at least one token with a role');
  }
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const reclaim = new BurstMemoryReclaim();
  const requestBytes = new RequestByteBudget(options.maxRequestBytesInFlight ?? Math.max(DEFAULT_MAX_REQUEST_BYTES_IN_FLIGHT, maxMessageBytes),
    (bytes, heldBytes) => reclaim.released(bytes, heldBytes));
  if (requestBytes.limitBytes < maxMessageBytes) {
    throw new ListenConfigError(`the request byte budget (${requestBytes.limitBytes}) must be at least the largest message (${maxMessageBytes})`);
  }
  const admission = new AdmissionQueue(options.classifyConcurrency ?? 2, options.classifyQueueLimit ?? 64);
  const context: HandlerContext = {
    tokens,
    onInternalError: options.onInternalError ?? (() => undefined),
  };

  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
  });
  const protos = loadT3Protos();
  server.addService(tolerantDeserializers(protos.triageService.service), triageServiceHandlers(context, {
    backend: options.backend,
    admission,
    limits: { maxImagesPerCall: options.maxImagesPerCall ?? 256 },
    watchBufferLimit: options.watchBufferLimit ?? 256,
  }));
  server.addService(tolerantDeserializers(protos.adminService.service), adminServiceHandlers(context, { backend: options.backend, admission }));
  const health = new HealthImplementation({ '': 'SERVING', [TRIAGE_SERVICE_NAME]: 'SERVING', [ADMIN_SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  new ReflectionService(protos.packageDefinition).addToServer(server);

  const bindHost = host.includes(':') ? `[${host}]` : host;
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${bindHost}:${port}`, credentials, (err, actual) => (err ? reject(err) : resolve(actual)));
  });
  installTransportGuard(server, { maxHeaderListBytes: options.maxHeaderListBytes ?? DEFAULT_MAX_HEADER_LIST_BYTES, budget: requestBytes });

  let closing: Promise<void> | null = null;
  return {
    port: boundPort,
    host,
    health,
    admission,
    requestBytes,
    close(graceMs = 5000): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const service of ['', TRIAGE_SERVICE_NAME, ADMIN_SERVICE_NAME]) health.setStatus(service, 'NOT_SERVING');
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          reclaim.cancel();
          resolve();
        });
      });
      return closing;
    },
  };
}
