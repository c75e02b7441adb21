/**
 * `orthanc-t3 serve` as a real process: kill -9 in the middle of a run, start it again on the same checkpoint, and
 * every study still ends with exactly one SR (none lost, none doubled). Then SIGTERM: drains and exits 0.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { spawnServe, type ServeProcess } from '../helpers/serve-process';
import { samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { getJson, makeTempDir, postJsonForBytes, removeTempDirs, resultSrs, waitFor } from './harness';

jest.setTimeout(180000);

let orthanc: OrthancServer;
let work: string;
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await orthanc?.stop({ removeWorkDir: true });
  removeTempDirs();
});

type Serve = ServeProcess;

function serve(configFile: string): Serve {
  const started = spawnServe(configFile);
  children.push(started.child);
  return started;
}

test('kill -9 mid-run, restart: every study ends with exactly one SR; SIGTERM drains and exits 0', async () => {
  orthanc = await startOrthanc({ stableAge: 1 });
  work = makeTempDir('t3-crash-');
  const configFile = path.join(work, 't3.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      T3: {
        orthanc: { url: orthanc.url, timeoutMs: 10000 },
        follower: { checkpointPath: 'checkpoint.json', pollIntervalMs: 150 },
        inference: { executionProviders: ['cpu'] },
        batching: { batchSize: 4 },
        grpc: { listen: '' },
      },
    }),
  );
  // 12 one-image studies: copies of two samples with new Study/Series/SOP Instance UIDs.
  const seeds = [await uploadFile(orthanc, path.join(samplesDir, 'pydicom_CT_small.dcm')), await uploadFile(orthanc, path.join(samplesDir, 'pydicom_MR_small.dcm'))];
  const copies: Uint8Array[] = [];
  for (let i = 0; i < 10; i++) {
    const seed = seeds[i % 2];
    copies.push(await postJsonForBytes(orthanc, `/instances/${seed.ID}/modify`, { Replace: { StudyInstanceUID: `1.2.826.0.1.3680043.10.1234.${i + 1}`, SeriesInstanceUID: `1.2.826.0.1.3680043.10.1234.${i + 1}.1` }, Force: true }));
  }
  const first = serve(configFile);
  await waitFor('the first serve to start', () => first.lines.some((l) => l.event === 'serving'), 60000);
  for (const c of copies) await uploadFile(orthanc, c);
  const studies = await getJson<string[]>(orthanc, '/studies');
  expect(studies).toHaveLength(12);
  await waitFor('a few studies done', () => first.lines.filter((l) => l.event === 'study-done').length >= 3, 60000, 20);
  first.child.kill('SIGKILL');
  expect(await first.exited).toBeNull();
  const doneBefore = first.lines.filter((l) => l.event === 'study-done').length;
  expect(doneBefore).toBeLessThan(24); // killed before every study (and its re-stable) was handled

  const second = serve(configFile);
  await waitFor('every study to have its SR', async () => {
    for (const id of studies) if ((await resultSrs(orthanc, id)).length < 1) return false;
    return true;
  }, 90000, 500);
  await new Promise((r) => setTimeout(r, 3000)); // let the SR-triggered re-stables pass
  for (const id of studies) expect(await resultSrs(orthanc, id)).toHaveLength(1);

  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
  expect(second.lines.some((l) => l.event === 'stopped')).toBe(true);
  const checkpoint = JSON.parse(fs.readFileSync(path.join(work, 'checkpoint.json'), 'utf8')) as { seq: number };
  expect(checkpoint.seq).toBeGreaterThan(0);
});
