/**
 * ChangeFollower against a real Orthanc with hooks of the test's own: backpressure pauses reading, the checkpoint is
 * the low-watermark of unfinished studies, deleted studies leave gaps that need nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ChangeFollower, CheckpointStore, OrthancClient } from '../../src/orthanc';
import { samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { makeTempDir, removeTempDirs, waitFor } from './harness';

jest.setTimeout(60000);

let orthanc: OrthancServer;
beforeAll(async () => {
  orthanc = await startOrthanc({ stableAge: 1 });
});
afterAll(async () => {
  await orthanc?.stop({ removeWorkDir: true });
  removeTempDirs();
});

test('busy pauses the follower; the checkpoint stays below a study until its work is finished', async () => {
  const cpFile = path.join(makeTempDir('t3-follow-'), 'cp.json');
  const checkpoint = new CheckpointStore(cpFile);
  let busy = true;
  const seen: { id: string; seq: number; finish: () => void }[] = [];
  const follower = new ChangeFollower(new OrthancClient({ url: orthanc.url, username: null, password: null, timeoutMs: 5000 }), checkpoint, { pollIntervalMs: 100, changesLimit: 10, maxBackoffMs: 500 }, {
    onStableStudy: (id, seq) => new Promise<void>((resolve) => seen.push({ id, seq, finish: resolve })),
    isBusy: () => busy,
  });
  await follower.start();
  const ct = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_CT_small.dcm'));
  await waitFor('the study to become stable', async () => {
    const s = (await (await fetch(`${orthanc.url}/studies/${ct.ParentStudy}`)).json()) as { IsStable: boolean };
    return s.IsStable;
  });
  await new Promise((r) => setTimeout(r, 500));
  expect(follower.state).toBe('paused');
  expect(seen).toHaveLength(0);

  busy = false;
  const handed = await waitFor('the StableStudy to be handed over', () => seen[0]);
  expect(handed.id).toBe(ct.ParentStudy);
  await waitFor('the change log to be read to its end', () => follower.position.cursor > handed.seq);
  await follower.flush();
  expect(await checkpoint.load()).toBe(handed.seq - 1); // unfinished: the checkpoint stays below it

  handed.finish();
  await waitFor('the checkpoint to pass the study', async () => (await checkpoint.load()) >= handed.seq);

  // A study deleted before its StableStudy was read: its entries leave the log (a gap), nothing is handed over.
  busy = true;
  const mr = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_MR_small.dcm'));
  await new Promise((r) => setTimeout(r, 2500));
  await fetch(`${orthanc.url}/studies/${mr.ParentStudy}`, { method: 'DELETE' });
  busy = false;
  await new Promise((r) => setTimeout(r, 800));
  expect(seen.map((s) => s.id)).toEqual([ct.ParentStudy]);
  await follower.stop();
  const last = (await (await fetch(`${orthanc.url}/changes?limit=0`)).json()) as { Last: number };
  expect(await checkpoint.load()).toBe(last.Last);
});

test('HTTP Basic authentication: the client sends the Authorization header; without it Orthanc refuses', async () => {
  const secured = await startOrthanc({ credentials: { username: 't3', password: 'secret-pass' } });
  try {
    const ok = new OrthancClient({ url: secured.url, username: 't3', password: 'secret-pass', timeoutMs: 5000 });
    expect((await ok.system()).Version).toBe('1.10.1');
    const stored = await ok.storeInstance(new Uint8Array(fs.readFileSync(path.join(samplesDir, 'pydicom_CT_small.dcm'))));
    expect(stored.Status).toBe('Success');
    const anonymous = new OrthancClient({ url: secured.url, username: null, password: null, timeoutMs: 5000 });
    await expect(anonymous.system()).rejects.toMatchObject({ name: 'OrthancError', status: 401, transient: false });
  } finally {
    await secured.stop({ removeWorkDir: true });
  }
});
