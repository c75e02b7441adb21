/**
 * Several sidecars, one PACS: PostgreSQL from Debian, two Orthancs sharing its index (and one storage folder), three
 * `orthanc-t3 serve` processes in shared mode. 100 studies (ten of them split across both Orthancs, so each Orthanc's
 * own "stable" would fire early); one sidecar is kill -9'ed while it holds a claim, another is paused (SIGSTOP) past
 * its lease and resumed. Every study must end with exactly one SR and status done; the takeover times are printed.
 * Runs when Debian's postgresql and orthanc-postgresql are installed (scripts/install-debian-packages.sh).
 */
import { closeSharedFramePool } from '../../src/dicom';
import { makeStudies, startCluster, studyOutcomes, uploadAll, type Cluster, type SidecarProcess } from './cluster';
import { postgresAvailable } from './postgres-server';

jest.setTimeout(240000);

const STUDIES = 100;
const SPLIT = 10;
const LEASE_MS = 5000;
let cluster: Cluster | null = null;

afterAll(async () => {
  // On failure, the sidecars' last log lines say why.
  if (process.env.T3_SCALE_DEBUG) for (const s of cluster?.sidecars ?? []) process.stdout.write(`--- ${s.name}\n${s.lines.slice(-40).map((l) => JSON.stringify(l)).join('\n')}\n`);
  await cluster?.stop();
  await closeSharedFramePool();
});

async function until<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Studies a sidecar has claimed (per its log) and not yet finished, lost or given up. */
function openClaims(s: SidecarProcess): string[] {
  const open = new Set<string>();
  for (const l of s.lines) {
    const id = l.orthancStudyId as string | undefined;
    if (!id) continue;
    if (l.event === 'study-claimed') open.add(id);
    else if (['study-done', 'study-unchanged', 'claim-lost', 'study-parked', 'study-gone', 'claimed-study-failed'].includes(l.event)) open.delete(id);
  }
  return [...open];
}

/** Waits until the sidecar has made at least `minClaims` claims and holds one now; returns the studies it holds. */
function holding(s: SidecarProcess, minClaims: number): () => string[] | null {
  return () => {
    const claims = s.lines.filter((l) => l.event === 'study-claimed').length;
    const open = openClaims(s);
    return claims >= minClaims && open.length > 0 ? open : null;
  };
}

(postgresAvailable() ? test : test.skip)(`${STUDIES} studies, 2 Orthancs on PostgreSQL, 3 sidecars, one killed and one paused: exactly one SR each`, async () => {
  const t0 = Date.now();
  cluster = await startCluster(2);
  const [a, b] = cluster.orthancs;
  const studies = await makeStudies(a, STUDIES, 1, 7001);
  // The split studies get a second instance, sent to the other Orthanc.
  const extra = await makeStudies(a, SPLIT, 2, 7001);
  const common = {
    coordination: { mode: 'shared', quietMs: 1500, leaseMs: LEASE_MS },
    batching: { scope: 'stream', batchSize: 8, maxDelayMs: 100, queueBound: 32 },
  };
  const s1 = cluster.startSidecar('s1', a, { ...common, coordination: { ...common.coordination, workerId: 's1' } });
  const s2 = cluster.startSidecar('s2', b, { ...common, coordination: { ...common.coordination, workerId: 's2' } });
  const s3 = cluster.startSidecar('s3', a, { ...common, coordination: { ...common.coordination, workerId: 's3' } });
  await until('three sidecars serving', () => [s1, s2, s3].every((s) => s.lines.some((l) => l.event === 'serving')), 60000);
  const setupS = (Date.now() - t0) / 1000;

  // A split study's second instance goes to the other Orthanc right after its first, as two modalities sending parts
  // of one study at about the same time. Sent at the end of the upload instead, it arrived more than the quiet time
  // later on a busy machine, and the study then rightly got a second SR version for its new input set.
  const items = studies.flatMap((images, i) => [
    { orthanc: i % 2 === 0 ? a : b, bytes: images[0] },
    ...(i < SPLIT ? [{ orthanc: i % 2 === 0 ? b : a, bytes: extra[i][1] }] : []),
  ]);
  const tUpload = Date.now();
  const uploading = uploadAll(items, 6);

  // kill -9 s1 while it holds a claim (after it has made a few).
  const s1Held = await until('s1 holding a claim', holding(s1, 3), 60000, 2);
  s1.child.kill('SIGKILL');
  const killedAt = Date.now();
  // Pause s3 while it holds a claim, past its lease.
  const s3ClaimsBefore = s3.lines.filter((l) => l.event === 'study-claimed').length;
  const s3Held = await until('s3 holding a claim', holding(s3, s3ClaimsBefore + 1), 60000, 2);
  s3.child.kill('SIGSTOP');
  const pausedAt = Date.now();
  await uploading;
  await new Promise((r) => setTimeout(r, Math.max(0, pausedAt + LEASE_MS + 3000 - Date.now())));
  s3.child.kill('SIGCONT');
  const resumedAt = Date.now();

  const outcomes = await until('every study done', async () => {
    const o = await studyOutcomes(a);
    return o.size === STUDIES && [...o.values()].every((x) => x.status === 'done' && x.srs >= 1) ? o : null;
  }, 150000, 1000);
  const doneAt = Date.now();
  // Our own SRs make studies change again: let those re-checks settle, then count.
  await new Promise((r) => setTimeout(r, 4000));
  const final = await studyOutcomes(b);
  expect(final.size).toBe(STUDIES);
  for (const [id, o] of final) {
    if (o.srs !== 1 || o.status !== 'done') throw new Error(`study ${id}: ${o.srs} SR(s), status ${o.status}`);
  }
  expect(outcomes.size).toBe(STUDIES);

  /** The first takeover from `from` of one of the studies it held. */
  const takeover = (held: string[], from: string) => {
    let first: { by: string; at: number } | null = null;
    for (const s of [s1, s2, s3]) {
      for (const l of s.lines) {
        if (l.event === 'study-claimed' && l.tookOverFrom === from && held.includes(l.orthancStudyId as string) && (!first || l.time < first.at)) first = { by: s.name, at: l.time };
      }
    }
    return first;
  };
  const killTakeover = takeover(s1Held, 's1');
  const pauseTakeover = takeover(s3Held, 's3');
  expect(killTakeover).not.toBeNull();
  expect(pauseTakeover).not.toBeNull();
  const s3Lost = s3.lines.filter((l) => l.event === 'claim-lost').length;
  const done = (s: SidecarProcess) => s.lines.filter((l) => l.event === 'study-done').length;
  const figures = {
    studies: STUDIES,
    splitAcrossOrthancs: SPLIT,
    leaseMs: LEASE_MS,
    setupSeconds: +setupS.toFixed(1),
    uploadToAllDoneSeconds: +((doneAt - tUpload) / 1000).toFixed(1),
    claimsHeldAtKill: s1Held.length,
    claimsHeldAtPause: s3Held.length,
    killTakeoverMs: killTakeover!.at - killedAt,
    killTakeoverBy: killTakeover!.by,
    pausedTakeoverMs: pauseTakeover!.at - pausedAt,
    pausedTakeoverBy: pauseTakeover!.by,
    pausedResumedAfterMs: resumedAt - pausedAt,
    s3ClaimLostAfterResume: s3Lost,
    studiesWrittenBy: { s1: done(s1), s2: done(s2), s3: done(s3) },
  };
  process.stdout.write(`shared-mode figures: ${JSON.stringify(figures)}\n`);
});
