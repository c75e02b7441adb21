import type { OrthancDiagnosis } from './connection-diagnosis';

/** Most time between two reports of the same lasting problem (the bound: at least once a minute). */
export const MAX_PROBLEM_REPEAT_MS = 60000;

/**
 * Logs a lasting Orthanc problem at a bounded rate: at once when it starts or changes, then every `repeatMs` while it
 * lasts (a one-line warning that scrolls away is missed), and once when Orthanc is usable again.
 */
export class ProblemReporter {
  private current: OrthancDiagnosis | null = null;
  private lastReportAt = 0;
  private repeats = 0;
  private since = 0;

  constructor(
    private readonly log: (event: string, fields: Record<string, unknown>) => void,
    private readonly repeatMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The problem being reported, or null. */
  get problem(): OrthancDiagnosis | null {
    return this.current;
  }

  report(diagnosis: OrthancDiagnosis, extra: Record<string, unknown> = {}): void {
    const t = this.now();
    const changed = this.current === null || this.current.problem !== diagnosis.problem || this.current.message !== diagnosis.message;
    if (changed) {
      this.repeats = 0;
      this.since = t;
    }
    this.current = diagnosis;
    if (!changed && t - this.lastReportAt < this.repeatMs) return;
    if (!changed) this.repeats++;
    this.lastReportAt = t;
    this.log('orthanc-problem', {
      problem: diagnosis.problem,
      setting: diagnosis.setting,
      message: diagnosis.message,
      ...(this.repeats > 0 ? { repeat: this.repeats, lastingS: Math.round((t - this.since) / 1000) } : {}),
      ...extra,
    });
  }

  /** Orthanc answered: says so once after a problem. */
  clear(extra: Record<string, unknown> = {}): void {
    if (this.current === null) return;
    this.log('orthanc-reachable', { after: this.current.problem, lastedS: Math.round((this.now() - this.since) / 1000), ...extra });
    this.current = null;
  }
}
