/**
 * Throughput with 1, 2 and 3 sidecars in shared mode on one Orthanc with a PostgreSQL index (a fresh cluster each):
 * the same studies uploaded at once, time from the first upload to the last study done. On a 2-core machine this is
 * a functional scaling check (the work is shared, nothing is lost or doubled), not a speed-up measurement: the
 * sidecars, Orthanc and PostgreSQL share the same two cores. Off by default (about 2 minutes):
 *   T3_SCALE_BENCH=1 npx jest test/scale/scaling-throughput.test.ts
 */
import { makeStudies, startCluster, studyOutcomes, uploadAll, type Cluster } from './cluster';
import { postgresAvailable } from './postgres-server';

jest.setTimeout(600000);

const STUDIES = Number(process.env.T3_SCALE_STUDIES ?? 40);
const IMAGES = Number(process.env.T3_SCALE_IMAGES ?? 4);
let cluster: Cluster | null = null;

afterAll(async () => {
  await cluster?.stop();
});

const enabled = process.env.T3_SCALE_BENCH === '1' && postgresAvailable();

(enabled ? test : test.skip)('1, 2 and 3 sidecars share the work: every study once, figures printed', async () => {
  const rows: Record<string, unknown>[] = [];
  for (const n of [1, 2, 3]) {
    cluster = await startCluster(1);
    const [orthanc] = cluster.orthancs;
    const studies = await makeStudies(orthanc, STUDIES, IMAGES, 8000 + n);
    const sidecars = Array.from({ length: n }, (_, i) =>
      cluster!.startSidecar(`s${i + 1}`, orthanc, {
        coordination: { mode: 'shared', workerId: `s${i + 1}`, quietMs: 1000, leaseMs: 10000 },
        batching: { scope: 'stream', batchSize: 16, maxDelayMs: 100, queueBound: 64 },
      }),
    );
    const deadline = Date.now() + 60000;
    while (!sidecars.every((s) => s.lines.some((l) => l.event === 'serving'))) {
      if (Date.now() > deadline) throw new Error('sidecars did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = Date.now();
    await uploadAll(studies.flat().map((bytes) => ({ orthanc, bytes })), 6);
    const uploadedS = (Date.now() - t0) / 1000;
    for (;;) {
      const o = await studyOutcomes(orthanc);
      if (o.size === STUDIES && [...o.values()].every((x) => x.status === 'done')) break;
      if (Date.now() - t0 > 300000) throw new Error(`not done after 300 s with ${n} sidecar(s)`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const doneS = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 2500));
    const final = await studyOutcomes(orthanc);
    for (const [id, o] of final) if (o.srs !== 1) throw new Error(`${n} sidecar(s): study ${id} has ${o.srs} SRs`);
    const perSidecar = sidecars.map((s) => s.lines.filter((l) => l.event === 'study-done').length);
    expect(perSidecar.reduce((a, b) => a + b, 0)).toBe(STUDIES);
    rows.push({
      sidecars: n,
      studies: STUDIES,
      imagesPerStudy: IMAGES,
      uploadSeconds: +uploadedS.toFixed(1),
      firstUploadToLastDoneSeconds: +doneS.toFixed(1),
      studiesPerMinute: +((STUDIES / doneS) * 60).toFixed(1),
      imagesPerSecond: +((STUDIES * IMAGES) / doneS).toFixed(1),
      studiesDoneBySidecar: perSidecar,
    });
    await cluster.stop();
    cluster = null;
  }
  process.stdout.write(`scaling figures (2-core machine, functional check): ${JSON.stringify(rows)}\n`);
});
