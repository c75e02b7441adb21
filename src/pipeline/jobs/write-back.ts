import { deriveSrUids, parseAiResultSr, type SrInput, type SrReference } from '../../report';
import type { Job } from './job-state';
import type { SidecarLog } from './job-runner';
import { sharedSrBuilder } from '../results/sr-builder';
import { summarizeTriage } from '../results/triage-summary';
import { modelIdentityText } from '../results/model-identity-text';
import { ClaimLostError } from './study-claim';
import type { SrRecord, StudyImageFailure, StudyResult } from '../results/study-result';
import type { StoredSr, StudySnapshot, StudyStore } from './study-store';

/** An SR already in the archive for the same input set: the study needs no new one. */
export interface ReusableSr {
  srInstanceId: string | null;
  /** Known when the SR was found among the study's instances (not only in the study's state). */
  srSopInstanceUid?: string;
}

/**
 * Everything the pipeline writes into the archive for a study: the SR (deterministic UIDs, so a repeat is
 * "AlreadyStored"), its input-set tag, and the study's triage state, "done" last. In shared mode every write is
 * preceded by confirming the job's claim, so a worker that lost a study never writes to it.
 */
export class WriteBack {
  constructor(private readonly store: StudyStore, private readonly log: SidecarLog) {}

  /** Renews the job's claim; throws ClaimLostError when another worker took it. */
  async confirmClaim(job: Job): Promise<void> {
    if (job.claim && !(await job.claim.confirm())) throw new ClaimLostError(job.orthancStudyId, job.claim.workerId);
  }

  /** Records that the study has nothing to analyse (no SR, no retry), and why. */
  async recordSkipped(job: Job, reason: string): Promise<void> {
    await this.confirmClaim(job);
    await this.store.writeState(job.orthancStudyId, { status: 'skipped', error: reason, attempts: job.attempts });
  }

  /**
   * An SR of this input set that the study already has: named by the study's state, or found among its instances
   * (a crash between storing the SR and recording "done"); the latter is adopted by recording it as done.
   */
  async findReusable(job: Job, snapshot: StudySnapshot, inputSetHash: string): Promise<ReusableSr | null> {
    if (snapshot.state.status === 'done' && snapshot.state.inputSetHash === inputSetHash) return { srInstanceId: snapshot.state.srInstanceId };
    const ours = await this.store.listResultSrs(snapshot);
    const adopted = ours.find((sr) => sr.inputSetHash === inputSetHash) ?? (await this.untaggedSrOf(ours, inputSetHash));
    if (!adopted) return null;
    if (adopted.inputSetHash !== inputSetHash) await this.store.tagSr(adopted.orthancInstanceId, inputSetHash);
    await this.confirmClaim(job);
    await this.store.writeState(job.orthancStudyId, {
      status: 'done', inputSetHash, srInstanceId: adopted.orthancInstanceId, error: null, attempts: job.attempts,
    });
    return { srInstanceId: adopted.orthancInstanceId, srSopInstanceUid: adopted.sopInstanceUid };
  }

