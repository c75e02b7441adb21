/**
 * Claims on study metadata with revisions, against two real Orthancs sharing a PostgreSQL index: exactly one winner
 * per race, a live lease blocks, an expired one is taken over and its old holder finds out at its next renewal,
 * release lets the next worker in. On Orthanc's SQLite index shared mode is refused with a message saying why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OrthancClient, StudyClaims, ClaimsUnsupportedError, parseOrthancTimestamp, CLAIM_METADATA } from '../../src/orthanc';
import { samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { startCluster, type Cluster } from './cluster';
import { postgresAvailable } from './postgres-server';

jest.setTimeout(120000);

let cluster: Cluster | null = null;
let sqlite: OrthancServer | null = null;

afterAll(async () => {
  await cluster?.stop();
  await sqlite?.stop({ removeWorkDir: true });
});

const client = (o: OrthancServer) => new OrthancClient({ url: o.url, username: null, password: null, timeoutMs: 10000 });

test('Orthanc timestamps are read as UTC with 1 s resolution', () => {
  expect(parseOrthancTimestamp('20261123T014142')).toBe(Date.UTC(2026, 10, 23, 1, 41, 42));
  expect(parseOrthancTimestamp('2026-11-23')).toBeNull();
});

(postgresAvailable() ? describe : describe.skip)('on PostgreSQL with two Orthancs', () => {
  let study: string;
  let a: OrthancServer;
  let b: OrthancServer;

  beforeAll(async () => {
    cluster = await startCluster(2);
    [a, b] = cluster.orthancs;
    study = (await uploadFile(a, fs.readFileSync(path.join(samplesDir, 'pydicom_CT_small.dcm')))).ParentStudy;
  });

  test('racing workers on two Orthancs: exactly one wins each round', async () => {
    const workers = [
      new StudyClaims(client(a), { workerId: 'w1', leaseMs: 60000 }),
      new StudyClaims(client(b), { workerId: 'w2', leaseMs: 60000 }),
      new StudyClaims(client(a), { workerId: 'w3', leaseMs: 60000 }),
    ];
    for (let round = 0; round < 15; round++) {
      const attempts = await Promise.all(workers.map((w) => w.acquire(study)));
      const winners = attempts.filter((x) => x.won);
      expect(winners).toHaveLength(1);
      for (const lost of attempts.filter((x) => !x.won)) {
        if (!lost.won) expect(['w1', 'w2', 'w3', '(contended)']).toContain(lost.holder);
      }
      const w = winners[0];
      if (w.won) await w.claim.release();
    }
    // Released: nothing left behind.
    expect(await client(a).getTextWithEtag(`/studies/${study}/metadata/${CLAIM_METADATA.index}`)).toBeNull();
  });

  test('a live lease blocks; an expired one is taken over and its holder learns it has lost it', async () => {
    let skew = -120000; // w1's clock is two minutes behind: its lease is already over for everybody else
    const w1 = new StudyClaims(client(a), { workerId: 'w1', leaseMs: 60000, now: () => Date.now() + skew });
    const w2 = new StudyClaims(client(b), { workerId: 'w2', leaseMs: 60000 });
    const first = await w1.acquire(study);
    expect(first.won).toBe(true);
    const taken = await w2.acquire(study);
    expect(taken.won && taken.tookOverFrom).toBe('w1');
    if (!first.won || !taken.won) throw new Error('unreachable');
    // w1 renews with the revision it wrote: refused, the claim is lost, and w1 never deletes w2's claim.
    expect(await first.claim.confirm()).toBe(false);
    expect(first.claim.lost).toBe(true);
    await first.claim.release();
    skew = 0;
    const blocked = await w1.acquire(study);
    expect(blocked).toMatchObject({ won: false, holder: 'w2' });
    expect(await taken.claim.confirm()).toBe(true);
    await taken.claim.release();
    const again = await w1.acquire(study);
    expect(again.won).toBe(true);
    if (again.won) await again.claim.release();
  });
});

test('on the SQLite index shared mode is refused, naming the setting', async () => {
  sqlite = await startOrthanc({ overrides: { CheckRevisions: true } });
  const study = (await uploadFile(sqlite, fs.readFileSync(path.join(samplesDir, 'pydicom_CT_small.dcm')))).ParentStudy;
  const claims = new StudyClaims(client(sqlite), { workerId: 'w1', leaseMs: 5000 });
  await expect(claims.acquire(study)).rejects.toThrow(ClaimsUnsupportedError);
  await expect(claims.acquire(study)).rejects.toThrow(/SQLite index/);
});
