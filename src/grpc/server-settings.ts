import { readFile } from 'node:fs/promises';
import { ListenConfigError, type TransportSecurity } from './server-security';
import { parseTokenFile, parseTokenList, TokenTable, type TokenEntry } from './token-table';

/** The `grpc` section of the sidecar configuration (config/'s GrpcConfig has this shape). */
export interface GrpcSettings {
  /** host:port; port 0 picks a free port. */
  listen: string;
  /** Certificate and key files; null means plaintext, which the server accepts on loopback addresses only. */
  tls: { certFile: string; keyFile: string; clientCaFile: string | null } | null;
  tokens: TokenEntry[];
}

/** Token sources besides the configuration, passed in by the CLI (library code reads no environment). */
export interface ExtraTokenSources {
  /** Path of a JSON token file (see parseTokenFile). */
  tokenFile?: string | null;
  /** The value of T3_GRPC_TOKENS: `token=role[+role],…`. */
  tokenList?: string | null;
}

async function readPem(file: string, key: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new ListenConfigError(`grpc.tls.${key}: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * Turns the configuration's `grpc` section into what startGrpcServer takes: PEM contents read from the configured
 * files (errors name the key and file) and one token table from the configuration, a token file and the token list.
 */
export async function resolveGrpcSettings(
  settings: GrpcSettings,
  extra: ExtraTokenSources = {},
): Promise<{ listen: string; security: TransportSecurity; tokens: TokenTable; hostTokens: TokenTable[] }> {
  let security: TransportSecurity = { kind: 'plaintext' };
  if (settings.tls) {
    // One after another, so that with several bad paths the error always names the first key (certFile, keyFile,
    // clientCaFile) rather than whichever read failed first.
    const cert = await readPem(settings.tls.certFile, 'certFile');
    const key = await readPem(settings.tls.keyFile, 'keyFile');
    const clientCa = settings.tls.clientCaFile ? await readPem(settings.tls.clientCaFile, 'clientCaFile') : null;
    security = { kind: 'tls', tls: { cert, key, clientCa } };
  }
  // Tokens of the sidecar's host (a token file, T3_GRPC_TOKENS): they stay when the configuration's tokens change.
  const hostTokens: TokenTable[] = [];
  if (extra.tokenFile) {
    let text: string;
    try {
      text = await readFile(extra.tokenFile, 'utf8');
    } catch (err) {
      throw new ListenConfigError(`token file "${extra.tokenFile}": cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    hostTokens.push(parseTokenFile(text, extra.tokenFile));
  }
  if (extra.tokenList) hostTokens.push(parseTokenList(extra.tokenList, 'T3_GRPC_TOKENS'));
  const tokens = TokenTable.merge([new TokenTable(settings.tokens, 'grpc.tokens'), ...hostTokens]);
  return { listen: settings.listen, security, tokens, hostTokens };
}
