import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { adminServiceHandlers } from './admin-service';
import { AdmissionQueue } from './admission';
import type { TriageBackend } from './backend';
import { tolerantDeserializers, type HandlerContext } from './call-handlers';
import { ADMIN_SERVICE_NAME, loadT3Protos, TRIAGE_SERVICE_NAME } from './proto-definition';
import { ListenConfigError, parseListenAddress, serverCredentials, type TransportSecurity } from './server-security';
import type { TokenTable } from './token-table';
import { triageServiceHandlers } from './triage-service';

export interface GrpcServerOptions {
  /** host:port; port 0 picks a free port (see RunningGrpcServer.port). */
  listen: string;
  /** TLS (optionally mutual), or plaintext, which is refused unless `listen` is a loopback address. */
  security: TransportSecurity;
  /** Bearer tokens and their roles; an empty table is refused (every call would fail). */
  tokens: TokenTable;
  backend: TriageBackend;
  /** Largest request or response message in bytes (default 64 MiB); larger requests get RESOURCE_EXHAUSTED. */
  maxMessageBytes?: number;
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
  /**
   * Stops accepting calls, marks health NOT_SERVING, lets running calls finish for `graceMs` (default 5 s), then
   * cancels what is left (open WatchTriage streams end with CANCELLED).
   */
  close(graceMs?: number): Promise<void>;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Starts the TriageService, AdminService, grpc.health.v1.Health and server reflection on one port. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { host, port } = parseListenAddress(options.listen);
  const credentials = serverCredentials(options.security, host);
  if (options.tokens.size === 0) {
    throw new ListenConfigError('no gRPC bearer tokens are configured: every call would be refused; configure at least one token with a role');
  }
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const admission = new AdmissionQueue(options.classifyConcurrency ?? 2, options.classifyQueueLimit ?? 64);
  const context: HandlerContext = {
    tokens: options.tokens,
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

  let closing: Promise<void> | null = null;
  return {
    port: boundPort,
    host,
    health,
    admission,
    close(graceMs = 5000): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const service of ['', TRIAGE_SERVICE_NAME, ADMIN_SERVICE_NAME]) health.setStatus(service, 'NOT_SERVING');
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}
