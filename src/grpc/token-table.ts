import { createHash } from 'node:crypto';
import { CategorizedError } from '../errors';
import { ROLE_NAMES, type RoleName } from './backend';

/** Bearer tokens shorter than this are refused when the table is built: they can be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * One configured token. `token` is either the secret itself or `sha256:<64 hex>` of it, so a token file does not
 * have to hold the secret. `role` (one) or `roles` (several) name what it may call.
 */
export interface TokenEntry {
  token: string;
  role?: string;
  roles?: string[];
}

/** A bad token configuration (the caller's input: a short token, an unknown role); the message names the source and entry. */
export class TokenConfigError extends CategorizedError {
  constructor(message: string) {
    super('invalid-argument', message);
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A token's public name: `sha256:` and the first 12 hex digits of its SHA-256. An administrator computes it from the
 * token (`printf %s TOKEN | sha256sum | cut -c1-12`); it says nothing usable about a token of 16+ random characters.
 */
export function tokenIdOfDigest(hexDigest: string): string {
  return `sha256:${hexDigest.slice(0, 12)}`;
}

/** The public name of a token, or of a configured `sha256:<64 hex>` entry. */
export function tokenIdOf(token: string): string {
  const hashed = /^sha256:([0-9a-fA-F]{64})$/.exec(token);
  return tokenIdOfDigest(hashed ? hashed[1].toLowerCase() : digest(token));
}

/**
 * Maps bearer tokens to roles. Tokens are kept only as SHA-256 digests and looked up by the digest of the presented
 * token, so the lookup time does not depend on how many leading characters of a secret a guess got right.
 */
export class TokenTable {
  private readonly rolesByDigest = new Map<string, ReadonlySet<RoleName>>();

  constructor(entries: readonly TokenEntry[], source = 'tokens') {
    entries.forEach((entry, i) => {
      const where = `${source}[${i}]`;
      if (typeof entry !== 'object' || entry === null) throw new TokenConfigError(`${where}: must be an object with "token" and "roles"`);
      if (typeof entry.token !== 'string') throw new TokenConfigError(`${where}.token: must be a string`);
      const hashed = /^sha256:([0-9a-fA-F]{64})$/.exec(entry.token);
      if (!hashed && entry.token.length < MIN_TOKEN_LENGTH) {
        throw new TokenConfigError(`${where}.token: must be at least ${MIN_TOKEN_LENGTH} characters (or sha256:<hex>)`);
      }
      const names = [...(entry.roles ?? []), ...(entry.role !== undefined ? [entry.role] : [])];
      if (names.length === 0) throw new TokenConfigError(`${where}: names no role; expected one of ${ROLE_NAMES.join(', ')}`);
      const roles = new Set<RoleName>();
      for (const name of names) {
        if (!(ROLE_NAMES as readonly string[]).includes(name)) {
          throw new TokenConfigError(`${where}: unknown role "${String(name)}"; expected one of ${ROLE_NAMES.join(', ')}`);
        }
        roles.add(name as RoleName);
      }
      const key = hashed ? hashed[1].toLowerCase() : digest(entry.token);
      const previous = this.rolesByDigest.get(key);
      this.rolesByDigest.set(key, new Set([...(previous ?? []), ...roles]));
    });
  }

  /** One table holding every token of the given tables (a token in several keeps the union of its roles). */
  static merge(tables: readonly TokenTable[]): TokenTable {
    const merged = new TokenTable([]);
    for (const table of tables) {
      for (const [key, roles] of table.rolesByDigest) {
        merged.rolesByDigest.set(key, new Set([...(merged.rolesByDigest.get(key) ?? []), ...roles]));
      }
    }
    return merged;
  }

  get size(): number {
    return this.rolesByDigest.size;
  }

  /** The ids of the configured tokens (see tokenIdOfDigest), sorted: what logs and audits name instead of tokens. */
  ids(): string[] {
    return [...this.rolesByDigest.keys()].map(tokenIdOfDigest).sort();
  }

  /** The roles of a presented token, or null when it is not configured. */
  rolesOf(token: string): ReadonlySet<RoleName> | null {
    return this.rolesByDigest.get(digest(token)) ?? null;
  }
}

/** Whether a token file is in the JSON form (else the lines form). */
function isJsonForm(text: string): boolean {
  const trimmed = text.trim();
  return trimmed.startsWith('{') || trimmed.startsWith('[');
}

/** The entries of a JSON-form token file, as written (checked by TokenTable or by the caller). */
function jsonEntries(text: string, source: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TokenConfigError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw new TokenConfigError(`${source}: expected {"tokens": [...]} or an array of token entries`);
  return list;
}

/** The non-empty, non-comment lines of a lines-form token file, with their 1-based line numbers. */
function tokenLines(text: string): { line: string; number: number }[] {
  return text.split('\n').map((raw, i) => ({ line: raw.trim(), number: i + 1 })).filter((l) => l.line !== '' && !l.line.startsWith('#'));
}

/**
 * Parses a token file. One format serves the sidecar, the plugin and the middleware (docs/ADMIN.md "Tokens and
 * certificates"):
 *  - JSON: `{"tokens": [{"token": "...", "roles": ["triage", "admin"]}, …]}` (or a bare array of those entries);
 *  - lines: `TOKEN role+role` per line, `#` starts a comment line.
 * The plugin's copy of the same file holds its own entry; the plugin sends the first entry's token.
 */
export function parseTokenFile(text: string, source: string): TokenTable {
  if (isJsonForm(text)) return new TokenTable(jsonEntries(text, source) as TokenEntry[], source);
  const entries = tokenLines(text).map(({ line, number }): TokenEntry => {
    const [token, roles, extra] = line.split(/\s+/);
    if (!roles || extra !== undefined) throw new TokenConfigError(`${source} line ${number}: expected "TOKEN role+role"`);
    return { token, roles: roles.split('+') };
  });
  return new TokenTable(entries, source);
}

/** The token a client sends from its token file: the first entry's (a file of either form, or a bare token line). */
export function clientTokenOf(text: string, source: string): string {
  const token = isJsonForm(text)
    ? (jsonEntries(text, source)[0] as { token?: unknown } | undefined)?.token
    : tokenLines(text)[0]?.line.split(/\s+/)[0];
  if (typeof token !== 'string' || token === '') throw new TokenConfigError(`${source}: holds no token`);
  return token;
}

/**
 * Parses the environment form `token1=triage+admin,token2=triage` (the value of T3_GRPC_TOKENS, passed in by the
 * caller: library code reads no environment).
 */
export function parseTokenList(value: string, source: string): TokenTable {
  const entries: TokenEntry[] = [];
  value.split(',').map((s) => s.trim()).filter((s) => s.length > 0).forEach((item, i) => {
    const eq = item.lastIndexOf('=');
    if (eq <= 0) throw new TokenConfigError(`${source} item ${i + 1}: expected TOKEN=role[+role]`);
    entries.push({ token: item.slice(0, eq), roles: item.slice(eq + 1).split('+').map((r) => r.trim()) });
  });
  return new TokenTable(entries, source);
}
