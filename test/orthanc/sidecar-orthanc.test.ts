/**
 * The main job against a real Orthanc (Debian package): every study that becomes stable gets exactly one SR and its
 * metadata; re-stable with the same inputs writes nothing new; a late image gives a new SR that references its
 * predecessor; a bad image is reported while the rest of the study is triaged.
 */
import path from 'node:path';
import { closeSharedFramePool } from '../../src/dicom';
import { parseAiResultSr } from '../../src/report';
import { sampleFolders, samplesDir, startOrthanc, storescu, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { getJson, postJsonForBytes, resultSrs, startSidecar, studyMetadata, waitFor, type RunningSidecar, removeTempDirs } from './harness';

jest.setTimeout(120000);

let orthanc: OrthancServer;
let sidecar: RunningSidecar;

beforeAll(async () => {
  orthanc = await startOrthanc({ stableAge: 1 });
  sidecar = await startSidecar(orthanc);
});

afterAll(async () => {
  await sidecar?.service.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

async function imageStudies(): Promise<string[]> {
  const studies = await getJson<any[]>(orthanc, '/studies?expand');
  return studies.filter((s) => s.MainDicomTags.StudyDescription !== 'OFFIS Structured Reporting Test Document').map((s) => s.ID).sort();
}

test('samples pushed by C-STORE: exactly one SR per image study, metadata done with a priority; the SR-only study is skipped', async () => {
  await storescu(orthanc, sampleFolders());
  const studies = await waitFor('the sample studies', async () => {
    const all = await getJson<string[]>(orthanc, '/studies');
    return all.length === 7 ? all : null;
  });
  const images = await imageStudies();
  expect(images).toHaveLength(6);
  await waitFor('an SR in every image study', async () => {
    for (const id of images) if ((await resultSrs(orthanc, id)).length !== 1) return false;
    return true;
  }, 60000);
  // Our SRs make each study stable again; give that a round and make sure nothing new was written.
  await waitFor('the SR-triggered re-stable to be handled', () => sidecar.logs.filter((l) => l.event === 'study-unchanged').length >= 6, 30000);
  for (const id of images) {
    expect(await resultSrs(orthanc, id)).toHaveLength(1);
    const meta = await studyMetadata(orthanc, id);
    expect(meta['4701'] ?? meta.T3Status).toBe('done');
    expect(['routine', 'urgent', 'emergency']).toContain(meta['4702'] ?? meta.T3Priority);
    expect(meta['4704'] ?? meta.T3Sr).toBe((await resultSrs(orthanc, id))[0]);
  }
  const srOnly = studies.find((id) => !images.includes(id))!;
  expect(await resultSrs(orthanc, srOnly)).toHaveLength(0);
  expect((await studyMetadata(orthanc, srOnly))['4701']).toBe('skipped');
  // Every written result records its λ_B and the per-image predictions; re-stables with the same inputs publish nothing.
  const written = sidecar.events.filter((e) => e.result.sr);
  expect(written).toHaveLength(6);
  expect(written.every((e) => !e.result.sr!.reused)).toBe(true);
  for (const e of written) {
    expect(e.result.batchLambdas.length).toBeGreaterThan(0);
    expect(e.result.images.length).toBeGreaterThan(0);
    expect(e.result.triage).not.toBeNull();
  }
  // Event ids strictly increase.
  const ids = sidecar.events.map((e) => e.eventId);
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  expect(new Set(ids).size).toBe(ids.length);
});

test('a late image gives a new SR version that references its predecessor; a bad image is reported, the rest triaged', async () => {
  const mr = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_MR_small.dcm')); // AlreadyStored: analysed above
  
  const before = await resultSrs(orthanc, mr.ParentStudy);
  expect(before).toHaveLength(1);
  const firstSr = parseAiResultSr(new Uint8Array(await (await fetch(`${orthanc.url}/instances/${before[0]}/file`)).arrayBuffer()));

  // A second image of the same series (new SOP Instance UID), and a broken one whose Rows no longer match its pixels.
  const late = await postJsonForBytes(orthanc, `/instances/${mr.ID}/modify`, { Replace: { InstanceNumber: '2' }, Force: true });
  const broken = await postJsonForBytes(orthanc, `/instances/${mr.ID}/modify`, { Replace: { InstanceNumber: '3', Rows: '300' }, Force: true });
  const lateStored = await uploadFile(orthanc, late);
  const brokenStored = await uploadFile(orthanc, broken);
  expect(lateStored.ParentStudy).toBe(mr.ParentStudy);
  expect(brokenStored.ParentStudy).toBe(mr.ParentStudy);

  const after = await waitFor('a second SR', async () => {
    const srs = await resultSrs(orthanc, mr.ParentStudy);
    return srs.length === 2 ? srs : null;
  }, 60000);
  const newId = after.find((id) => id !== before[0])!;
  const second = parseAiResultSr(new Uint8Array(await (await fetch(`${orthanc.url}/instances/${newId}/file`)).arrayBuffer()));
  expect(second.predecessor?.sopInstanceUid).toBe(firstSr.sopInstanceUid);
  // The SR is stored first, the study metadata last.
  const meta = await waitFor('the study metadata to name the new SR', async () => {
    const m = await studyMetadata(orthanc, mr.ParentStudy);
    return m['4704'] === newId && m['4701'] === 'done' ? m : null;
  });
  expect(meta['4705']).toMatch(/1 image\(s\) not used/);

  const result = sidecar.events.map((e) => e.result).filter((r) => r.orthancStudyId === mr.ParentStudy && r.sr?.orthancInstanceId === newId)[0];
  expect(result.images.map((i) => i.name).sort()).toEqual([mr.ID, lateStored.ID].sort());
  expect(result.failedImages).toHaveLength(1);
  expect(result.failedImages[0].name).toBe(brokenStored.ID);
  expect(result.failedImages[0].code).toBe('pixel-length');
  expect(result.sr?.predecessorSopInstanceUid).toBe(firstSr.sopInstanceUid);
});

test('a forced re-run writes a new SR version that supersedes the last, whether or not changed rules decide differently', async () => {
  const sc = sidecar.service.sidecar;
  const ct = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_CT_small.dcm'));
  const first = await waitFor('the CT study to have its SR', async () => {
    const srs = await resultSrs(orthanc, ct.ParentStudy);
    const m = await studyMetadata(orthanc, ct.ParentStudy);
    return srs.length === 1 && m['4701'] === 'done' ? srs[0] : null;
  }, 60000);
  const firstSr = parseAiResultSr(new Uint8Array(await (await fetch(`${orthanc.url}/instances/${first}/file`)).arrayBuffer()));

  // The same rules: an explicit re-run is still an analysis of its own, recorded as a new version.
  const same = await sc.analyzeStudy({ orthancId: ct.ParentStudy }, { priority: 'stat', writeBack: true, force: true });
  expect(same.sr?.reused).toBe(false);
  expect(same.sr?.sopInstanceUid).not.toBe(firstSr.sopInstanceUid);
  expect(same.sr?.predecessorSopInstanceUid).toBe(firstSr.sopInstanceUid);
  expect(same.triage?.priority).toBe(firstSr.priority);
  expect(await resultSrs(orthanc, ct.ParentStudy)).toHaveLength(2);

  // A rule on the CT's top finding that the current priority does not match.
  const top = same.images[0].predictions[0];
  const priority = firstSr.priority === 'emergency' ? 'urgent' : 'emergency';
  const before = sc.getConfig().triage;
  await sc.updateConfig({ triage: { rules: [{ code: top.code.value, threshold: 0, priority }] } }, { dryRun: false });
  try {
    const rerun = await sc.analyzeStudy({ orthancId: ct.ParentStudy }, { priority: 'stat', writeBack: true, force: true });
    expect(rerun.triage?.priority).toBe(priority);
    const srs = await resultSrs(orthanc, ct.ParentStudy);
    expect(srs).toHaveLength(3);
    const third = parseAiResultSr(new Uint8Array(await (await fetch(`${orthanc.url}/instances/${rerun.sr!.orthancInstanceId}/file`)).arrayBuffer()));
    expect(third.priority).toBe(priority);
    expect(third.predecessor?.sopInstanceUid).toBe(same.sr!.sopInstanceUid);
    expect((await studyMetadata(orthanc, ct.ParentStudy))['4704']).toBe(rerun.sr!.orthancInstanceId);
  } finally {
    await sc.updateConfig({ triage: before }, { dryRun: false });
  }
});

// The retry schedule itself (delays, attempts, park) is tested with a manual clock in test/pipeline/job-runner.test.ts;
// here one attempt parks, so nothing waits on the machine's speed. The study is new to this test, so no earlier SR
// or replayed change of another test can finish it behind the test's back.
test('a failing study is parked in Orthanc\'s metadata, listed, and retryJob runs it again', async () => {
  const sc = sidecar.service.sidecar;
  const retry = sc.getConfig().retry;
  await sc.updateConfig({ inference: { onBadImage: 'fail-study' }, retry: { maxAttempts: 1 } }, { dryRun: false });
  const seed = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_MR_small.dcm'));
  const study = { StudyInstanceUID: '1.2.826.0.1.3680043.10.1234.77', SeriesInstanceUID: '1.2.826.0.1.3680043.10.1234.77.1' };
  const good = await uploadFile(orthanc, await postJsonForBytes(orthanc, `/instances/${seed.ID}/modify`, { Replace: { ...study, InstanceNumber: '1' }, Force: true }));
  // Rows no longer match the pixel data: this image cannot be used, and fail-study fails the whole study.
  await uploadFile(orthanc, await postJsonForBytes(orthanc, `/instances/${seed.ID}/modify`, { Replace: { ...study, InstanceNumber: '2', Rows: '300' }, Force: true }));
  const studyId = good.ParentStudy;

  const parked = await waitFor('the job to be parked', () => sc.listFailedJobs().find((j) => j.id === studyId && j.status === 'parked'), 60000);
  expect(parked.attempts).toBe(1);
  expect(parked.error).toMatch(/pixel-length/);
  // The job is parked in memory first, then in Orthanc's metadata.
  await waitFor('parked in the metadata', async () => (await studyMetadata(orthanc, studyId))['4701'] === 'parked', 10000);
  expect((await studyMetadata(orthanc, studyId))['4705']).toMatch(/pixel-length/);
  expect(await resultSrs(orthanc, studyId)).toHaveLength(0);

  await sc.updateConfig({ inference: { onBadImage: 'skip' }, retry }, { dryRun: false });
  const retried = await sc.retryJob(studyId);
  expect(retried.status).toBe('done');
  expect(retried.failedImages.map((f) => f.code)).toEqual(['pixel-length']);
  expect(sc.listFailedJobs().find((j) => j.id === studyId)).toBeUndefined();
  expect((await studyMetadata(orthanc, studyId))['4701']).toBe('done');
  expect(await resultSrs(orthanc, studyId)).toHaveLength(1);
});

test('updateConfig refuses invalid values naming the key and changes nothing', async () => {
  const sc = sidecar.service.sidecar;
  const before = sc.getConfig();
  await expect(sc.updateConfig({ triage: { rules: [{ code: 'x', threshold: 2, priority: 'urgent' }] } }, { dryRun: false })).rejects.toThrow(
    /T3\.triage\.rules\[0\]\.threshold/,
  );
  expect(sc.getConfig()).toEqual(before);
  const dry = await sc.updateConfig({ batching: { batchSize: 8 } }, { dryRun: true });
  expect(dry.config.batching.batchSize).toBe(8);
  expect(dry.applied).toBe(false);
  expect(sc.getConfig().batching.batchSize).toBe(before.batching.batchSize);
  // Connection settings are validated but only take effect after a restart: not shown as effective.
  const conn = await sc.updateConfig({ orthanc: { timeoutMs: 1234 }, retry: { maxAttempts: 4 } }, { dryRun: false });
  expect(conn.restartRequired).toEqual(['orthanc.timeoutMs']);
  expect(sc.getConfig().orthanc.timeoutMs).toBe(before.orthanc.timeoutMs);
  expect(sc.getConfig().retry.maxAttempts).toBe(4);
  await sc.updateConfig({ retry: { maxAttempts: before.retry.maxAttempts } }, { dryRun: false });
});

test('a study deleted before it is processed (404) is dropped without retry; gRPC-style analyze of it is refused', async () => {
  const sc = sidecar.service.sidecar;
  const gone = '11111111-22222222-33333333-44444444-55555555';
  await sc.handleStableStudy(gone); // resolves: nothing to retry
  expect(sidecar.logs.some((l) => l.event === 'study-gone' && l.fields.orthancStudyId === gone)).toBe(true);
  expect(sc.listFailedJobs().find((j) => j.id === gone)).toBeUndefined();
  await expect(sc.analyzeStudy({ orthancId: gone }, { priority: 'stat', writeBack: true })).rejects.toThrow(/not found/);
  await expect(sc.analyzeStudy({ studyInstanceUid: '1.2.3.4.5.6.7' }, { priority: 'stat', writeBack: true })).rejects.toThrow(/not found/);
});
