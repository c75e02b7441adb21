import { TokenConfigError, TokenTable, type TokenEntry } from './token-table';

/** What a token change is logged as: token ids only (token-table.ts tokenIdOf), never a token. */
export type TokenAudit = (event: 'grpc-tokens-changed', fields: { added: string[]; revoked: string[]; tokens: number }) => void;

/**
 * The token table calls are checked against, with the part that comes from the configuration (`grpc.tokens`)
 * replaceable while the server runs. Tokens from a token file or T3_GRPC_TOKENS belong to the sidecar's host and stay.
 * A change is prepared first (a bad entry throws, invalid-argument, and nothing changes), then committed: from then
 * on the next call is checked against the new table, and the change is audited by token id.
 */
export class LiveTokenTable {
  private configured: TokenEntry[];
  private current: TokenTable;

  constructor(private readonly hostTables: readonly TokenTable[], configured: readonly TokenEntry[], private readonly audit: TokenAudit) {
    this.configured = [...configured];
    this.current = this.build(this.configured);
  }

  get table(): TokenTable {
    return this.current;
  }

  /** Builds the table `configured` leads to; returns the commit that swaps it in (a no-op when nothing changes). */
  prepare(configured: readonly TokenEntry[]): () => void {
    if (JSON.stringify(configured) === JSON.stringify(this.configured)) return () => undefined;
    const next = this.build(configured);
    if (next.size === 0) throw new TokenConfigError('grpc.tokens: the change would leave no token at all, and every call (this one\'s successor included) would be refused');
    return () => {
      const before = new Set(this.current.ids());
      const after = new Set(next.ids());
      this.configured = [...configured];
      this.current = next;
      this.audit('grpc-tokens-changed', {
        added: [...after].filter((id) => !before.has(id)),
        revoked: [...before].filter((id) => !after.has(id)),
        tokens: after.size,
      });
    };
  }

  private build(configured: readonly TokenEntry[]): TokenTable {
    return TokenTable.merge([new TokenTable(configured, 'grpc.tokens'), ...this.hostTables]);
  }
}
