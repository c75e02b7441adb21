import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';

/** PEM contents (not paths: the caller reads files, so this module touches no disk). */
export interface TlsMaterial {
  /** Server certificate chain, PEM. */
  cert: Buffer;
  /** Server private key, PEM. */
  key: Buffer;
  /** CA bundle, PEM, that client certificates must chain to. Set it to require mutual TLS. */
  clientCa?: Buffer | null;
}

/** TLS, or plaintext chosen explicitly (allowed on loopback addresses only). */
export type TransportSecurity = { kind: 'tls'; tls: TlsMaterial } | { kind: 'plaintext' };

/** A listen address or security setting the server refuses to start with; the message says what to change. */
export class ListenConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenConfigError';
  }
}

/** Splits `host:port`, `[v6]:port`; the port must be 0..65535 (0 picks a free one). */
export function parseListenAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim());
  if (!match) throw new ListenConfigError(`listen address "${address}" must be host:port (or [v6]:port)`);
  const port = Number(match[3]);
  if (port > 65535) throw new ListenConfigError(`listen address "${address}": port ${port} is out of range`);
  return { host: match[1] ?? match[2], port };
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === 'ip6-localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || h.startsWith('::ffff:127.');
  return false;
}

/**
 * Server credentials for the listen address. Plaintext on anything but a loopback address is refused: tokens and
 * images would cross the network in clear.
 */
export function serverCredentials(security: TransportSecurity, host: string): grpc.ServerCredentials {
  if (security.kind === 'plaintext') {
    if (!isLoopbackHost(host)) {
      throw new ListenConfigError(
        `refusing plaintext gRPC on "${host}": plaintext is allowed only on a loopback address (127.0.0.1, ::1, `
          + 'localhost); configure a TLS certificate and key to listen on other interfaces',
      );
    }
    return grpc.ServerCredentials.createInsecure();
  }
  const { cert, key, clientCa } = security.tls;
  if (!cert?.length || !key?.length) throw new ListenConfigError('TLS needs both a certificate chain and a private key');
  return grpc.ServerCredentials.createSsl(clientCa ?? null, [{ cert_chain: cert, private_key: key }], Boolean(clientCa));
}
