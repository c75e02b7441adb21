/**
 * Several sidecars on one PACS, for tests: PostgreSQL from Debian, Orthancs sharing its index and one storage folder,
 * and `orthanc-t3 serve` processes in shared coordination mode (real processes, so they can be killed and paused).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnServe } from '../helpers/serve-process';
import { samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { orthancOnPostgres, startPostgres, type PostgresServer } from './postgres-server';

/**
 * Runs an idempotent HTTP exchange again when the connection was dropped under it: Node's fetch may reuse a keep-alive
 * socket Orthanc has just closed ("other side closed"). Every call wrapped here is safe to repeat.
 */
export async function retrying<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const text = `${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`;
      if (i >= attempts || !/terminated|other side closed|fetch failed|ECONNRESET/i.test(text)) throw err;
      await new Promise((r) => setTimeout(r, 50 * i));
    }
  }
}

export interface SidecarProcess {
  name: string;
  child: ChildProcess;
  lines: { time: number; event: string; [k: string]: unknown }[];
  exited: Promise<number | null>;
}

export interface Cluster {
  pg: PostgresServer;
  orthancs: OrthancServer[];
  storage: string;
  work: string;
  sidecars: SidecarProcess[];
  startSidecar(name: string, orthanc: OrthancServer, t3: Record<string, unknown>): SidecarProcess;
  stop(): Promise<void>;
}

export async function startCluster(orthancCount: number, stableAge = 1): Promise<Cluster> {
  const pg = await startPostgres();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 't3-cluster-'));
  const storage = path.join(work, 'storage');
  fs.mkdirSync(storage);
  const orthancs: OrthancServer[] = [];
  try {
    // One after the other: the first creates the schema.
    for (let i = 0; i < orthancCount; i++) orthancs.push(await startOrthanc({ stableAge, overrides: orthancOnPostgres(pg, `orthanc-${i}`, storage) }));
  } catch (err) {
    for (const o of orthancs) await o.stop({ removeWorkDir: true });
    await pg.stop();
    throw err;
  }
  const sidecars: SidecarProcess[] = [];
  return {
    pg,
    orthancs,
    storage,
    work,
    sidecars,
    startSidecar(name, orthanc, t3) {
      const configFile = path.join(work, `${name}.json`);
      const section = {
        orthanc: { url: orthanc.url, timeoutMs: 15000 },
        follower: { checkpointPath: path.join(work, `${name}-checkpoint.json`), pollIntervalMs: 200, maxBackoffMs: 1000 },
        inference: { executionProviders: ['cpu'] },
        retry: { maxAttempts: 5, initialDelayMs: 300, maxDelayMs: 2000 },
        grpc: { listen: '' },
        metrics: { listen: '' },
        ...t3,
      };
      fs.writeFileSync(configFile, JSON.stringify({ T3: section }));
      const { child, lines, exited } = spawnServe(configFile);
      const proc = { name, child, lines, exited };
      sidecars.push(proc);
      return proc;
    },
    async stop() {
      for (const s of sidecars) {
        if (s.child.exitCode === null && s.child.signalCode === null) {
          s.child.kill('SIGCONT');
          s.child.kill('SIGKILL');
        }
      }
      for (const o of orthancs) await o.stop({ removeWorkDir: true });
      await pg.stop();
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * `count` studies made from one sample (new Study/Series/SOP UIDs through Orthanc's /modify, not stored), each with
 * `imagesPerStudy` instances.
 */
export async function makeStudies(orthanc: OrthancServer, count: number, imagesPerStudy: number, tag: number, sample = 'pydicom_CT_small.dcm'): Promise<Uint8Array[][]> {
  const seedBytes = fs.readFileSync(path.join(samplesDir, sample));
  const seed = await retrying(() => uploadFile(orthanc, seedBytes));
  const studies: Uint8Array[][] = [];
  for (let s = 0; s < count; s++) {
    const images: Uint8Array[] = [];
    for (let i = 0; i < imagesPerStudy; i++) {
      const bytes = await retrying(async () => {
        const res = await fetch(`${orthanc.url}/instances/${seed.ID}/modify`, {
          method: 'POST',
          body: JSON.stringify({
            Replace: {
              StudyInstanceUID: `1.2.826.0.1.3680043.10.${tag}.${s + 1}`,
              SeriesInstanceUID: `1.2.826.0.1.3680043.10.${tag}.${s + 1}.1`,
              SOPInstanceUID: `1.2.826.0.1.3680043.10.${tag}.${s + 1}.1.${i + 1}`,
              InstanceNumber: String(i + 1),
            },
            Force: true,
          }),
        });
        if (!res.ok) throw new Error(`modify: ${res.status} ${await res.text()}`);
        return new Uint8Array(await res.arrayBuffer());
      });
      images.push(bytes);
    }
    studies.push(images);
  }
  // The seed study is not part of the workload.
  await retrying(() => fetch(`${orthanc.url}/studies/${seed.ParentStudy}`, { method: 'DELETE' }));
  return studies;
}

/** Uploads `items` with `parallel` uploads at a time. */
export async function uploadAll(items: { orthanc: OrthancServer; bytes: Uint8Array }[], parallel = 6): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await retrying(() => uploadFile(item.orthanc, item.bytes));
    }
  }));
}

export async function json<T = any>(orthanc: OrthancServer, p: string): Promise<T> {
  return retrying(async () => {
    const res = await fetch(orthanc.url + p);
    if (!res.ok) throw new Error(`GET ${p}: ${res.status}`);
    return (await res.json()) as T;
  });
}

/** Per study: its AI-result SR count and T3Status. */
export async function studyOutcomes(orthanc: OrthancServer): Promise<Map<string, { srs: number; status: string | null }>> {
  const ids = await json<string[]>(orthanc, '/studies');
  const out = new Map<string, { srs: number; status: string | null }>();
  for (const id of ids) {
    const series = await json<any[]>(orthanc, `/studies/${id}/series`);
    const srs = series.filter((s) => s.MainDicomTags.Manufacturer === 'orthanc-t3').reduce((n, s) => n + s.Instances.length, 0);
    const meta = await json<Record<string, string>>(orthanc, `/studies/${id}/metadata?expand`);
    out.set(id, { srs, status: meta['4701'] ?? meta.T3Status ?? null });
  }
  return out;
}
