// The job runner alone: a scripted `process`, a recording failure store and a manual clock. Retry delays are the
// clock's, not the machine's, so these tests take the same time on a busy machine as on an idle one.
import { CategorizedError, errorCategory } from '../../src/errors';
import { DicomError } from '../../src/dicom/errors';
import { ReportError } from '../../src/report';
import { ReportNotWrittenError } from '../../src/pipeline/results/report-not-written';
import { retryDelayMs } from '../../src/pipeline/jobs/retry-policy';
import {
  ClaimLostError,
  JobRunner,
  PipelineMetrics,
  QueueFullError,
  ResultFeed,
  StudyNotFoundError,
  type Job,
  type JobClock,
  type JobRunnerSettings,
  type StudyResult,
} from '../../src/pipeline';

class ManualClock implements JobClock {
  private time = Date.UTC(2026, 0, 1);
  private timers: { due: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now(): Date {
    return new Date(this.time);
  }
  schedule(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ due: this.time + ms, fn, id });
    return id;
  }
  cancel(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  get pendingDelays(): number[] {
    return this.timers.map((t) => t.due - this.time);
  }
  /** Moves time forward and fires the timers that fall due, in order. */
  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.due <= this.time).sort((a, b) => a.due - b.due);
    this.timers = this.timers.filter((t) => t.due > this.time);
    for (const t of due) t.fn();
  }
}

/** Lets queued promise callbacks run (the runner's steps are promise chains). */
const settle = () => new Promise((r) => setImmediate(r));

interface Harness {
  runner: JobRunner;
  clock: ManualClock;
  feed: ResultFeed;
  recorded: { status: string; attempts: number; error: string | null }[];
  calls: string[];
  settings: JobRunnerSettings;
}

function harness(
  process: (job: Job, attempt: number) => Promise<Partial<StudyResult>>,
  settings: Partial<JobRunnerSettings> = {},
  isUnchanged: (result: StudyResult) => boolean = () => false,
): Harness {
  const clock = new ManualClock();
  const feed = new ResultFeed(100);
  const recorded: Harness['recorded'] = [];
  const calls: string[] = [];
  const full: JobRunnerSettings = {
    retry: { maxAttempts: 3, initialDelayMs: 1000, maxDelayMs: 60_000 },
    queueBound: 10,
    activeLimit: 4,
    policy: 't3b',
    ...settings,
  };
  const runner: JobRunner = new JobRunner({
    process: async (job) => {
      calls.push(`${job.orthancStudyId}#${job.attempts}`);
      const fields = await process(job, job.attempts);
      return { ...runner.baseResult(job), status: 'done', ...fields };
    },
    isUnchanged,
    recordFailure: async (job) => {
      recorded.push({ status: job.status, attempts: job.attempts, error: job.error });
    },
    inferenceFull: () => false,
    settings: () => full,
    metrics: new PipelineMetrics(),
    feed,
    log: () => undefined,
    clock,
    // The plain doubling delays: the spread is tested on its own.
    random: () => 1,
  });
  runner.start();
  return { runner, clock, feed, recorded, calls, settings: full };
}

