import { JOB_STATUSES, type JobStatus, type RunPriority, type StudyResult } from '../results/study-result';
import type { StudyClaim } from './study-claim';

/** One study's job. The job id is the Orthanc study id: a study has at most one job at a time. */
export interface Job {
  id: string;
  orthancStudyId: string;
  studyInstanceUid: string;
  status: JobStatus;
  runPriority: RunPriority;
  writeBack: boolean;
  /** Re-run even if a result exists for the same input set (administrator's re-run). */
  force: boolean;
  /**
   * While `force` holds: when the explicit re-run was asked for (ISO 8601). It enters the new SR's identity, so the
   * re-run writes a new SR that supersedes the one before even when it decides the same, and the retries of that one
   * re-run all write the same SR.
   */
  rerunId: string | null;
  /** Set by the last failure when the study was classified but its SR could not be written: the reason. */
  reportError: string | null;
  attempts: number;
  error: string | null;
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** When a failed job is tried again. */
  nextAttemptAt: Date | null;
  /** The study changed (or a new request came) while running: run once more afterwards. */
  rerunRequested: boolean;
  lastResult: StudyResult | null;
  /** Shared mode: the claim this job runs under (checked before every write), else null. */
  claim: StudyClaim | null;
}

/** In-memory table of jobs; durable state lives in Orthanc's study metadata. */
export class JobTable {
  private readonly jobs = new Map<string, Job>();

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  create(fields: { orthancStudyId: string; runPriority: RunPriority; writeBack: boolean; force: boolean }, queuedAt: Date = new Date()): Job {
    const job: Job = {
      id: fields.orthancStudyId,
      orthancStudyId: fields.orthancStudyId,
      studyInstanceUid: '',
      status: 'queued',
      runPriority: fields.runPriority,
      writeBack: fields.writeBack,
      force: fields.force,
      rerunId: fields.force ? queuedAt.toISOString() : null,
      reportError: null,
      attempts: 0,
      error: null,
      queuedAt,
      startedAt: null,
      finishedAt: null,
      nextAttemptAt: null,
      rerunRequested: false,
      lastResult: null,
      claim: null,
    };
    this.jobs.set(job.id, job);
    return job;
  }

  get size(): number {
    return this.jobs.size;
  }

  delete(id: string): void {
    this.jobs.delete(id);
  }

  list(filter?: (job: Job) => boolean): Job[] {
    const all = [...this.jobs.values()];
    return filter ? all.filter(filter) : all;
  }

  countBy(): Record<JobStatus, number> {
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    for (const job of this.jobs.values()) counts[job.status]++;
    return counts;
  }

  /** Keeps memory bounded: forgets the oldest finished jobs beyond `keep`. */
  prune(keep: number): void {
    const done = [...this.jobs.values()].filter((j) => j.status === 'done').sort((a, b) => (a.finishedAt?.getTime() ?? 0) - (b.finishedAt?.getTime() ?? 0));
    for (const job of done.slice(0, Math.max(0, done.length - keep))) this.jobs.delete(job.id);
  }
}