  /**
   * An SR of ours that the archive holds without its input-set tag (the worker that stored it stopped before tagging
   * it: a crash, or a claim taken over) but whose own parameters name this input set. Adopting it keeps the study at
   * one SR where a new run, batched differently, would write a second.
   */
  private async untaggedSrOf(ours: StoredSr[], inputSetHash: string): Promise<StoredSr | undefined> {
    for (const sr of ours.filter((s) => s.inputSetHash === null)) {
      try {
        const parsed = parseAiResultSr(await this.store.fetchInstance(sr.orthancInstanceId, 'local', 'first'));
        if (parsed.parameters.inputSet === inputSetHash) return sr;
      } catch (err) {
        this.log('sr-unreadable', { orthancInstanceId: sr.orthancInstanceId, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return undefined;
  }

  async recordRunning(job: Job): Promise<void> {
    await this.confirmClaim(job);
    await this.store.writeState(job.orthancStudyId, { status: 'running', runPriority: job.runPriority, attempts: job.attempts });
  }

  /**
   * Builds and stores the study's SR and records the triage state. The predecessor is the SR the study shows now
   * (or our latest), unless it is the very SR about to be written (a repeat after a crash): new inputs, or a re-run
   * that decides differently, give a new version that references it.
   */
  async writeResult(
    job: Job,
    snapshot: StudySnapshot,
    input: Omit<SrInput, 'predecessor' | 'contentDateTime' | 'rerun'>,
    inputSetHash: string,
    failedImages: readonly StudyImageFailure[],
  ): Promise<{ sr: SrRecord; srStoredAt: string }> {
    input = { ...input, algorithm: { ...input.algorithm, inputSetHash }, ...(job.rerunId ? { rerun: job.rerunId } : {}) };
    const next = deriveSrUids(String(input.sourceHeader.StudyInstanceUID), input.images, input.algorithm, input.triage, job.rerunId ?? undefined);
    const previous = (await this.store.listResultSrs(snapshot)).filter((sr) => sr.sopInstanceUid !== next.sopInstanceUid);
    const prev = previous.find((sr) => sr.orthancInstanceId === snapshot.state.srInstanceId) ?? previous[previous.length - 1];
    const predecessor: SrReference | undefined = prev
      ? { studyInstanceUid: prev.studyInstanceUid, seriesInstanceUid: prev.seriesInstanceUid, sopInstanceUid: prev.sopInstanceUid, sopClassUid: prev.sopClassUid }
      : undefined;
    await this.confirmClaim(job);
    const lambdas = input.algorithm.batchLambdas;
    const meanLambda = lambdas.length ? lambdas.reduce((a, b) => a + b, 0) / lambdas.length : null;
    // The divergence a radiologist's feedback is exported with (issue 24): null under one-model policies.
    const divergences = input.images.map((i) => i.js).filter((v): v is number => v !== null && Number.isFinite(v));
    const meanDivergence = divergences.length ? divergences.reduce((a, b) => a + b, 0) / divergences.length : null;
    // Entries that do not say "done" are written while the SR is built and stored (a crash in between leaves the
    // status "running", so the study is run again); the input set and SR id once the SR is in; "done" last.
    const summary = summarizeTriage(input.images, input.triage);
    const early = this.store
      .writeState(job.orthancStudyId, {
        priority: input.triage.priority,
        review: summary.review,
        topFinding: summary.topFinding,
        findings: summary.findings,
        priorityReason: summary.priorityReason,
        demonstration: input.algorithm.demonstration ? 'true' : null,
        lambda: meanLambda === null ? null : meanLambda.toFixed(4),
        divergence: meanDivergence === null ? null : meanDivergence.toFixed(4),
        model: modelIdentityText(input.algorithm),
        error: failedImages.length ? `${failedImages.length} image(s) not used: ${failedImages.map((f) => f.code).join(', ')}` : null,
        attempts: job.attempts,
      })
      .then(() => null, (err: unknown) => ({ err }));
    let built: Awaited<ReturnType<ReturnType<typeof sharedSrBuilder>['build']>>;
    let stored: Awaited<ReturnType<StudyStore['storeSr']>>;
    let srStoredAt: string;
    let earlyFailure: { err: unknown } | null;
    try {
      // dcmjs's writer is slow on large studies: the SR is built in a worker thread, the event loop stays free.
      built = await sharedSrBuilder().build({ ...input, ...(predecessor ? { predecessor } : {}) });
      if (built.adjustedSourceAttributes.length || built.nonConformantSourceAttributes.length) {
        // Names only: the values are patient data.
        this.log('source-header-adjusted', {
          orthancStudyId: job.orthancStudyId, adjusted: built.adjustedSourceAttributes, nonConformant: built.nonConformantSourceAttributes,
        });
      }
      // Building takes seconds on a busy machine: a worker paused or slowed past its lease meanwhile must not store an
      // SR beside the one of the worker that took the study over, so the claim is confirmed again right before.
      await this.confirmClaim(job);
      stored = await this.store.storeSr(built.bytes);
      srStoredAt = new Date().toISOString();
      await Promise.all([
        this.store.tagSr(stored.orthancInstanceId, inputSetHash),
        this.store.writeState(job.orthancStudyId, { inputSetHash, srInstanceId: stored.orthancInstanceId }),
      ]);
    } finally {
      // Never leave a write in flight behind a failure: the failure path writes the same entries.
      earlyFailure = await early;
    }
    // Thrown only once the SR is in: thrown from `finally` it would replace the SR step's own error (a lost claim
    // among them, which must reach the job runner as itself).
    if (earlyFailure) throw earlyFailure.err;
    await this.store.writeState(job.orthancStudyId, { status: 'done', reportError: null, finishedAt: new Date().toISOString() });
    return {
      sr: {
        orthancInstanceId: stored.orthancInstanceId,
        sopInstanceUid: built.sopInstanceUid,
        seriesInstanceUid: built.seriesInstanceUid,
        predecessorSopInstanceUid: predecessor?.sopInstanceUid ?? null,
        reused: stored.alreadyStored,
      },
      srStoredAt,
    };
  }

  /** Records a failed or parked attempt in the study's state; a failed write is logged, never thrown. */
  async recordFailure(job: Job): Promise<void> {
    try {
      await this.confirmClaim(job);
      await this.store.writeState(job.orthancStudyId, {
        status: job.status, error: job.error, attempts: job.attempts, finishedAt: new Date().toISOString(),
        // Only a failure after classification says the report failed; an earlier one leaves the mark as it was.
        ...(job.reportError ? { reportError: job.reportError } : {}),
      });
    } catch (err) {
      this.log('state-write-failed', { orthancStudyId: job.orthancStudyId, error: err instanceof Error ? err.message : String(err) });
    }
  }
}

/**
 * The result of a run that found the study already analysed with the same inputs: the result this process holds for
 * it when there is one (same input set), else the fresh base with the SR the archive names.
 */
export function reusedResult(job: Job, fresh: StudyResult, known: StudyResult | null, reusable: ReusableSr, t0: number, now: Date): StudyResult {
  job.finishedAt = now;
  const base = known && known.inputSetHash === fresh.inputSetHash ? { ...known } : fresh;
  base.jobId = job.id;
  base.status = 'done';
  base.attempts = job.attempts;
  base.runPriority = job.runPriority;
  base.timings = { ...fresh.timings, finishedAt: now.toISOString(), totalMs: now.getTime() - t0 };
  base.sr = base.sr
    ? { ...base.sr, reused: true }
    : reusable.srInstanceId
      ? { orthancInstanceId: reusable.srInstanceId, sopInstanceUid: reusable.srSopInstanceUid ?? '', seriesInstanceUid: '', predecessorSopInstanceUid: null, reused: true }
      : null;
  return base;
}