describe('JobRunner', () => {
  test('failed → retried after doubling delays → parked after maxAttempts → listed → retryJob runs it again', async () => {
    let healthy = false;
    const h = harness(async () => {
      if (!healthy) throw new Error('the archive timed out');
      return { images: [] };
    });
    const first = await h.runner.enqueue('study-a', { priority: 'routine', writeBack: true }, 'attempt');
    expect(first.status).toBe('failed');
    expect(first.error).toMatch(/timed out/);
    expect(h.recorded).toEqual([{ status: 'failed', attempts: 1, error: 'the archive timed out' }]);
    expect(h.clock.pendingDelays).toEqual([1000]);
    expect(h.runner.listFailedJobs()).toEqual([
      expect.objectContaining({ id: 'study-a', status: 'failed', attempts: 1, nextAttemptAt: new Date(Date.UTC(2026, 0, 1) + 1000).toISOString() }),
    ]);

    // Nothing happens before the delay has passed.
    h.clock.advance(999);
    await settle();
    expect(h.calls).toEqual(['study-a#1']);
    h.clock.advance(1);
    await settle();
    expect(h.calls).toEqual(['study-a#1', 'study-a#2']);
    expect(h.clock.pendingDelays).toEqual([2000]);

    h.clock.advance(2000);
    await settle();
    expect(h.calls).toEqual(['study-a#1', 'study-a#2', 'study-a#3']);
    expect(h.clock.pendingDelays).toEqual([]);
    expect(h.recorded.map((r) => `${r.status}/${r.attempts}`)).toEqual(['failed/1', 'failed/2', 'parked/3']);
    expect(h.runner.listFailedJobs()).toEqual([expect.objectContaining({ id: 'study-a', status: 'parked', attempts: 3, nextAttemptAt: null })]);
    expect(h.runner.counts()).toMatchObject({ parked: 1, failed: 0 });
    // Every attempt's failure was published (WatchTriage shows failures as they happen).
    expect(h.feed.since(0).events.map((e) => e.result.status)).toEqual(['failed', 'failed', 'parked']);

    healthy = true;
    const again = await h.runner.retryJob('study-a');
    expect(again.status).toBe('done');
    expect(h.calls[h.calls.length - 1]).toBe('study-a#1');
    expect(h.runner.listFailedJobs()).toEqual([]);
    expect(h.runner.counters).toMatchObject({ studiesDone: 1, studiesFailed: 3 });
  });

  test('a permanent input error (invalid-argument) is parked at once with its reason, never retried', async () => {
    const h = harness(async () => {
      throw new DicomError('unsupported-transfer-syntax', 'transfer syntax 1.2.3 is not supported', 'image 1');
    });
    const result = await h.runner.enqueue('study-p', { priority: 'routine', writeBack: true }, 'final');
    expect(result.status).toBe('parked');
    expect(result.error).toMatch(/unsupported-transfer-syntax/);
    expect(h.calls).toEqual(['study-p#1']);
    expect(h.clock.pendingDelays).toEqual([]);
    expect(h.recorded).toEqual([{ status: 'parked', attempts: 1, error: result.error }]);
  });

  test('a classified study whose SR could not be written keeps its priority in the failed result; retried when the cause may pass', async () => {
    const classified: Partial<StudyResult> = {
      triage: { priority: 'emergency', firedRule: { code: '36118008', threshold: 0.5, priority: 'emergency' }, needsHumanReview: false, reviewReason: null },
    };
    let unavailable = true;
    const h = harness(async (job) => {
      const result = { ...h.runner.baseResult(job), ...classified };
      throw new ReportNotWrittenError(
        unavailable ? new CategorizedError('unavailable', 'Orthanc refused the connection') : new ReportError('sourceHeader.PatientID', 'is too long'),
        result);
    });
    const first = await h.runner.enqueue('study-r', { priority: 'routine', writeBack: true }, 'attempt');
    expect(first.status).toBe('failed');
    expect(first.triage?.priority).toBe('emergency');
    expect(first.error).toMatch(/^the SR could not be written: Orthanc refused/);
    expect(h.clock.pendingDelays).toEqual([1000]);
    // The same failure reaches WatchTriage with the priority.
    expect(h.feed.since(0).events[0].result.triage?.priority).toBe('emergency');

    unavailable = false;
    h.clock.advance(1000);
    await settle();
    const last = h.runner.result('study-r')!;
    expect(last.status).toBe('parked');
    expect(last.triage?.priority).toBe('emergency');
    expect(h.clock.pendingDelays).toEqual([]);
  });

  test('retry delays are spread over the upper half of the doubling delay', () => {
    const s = { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 60_000 };
    expect(retryDelayMs(s, 1, () => 0)).toBe(500);
    expect(retryDelayMs(s, 1, () => 1)).toBe(1000);
    expect(retryDelayMs(s, 3, () => 0.5)).toBe(3000);
    const spread = new Set(Array.from({ length: 50 }, () => retryDelayMs(s, 2, Math.random)));
    expect(spread.size).toBeGreaterThan(10);
    for (const d of spread) expect(d >= 1000 && d <= 2000).toBe(true);
  });

  test('a job waited on until final resolves only once it is parked', async () => {
    const h = harness(async () => {
      throw new Error('still broken');
    }, { retry: { maxAttempts: 2, initialDelayMs: 500, maxDelayMs: 500 } });
    let final: StudyResult | null = null;
    void h.runner.enqueue('study-b', { priority: 'routine', writeBack: true }, 'final').then((r) => (final = r));
    await settle();
    expect(final).toBeNull();
    h.clock.advance(500);
    await settle();
    expect(final).not.toBeNull();
    expect(final!.status).toBe('parked');
  });

  test('a study that disappeared, or whose claim was lost, is neither retried nor recorded', async () => {
    const h = harness(async (job) => {
      if (job.orthancStudyId === 'gone') throw new StudyNotFoundError('gone');
      throw new ClaimLostError(job.orthancStudyId, 'worker-2');
    });
    const gone = await h.runner.enqueue('gone', { priority: 'routine', writeBack: true }, 'final');
    const lost = await h.runner.enqueue('lost', { priority: 'routine', writeBack: true }, 'final');
    expect([gone.status, lost.status]).toEqual(['failed', 'failed']);
    expect(h.recorded).toEqual([]);
    expect(h.clock.pendingDelays).toEqual([]);
    expect(h.runner.listFailedJobs()).toEqual([]);
  });

  test('a result that only confirms an earlier one is not published or counted again', async () => {
    let runs = 0;
    // The second run finds the SR of the same input set already stored (the write-back's reuse path).
    const h = harness(async () => ({ inputSetHash: `run-${++runs}` }), {}, (result) => result.inputSetHash === 'run-2');
    await h.runner.enqueue('study-c', { priority: 'routine', writeBack: true }, 'attempt');
    await h.runner.enqueue('study-c', { priority: 'routine', writeBack: true }, 'attempt');
    expect(h.feed.since(0).events).toHaveLength(1);
    expect(h.runner.counters.studiesDone).toBe(1);
  });

  test('a request for a running study joins it and runs it once more afterwards, in the more urgent lane', async () => {
    let release: () => void = () => undefined;
    const lanes: string[] = [];
    const h = harness(async (job) => {
      lanes.push(job.runPriority);
      if (lanes.length === 1) await new Promise<void>((r) => (release = r));
      return {};
    });
    const first = h.runner.enqueue('study-d', { priority: 'routine', writeBack: true }, 'final');
    await settle();
    const joined = h.runner.enqueue('study-d', { priority: 'stat', writeBack: true }, 'final');
    release();
    const [a, b] = await Promise.all([first, joined]);
    expect(a).toBe(b);
    expect(lanes).toEqual(['routine', 'stat']);
  });

  test('work is refused while not accepting (unavailable), and routine work while the queue is full (resource-exhausted)', async () => {
    const blockers: (() => void)[] = [];
    const h = harness(() => new Promise((r) => blockers.push(() => r({}))), { activeLimit: 1, queueBound: 1 });
    void h.runner.enqueue('running', { priority: 'routine', writeBack: false }, 'attempt');
    void h.runner.enqueue('queued', { priority: 'routine', writeBack: false }, 'attempt');
    await settle();
    expect(h.runner.isBusy()).toBe(true);
    const refused = h.runner.enqueue('third', { priority: 'routine', writeBack: false }, 'attempt');
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await expect(refused).rejects.toMatchObject({ category: 'resource-exhausted' });
    // Stat work is always taken.
    const stat = h.runner.enqueue('urgent', { priority: 'stat', writeBack: false }, 'attempt');
    while (blockers.length) {
      blockers.shift()!();
      await settle();
    }
    await expect(stat).resolves.toMatchObject({ status: 'done' });

    const stopping = h.runner.stop(1);
    await stopping;
    const late = h.runner.enqueue('late', { priority: 'stat', writeBack: false }, 'attempt');
    await expect(late).rejects.toThrow(/not accepting work/);
    expect(errorCategory(await late.catch((e: unknown) => e))).toBe('unavailable');
  });
});
