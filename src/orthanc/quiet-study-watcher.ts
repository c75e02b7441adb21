import { StudyNotFoundError } from '../pipeline';
import { OrthancClient, OrthancError } from './orthanc-client';
import { ClaimsUnsupportedError, type HeldStudyClaim, type StudyClaims } from './study-claims';

export interface QuietWatcherOptions {
  /** A study is ready once its LastUpdate is at least this old. */
  quietMs: number;
  /** How often due studies are looked at. */
  tickMs?: number;
  now?: () => number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/** Runs one ready, claimed study to its end (done, parked, gone or claim lost): true; false if not taken. Never rejects. */
export type ClaimedStudyHandler = (orthancStudyId: string, claim: HeldStudyClaim) => Promise<boolean>;

interface Watched {
  waiters: (() => void)[];
  dueAt: number;
  /** A change touched the study since the current check began: look again instead of finishing. */
  dirty: boolean;
  checking: boolean;
}

/** Orthanc's LastUpdate ("YYYYMMDDTHHMMSS", UTC, 1 s resolution) as epoch milliseconds. */
export function parseOrthancTimestamp(text: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (!m) return null;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * Readiness for several sidecars on Orthancs sharing one index. "Stable" events are per Orthanc process (a study split
 * over two Orthancs is "stable" early, a killed Orthanc never says it), so a study is ready when its LastUpdate has
 * been quiet for `quietMs`. A ready study is claimed; a study claimed by a live worker is looked at again when that
 * lease ends (taking it over if its owner died or stalled). `note()` resolves when the study is finished here or
 * by its owner, so the change-feed checkpoint never passes unfinished work.
 */
export class QuietStudyWatcher {
  private readonly studies = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly log: NonNullable<QuietWatcherOptions['log']>;
  readonly stats = { checks: 0, claimed: 0, takeovers: 0, claimedElsewhere: 0 };

  constructor(
    private readonly client: OrthancClient,
    private readonly claims: StudyClaims,
    private readonly handle: ClaimedStudyHandler,
    private readonly options: QuietWatcherOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? Math.min(500, Math.max(100, Math.floor(this.options.quietMs / 4))));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get pending(): number {
    return this.studies.size;
  }

  /** A change touched this study; resolves when it has been handled (by this worker or another). */
  note(orthancStudyId: string): Promise<void> {
    return new Promise((resolve) => {
      let w = this.studies.get(orthancStudyId);
      if (!w) this.studies.set(orthancStudyId, (w = { waiters: [], dueAt: this.now() + this.options.quietMs, dirty: false, checking: false }));
      else {
        w.dirty = true;
        w.dueAt = Math.max(w.dueAt, this.now() + this.options.quietMs);
      }
      w.waiters.push(resolve);
    });
  }

  /** NewInstance: notes the instance's study (nothing to do when the instance is already gone). */
  async noteInstance(orthancInstanceId: string): Promise<void> {
    // Retried while Orthanc is unreachable: settling without noting would let the checkpoint pass this study.
    for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
      try {
        const study = (await this.client.getJson<{ ParentStudy: string }>(`/instances/${encodeURIComponent(orthancInstanceId)}`)).ParentStudy;
        return this.note(study);
      } catch (err) {
        if (err instanceof OrthancError && err.notFound) return;
        if (!(err instanceof OrthancError && err.transient) || this.timer === null) throw err;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private finish(id: string): void {
    const w = this.studies.get(id);
    if (!w) return;
    this.studies.delete(id);
    for (const r of w.waiters) r();
  }

  private tick(): void {
    const now = this.now();
    for (const [id, w] of this.studies) {
      if (w.checking || w.dueAt > now) continue;
      w.checking = true;
      w.dirty = false;
      void this.check(id, w)
        .catch((err: unknown) => {
          // Orthanc unreachable or failing: look again later.
          w.dueAt = this.now() + this.options.quietMs;
          this.log('readiness-check-failed', { orthancStudyId: id, error: err instanceof Error ? err.message : String(err) });
          if (err instanceof ClaimsUnsupportedError) this.stop();
        })
        .finally(() => {
          w.checking = false;
        });
    }
  }

  private async check(id: string, w: Watched): Promise<void> {
    this.stats.checks++;
    let lastUpdate: number | null;
    try {
      const study = await this.client.getJson<{ LastUpdate?: string }>(`/studies/${encodeURIComponent(id)}`);
      lastUpdate = parseOrthancTimestamp(study.LastUpdate ?? '');
    } catch (err) {
      if (err instanceof OrthancError && err.notFound) return this.finish(id); // deleted
      throw err;
    }
    // LastUpdate has 1 s resolution: the last change may be up to 999 ms after it.
    const readyAt = lastUpdate === null ? 0 : lastUpdate + 1000 + this.options.quietMs;
    if (readyAt > this.now()) {
      w.dueAt = readyAt;
      return;
    }
    let attempt;
    try {
      attempt = await this.claims.acquire(id);
    } catch (err) {
      if (err instanceof StudyNotFoundError) return this.finish(id);
      throw err;
    }
    if (!attempt.won) {
      this.stats.claimedElsewhere++;
      // Its owner finishes it, or the lease runs out and it is taken over here.
      w.dueAt = Math.min(attempt.expiresAt + 50, this.now() + Math.max(this.options.quietMs, 1000));
      return;
    }
    this.stats.claimed++;
    if (attempt.tookOverFrom) this.stats.takeovers++;
    this.log('study-claimed', { orthancStudyId: id, workerId: attempt.claim.workerId, tookOverFrom: attempt.tookOverFrom });
    let finished: boolean;
    try {
      finished = await this.handle(id, attempt.claim);
    } finally {
      await attempt.claim.release();
    }
    // Not taken (shutting down), lost to another worker, or changed meanwhile: not finished here.
    if (!finished || attempt.claim.lost || w.dirty) {
      w.dueAt = this.now() + this.options.quietMs;
      return;
    }
    this.finish(id);
  }
}
