/**
 * The change-feed follower against a real Orthanc that goes away: Orthanc down then up (same storage), the sidecar
 * restarted on its saved checkpoint, and Orthanc's database reset (Last below the checkpoint).
 */
import fs from 'node:fs';
import path from 'node:path';
import { closeSharedFramePool } from '../../src/dicom';
import { CheckpointStore } from '../../src/orthanc';
import { restartOrthanc, samplePath, samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { resultSrs, startSidecar, waitFor, type RunningSidecar, removeTempDirs } from './harness';

jest.setTimeout(120000);

let orthanc: OrthancServer;
let sidecar: RunningSidecar | null = null;

afterAll(async () => {
  await sidecar?.service.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

async function oneSr(studyId: string): Promise<string> {
  return waitFor(`an SR in ${studyId}`, async () => {
    const srs = await resultSrs(orthanc, studyId);
    return srs.length === 1 ? srs[0] : null;
  }, 40000);
}

test('Orthanc down, then up on the same storage: the follower backs off, recovers, and nothing is lost or duplicated', async () => {
  orthanc = await startOrthanc({ stableAge: 1 });
  sidecar = await startSidecar(orthanc);
  const ct = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_CT_small.dcm'));
  await oneSr(ct.ParentStudy);

  await orthanc.stop();
  await waitFor('the follower to notice', () => sidecar!.service.follower.state === 'orthanc-down', 10000);
  await new Promise((r) => setTimeout(r, 2500)); // several capped backoff rounds
  // Logged once per distinct problem, not per retry (a lasting one repeats only every follower.problemRepeatMs, 30 s
  // by default): Orthanc stopping may first reset a connection (ECONNRESET), then refuses them.
  const problems = sidecar.logs.filter((l) => l.event === 'orthanc-problem');
  expect(problems.length).toBeGreaterThanOrEqual(1);
  expect(problems.length).toBeLessThanOrEqual(2);
  expect(problems[problems.length - 1].fields).toMatchObject({ problem: 'connection-refused', setting: 'T3.orthanc.url (T3_ORTHANC_URL)' });
  orthanc = await restartOrthanc(orthanc, { stableAge: 1 });

  const mr = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_MR_small.dcm'));
  await oneSr(mr.ParentStudy);
  expect(sidecar.logs.some((l) => l.event === 'orthanc-reachable')).toBe(true);
  expect(sidecar.service.follower.stats.orthancErrors).toBeGreaterThan(1);
  await new Promise((r) => setTimeout(r, 2500));
  expect(await resultSrs(orthanc, ct.ParentStudy)).toHaveLength(1);
  expect(await resultSrs(orthanc, mr.ParentStudy)).toHaveLength(1);
});

test('the checkpoint survives a restart of the sidecar: finished work is not replayed, new work is done', async () => {
  const running = sidecar!;
  await running.service.stop();
  sidecar = null;
  const saved = await new CheckpointStore(running.checkpointPath).load();
  const last = (await (await fetch(`${orthanc.url}/changes?limit=0`)).json()) as { Last: number };
  expect(saved).toBeGreaterThan(0);
  expect(saved).toBeLessThanOrEqual(last.Last);

  sidecar = await startSidecar(orthanc, {}, running.checkpointPath);
  expect(sidecar.service.follower.position.cursor).toBeGreaterThanOrEqual(saved);
  const us = await uploadFile(orthanc, samplePath('octave_US-PAL-8-10x-echo.dcm'));
  await oneSr(us.ParentStudy);
  await new Promise((r) => setTimeout(r, 2500));
  // Only the new study went through the restarted sidecar.
  expect(new Set(sidecar.events.map((e) => e.result.orthancStudyId))).toEqual(new Set([us.ParentStudy]));
});

test('a reset Orthanc database (change log behind the checkpoint) makes the follower start over at 0', async () => {
  const cp = sidecar!.checkpointPath;
  await sidecar!.service.stop();
  sidecar = null;
  const before = await new CheckpointStore(cp).load();
  await orthanc.stop();
  fs.rmSync(path.join(orthanc.workDir, 'storage'), { recursive: true, force: true });
  orthanc = await restartOrthanc(orthanc, { stableAge: 1 });
  sidecar = await startSidecar(orthanc, {}, cp);
  await waitFor('the reset to be seen', () => sidecar!.logs.some((l) => l.event === 'orthanc-database-reset'), 10000);
  expect(sidecar.service.follower.stats.resets).toBe(1);
  const mr = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_MR_small.dcm'));
  await oneSr(mr.ParentStudy);
  await sidecar.service.follower.flush();
  expect(await new CheckpointStore(cp).load()).toBeLessThan(before);
});
