import { randomBytes } from 'node:crypto';
import { StudyNotFoundError, type StudyClaim } from '../pipeline';
import { OrthancClient, OrthancError } from './orthanc-client';

/**
 * Study metadata entry holding the claim. orthanc-config/orthanc.json declares the name next to the triage entries.
 * Works as a compare-and-set only with `CheckRevisions: true` on a PostgreSQL index (docs/SCALE.md): SQLite accepts
 * the setting but keeps no revisions, which `StudyClaims` detects and refuses.
 */
export const CLAIM_METADATA = { name: 'T3Claim', index: 4709 } as const;

/** The stored value: who, until when, and a nonce so that no two writes are ever identical. */
export interface ClaimRecord {
  worker: string;
  /** Lease end, milliseconds since the epoch (the writer's clock: keep hosts' clock skew well below the lease). */
  expiresAt: number;
  nonce: string;
}

export type ClaimAttempt =
  | { won: true; claim: HeldStudyClaim; tookOverFrom: string | null }
  | { won: false; holder: string; expiresAt: number };

export interface StudyClaimsOptions {
  workerId: string;
  leaseMs: number;
  now?: () => number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** Revisions are missing: the index is SQLite or `CheckRevisions` is off, so claims cannot exclude each other. */
export class ClaimsUnsupportedError extends Error {
  constructor(detail: string) {
    super(`${detail}: shared mode needs "CheckRevisions": true on a PostgreSQL index (docs/SCALE.md)`);
    this.name = 'ClaimsUnsupportedError';
  }
}

export function parseClaimRecord(text: string): ClaimRecord | null {
  try {
    const v = JSON.parse(text) as Partial<ClaimRecord>;
    if (typeof v.worker === 'string' && typeof v.expiresAt === 'number' && Number.isFinite(v.expiresAt) && typeof v.nonce === 'string') {
      return { worker: v.worker, expiresAt: v.expiresAt, nonce: v.nonce };
    }
  } catch {
    // not ours or damaged: treated as expired
  }
  return null;
}

function claimPath(orthancStudyId: string): string {
  return `/studies/${encodeURIComponent(orthancStudyId)}/metadata/${CLAIM_METADATA.index}`;
}

/**
 * Claims studies for this worker: create-if-absent (PUT without If-Match), take over an expired lease and renew with
 * If-Match. Exactly one of several racing workers wins each write (Orthanc answers 409 to the others).
 */
export class StudyClaims {
  private readonly now: () => number;
  private readonly log: NonNullable<StudyClaimsOptions['log']>;

  constructor(private readonly client: OrthancClient, readonly options: StudyClaimsOptions) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
  }

  private support: Promise<void> | null = null;

  /**
   * Checks once that Orthanc can arbitrate claims: `CheckRevisions` on and a database plugin (SQLite keeps no
   * revisions). Throws ClaimsUnsupportedError; an unreachable Orthanc is checked again on the next call.
   */
  verifySupport(): Promise<void> {
    this.support ??= (async () => {
      const system = await this.client.getJson<{ CheckRevisions?: boolean; DatabaseBackendPlugin?: string | null }>('/system');
      if (system.CheckRevisions !== true) throw new ClaimsUnsupportedError('Orthanc runs with CheckRevisions off');
      if (!system.DatabaseBackendPlugin) throw new ClaimsUnsupportedError('Orthanc runs on its built-in SQLite index, which keeps no revisions');
    })().catch((err: unknown) => {
      if (!(err instanceof ClaimsUnsupportedError)) this.support = null;
      throw err;
    });
    return this.support;
  }

  record(): ClaimRecord {
    return { worker: this.options.workerId, expiresAt: this.now() + this.options.leaseMs, nonce: randomBytes(8).toString('hex') };
  }

  /** Tries to claim a study; a live claim of another worker is left alone and reported. */
  async acquire(orthancStudyId: string): Promise<ClaimAttempt> {
    await this.verifySupport();
    const path = claimPath(orthancStudyId);
    for (let round = 0; round < 3; round++) {
      const current = await this.client.getTextWithEtag(path);
      let previous: ClaimRecord | null = null;
      if (current) {
        if (current.etag === null) throw new ClaimsUnsupportedError(`Orthanc returned no ETag for ${path}`);
        previous = parseClaimRecord(current.text);
        if (previous && previous.worker !== this.options.workerId && previous.expiresAt > this.now()) {
          return { won: false, holder: previous.worker, expiresAt: previous.expiresAt };
        }
      }
      const record = this.record();
      let written: { etag: string | null } | 'conflict';
      try {
        written = await this.client.putTextConditional(path, JSON.stringify(record), current ? current.etag : null);
      } catch (err) {
        if (err instanceof OrthancError && err.notFound) throw new StudyNotFoundError(orthancStudyId);
        throw err;
      }
      if (written === 'conflict') continue; // another worker wrote in between: read again
      if (written.etag === null) throw new ClaimsUnsupportedError(`Orthanc returned no ETag for ${path}`);
      const tookOverFrom = previous && previous.worker !== this.options.workerId ? previous.worker : null;
      if (tookOverFrom) this.log('claim-taken-over', { orthancStudyId, from: tookOverFrom, expiredMsAgo: this.now() - previous!.expiresAt });
      return { won: true, claim: new HeldStudyClaim(this, this.client, orthancStudyId, written.etag, record), tookOverFrom };
    }
    // Three lost races in a row: somebody else is actively claiming it.
    return { won: false, holder: '(contended)', expiresAt: this.now() + Math.min(this.options.leaseMs, 2000) };
  }
}

/** A claim this worker holds: renewed every third of the lease until released or lost. */
export class HeldStudyClaim implements StudyClaim {
  private timer: NodeJS.Timeout | null;
  private renewing: Promise<boolean> | null = null;
  private released = false;
  lost = false;

  constructor(
    private readonly owner: StudyClaims,
    private readonly client: OrthancClient,
    readonly orthancStudyId: string,
    private etag: string,
    private current: ClaimRecord,
  ) {
    this.timer = setInterval(() => void this.confirm().catch(() => undefined), Math.max(200, Math.floor(owner.options.leaseMs / 3)));
    this.timer.unref();
  }

  get workerId(): string {
    return this.owner.options.workerId;
  }

  get expiresAt(): number {
    return this.current.expiresAt;
  }

  /** Renews now (If-Match the revision we wrote). Orthanc unreachable: the lease is still ours until it expires. */
  confirm(): Promise<boolean> {
    if (this.lost || this.released) return Promise.resolve(!this.lost);
    this.renewing ??= (async () => {
      const record = this.owner.record();
      try {
        const written = await this.client.putTextConditional(claimPath(this.orthancStudyId), JSON.stringify(record), this.etag);
        if (written === 'conflict') {
          this.markLost();
        } else {
          this.etag = written.etag ?? this.etag;
          this.current = record;
        }
      } catch (err) {
        if (err instanceof OrthancError && err.notFound) this.markLost();
        else if (this.current.expiresAt <= Date.now()) this.markLost();
      }
      return !this.lost;
    })().finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private markLost(): void {
    this.lost = true;
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopTimer();
    if (this.renewing) await this.renewing.catch(() => undefined);
    if (this.lost) return;
    try {
      await this.client.deleteConditional(claimPath(this.orthancStudyId), this.etag);
    } catch {
      // Orthanc unreachable: the lease simply expires.
    }
  }
}
