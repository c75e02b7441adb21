/**
 * 100 studies arriving at once, T3B batches across studies (scope stream): all processed exactly once, the queue
 * stays within its bound (the follower pauses), and the run's figures are printed: studies/min, stable→SR latency
 * p50/p95 (from the follower handing the study over to the SR and metadata being written), peak RSS.
 */
import path from 'node:path';
import { closeSharedFramePool } from '../../src/dicom';
import { samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { getJson, postJsonForBytes, resultSrs, startSidecar, waitFor, type RunningSidecar, removeTempDirs } from './harness';

jest.setTimeout(180000);

const STUDIES = 100;
let orthanc: OrthancServer;
let sidecar: RunningSidecar;

afterAll(async () => {
  await sidecar?.service.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

test(`${STUDIES} studies at once: all processed once, queue bounded, figures measured`, async () => {
  orthanc = await startOrthanc({ stableAge: 1 });
  const seed = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_CT_small.dcm'));
  const copies: Uint8Array[] = [];
  for (let i = 0; i < STUDIES - 1; i++) {
    copies.push(await postJsonForBytes(orthanc, `/instances/${seed.ID}/modify`, {
      Replace: { StudyInstanceUID: `1.2.826.0.1.3680043.10.4321.${i + 1}`, SeriesInstanceUID: `1.2.826.0.1.3680043.10.4321.${i + 1}.1` },
      Force: true,
    }));
  }
  const queueBound = 16;
  sidecar = await startSidecar(orthanc, { batching: { scope: 'stream', batchSize: 16, maxDelayMs: 100, queueBound } });
  let maxQueuedImages = 0;
  let maxQueuedJobs = 0;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    const s = sidecar.service.sidecar.status();
    maxQueuedImages = Math.max(maxQueuedImages, ...s.queues.map((q) => q.queuedImages));
    maxQueuedJobs = Math.max(maxQueuedJobs, s.jobs.queued);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 25);
  const t0 = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < copies.length) await uploadFile(orthanc, copies[next++]);
  }));
  const uploadedMs = Date.now() - t0;
  const studies = await getJson<string[]>(orthanc, '/studies');
  expect(studies).toHaveLength(STUDIES);
  await waitFor('every study analysed', () => new Set(sidecar.events.filter((e) => e.result.sr).map((e) => e.result.orthancStudyId)).size === STUDIES, 150000, 250);
  const doneMs = Date.now() - t0;
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 3000)); // SR-triggered re-stables
  let total = 0;
  for (const id of studies) {
    const n = (await resultSrs(orthanc, id)).length;
    expect(n).toBe(1);
    total += n;
  }
  expect(total).toBe(STUDIES);
  const results = sidecar.events.map((e) => e.result).filter((r) => r.sr);
  expect(results).toHaveLength(STUDIES); // no study analysed twice
  // Cross-study batches: some batch served several studies.
  const studiesPerBatch = new Map<string, Set<string>>();
  for (const r of results) for (const i of r.images) studiesPerBatch.set(i.batchId, (studiesPerBatch.get(i.batchId) ?? new Set()).add(r.orthancStudyId));
  expect(Math.max(...[...studiesPerBatch.values()].map((s) => s.size))).toBeGreaterThan(1);
  // Bounded: the batcher never held more than the bound plus one study being admitted.
  expect(maxQueuedImages).toBeLessThanOrEqual(queueBound + 1);
  const latencies = results.map((r) => Date.parse(r.timings.finishedAt!) - Date.parse(r.timings.queuedAt)).sort((a, b) => a - b);
  const figures = {
    studies: STUDIES,
    uploadSeconds: +(uploadedMs / 1000).toFixed(2),
    firstUploadToLastSrSeconds: +(doneMs / 1000).toFixed(2),
    studiesPerMinute: +((STUDIES / doneMs) * 60000).toFixed(1),
    handoverToSrMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: latencies[latencies.length - 1] },
    batches: studiesPerBatch.size,
    maxQueuedImages,
    maxQueuedJobs,
    peakRssMiB: +(peakRss / 2 ** 20).toFixed(1),
  };
  process.stdout.write(`ingest figures: ${JSON.stringify(figures)}\n`);
});
