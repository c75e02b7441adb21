import * as grpc from '@grpc/grpc-js';
import type { RoleName } from './backend';
import { CallError } from './status-mapping';
import { tokenIdOf, type TokenTable } from './token-table';

/**
 * Checks the call's `authorization: Bearer <token>` metadata against the token table: UNAUTHENTICATED when the
 * header is missing, malformed or names no configured token; PERMISSION_DENIED when the token lacks `role`. Returns
 * the token's id (token-table.ts tokenIdOf), what logs name the caller by.
 */
export function authorize(metadata: grpc.Metadata, tokens: TokenTable, role: RoleName): string {
  const values = metadata.get('authorization');
  if (values.length === 0) {
    throw new CallError(grpc.status.UNAUTHENTICATED, 'missing "authorization: Bearer <token>" metadata');
  }
  if (values.length > 1) throw new CallError(grpc.status.UNAUTHENTICATED, 'more than one authorization header');
  const value = values[0];
  const match = typeof value === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  if (!match) throw new CallError(grpc.status.UNAUTHENTICATED, 'authorization metadata must be "Bearer <token>"');
  const roles = tokens.rolesOf(match[1]);
  if (!roles) throw new CallError(grpc.status.UNAUTHENTICATED, 'unknown bearer token');
  if (!roles.has(role)) {
    throw new CallError(grpc.status.PERMISSION_DENIED, `this token lacks the "${role}" role needed for this call`);
  }
  return tokenIdOf(match[1]);
}
