/**
 * Head-of-line blocking, end to end (issue 21, item 5): the time to flag a one-image study sent 1 s after the last
 * C-STORE of a 200-image study, beside the same study sent alone. `orthanc-t3 bench --head-of-line` runs it.
 *
 * A real Orthanc (Debian package, loopback, orthanc-config/ without the Python plugin, StableAge 1 s as the demo) and
 * the real sidecar (`startServeRuntime`, as `serve` and `demo` run it; batching defaults: 32 images, scope study)
 * following its change feed. Studies arrive by C-STORE from dcmtk's storescu. The images are generated here (CT-like
 * 512×512 12-bit Secondary Captures, new Study/Series/SOP UIDs per study), so nothing outside the repository is read.
 * Time to flag: from storescu's exit after the small study's last C-STORE to the sidecar's result for that study,
 * which it publishes once the SR and the triage metadata (T3Priority, T3Status done) are in Orthanc (checked).
 * Runs alternate alone / behind so machine load falls on both alike.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSidecarConfig } from '../src/config';
import { startServeRuntime, type ServeRuntime } from '../src/cli/serve';
import { newPixelArrayContext, pixelArrayToDicom } from '../src/dicom/secondary-capture';
import { sha256Hex } from '../src/engine';
import type { StudyResult } from '../src/pipeline';
import { ORTHANC_PLUGIN_DIR, repoRoot, startOrthanc, storescu, type OrthancServer } from '../test/helpers/orthanc-server';

export interface HeadOfLineOptions {
  /** Runs per mode (alone, behind), alternating. */
  reps: number;
  /** Images of the large study. */
  bigImages: number;
  /** From the large study's last C-STORE to the small study's first. */
  gapMs: number;
  pairs: { name: string; bundleDir: string }[];
  log(line: string): void;
  /** The sidecar's structured log lines on stderr (study ids only, no patient data). */
  verbose?: boolean;
}

export interface ModeFigures {
  n: number;
  p50Ms: number;
  p95Ms: number;
  /** Every run's time to flag, in run order. */
  ms: number[];
  /** Medians of the sidecar's own timings of the small study: last C-STORE → the follower hands over StableStudy. */
  p50SentToQueuedMs: number;
  p50QueueToStartMs: number;
  p50LoadMs: number;
  p50InferMs: number;
  p50WriteMs: number;
}

export interface PairFigures {
  alone: ModeFigures;
  behind: ModeFigures;
  /** behind p95 / alone p95 (issue 21's target on the demo pair: ≤ 1.5). */
  p95Ratio: number;
  p50Ratio: number;
  /** How long the large study took from its last C-STORE to its result (median). */
  bigStudyP50Ms: number;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** One CT-like slice: a disc of soft tissue in air with noise, 12 bits stored, rescale to HU. */
function ctSlice(index: number, seed: number): Uint8Array {
  const size = 512;
  const data = new Uint8Array(size * size * 2);
  const view = new DataView(data.buffer);
  let x = (seed * 2654435761 + index * 40503) >>> 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      const d = Math.hypot(r - 256, c - 256);
      const base = d < 200 ? 1064 + (d < 60 + (index % 40) ? 300 : 0) : 24;
      view.setUint16((r * size + c) * 2, Math.min(4095, base + (x >>> 27)), true);
    }
  }
  return data;
}

/** Writes one study of `n` generated images into `dir`; returns its Study Instance UID. */
async function writeStudy(dir: string, n: number, seed: number): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const context = newPixelArrayContext();
  for (let i = 0; i < n; i++) {
    const bytes = pixelArrayToDicom({
      rows: 512, columns: 512, samplesPerPixel: 1, photometricInterpretation: 'MONOCHROME2', bitsAllocated: 16, bitsStored: 12,
      signed: false, numberOfFrames: 1, data: ctSlice(i, seed), modality: 'CT', rescaleSlope: 1, rescaleIntercept: -1024,
      windowCenter: 40, windowWidth: 400,
    }, context, i);
    await fs.writeFile(path.join(dir, `${String(i).padStart(4, '0')}.dcm`), bytes);
  }
  return context.studyInstanceUid;
}

/**
 * A bundle folder for a bare generalist/expert pair (the bench's ViT-B pair has no bundle.json): links to the two
 * files and the manifest bench/pair-bundle.ts builds in memory for the engine bench.
 */
export async function writePairBundle(pairDir: string, into: string, size: number): Promise<string> {
  await fs.mkdir(into, { recursive: true });
  const sha256: Record<string, string> = {};
  for (const role of ['generalist', 'expert']) {
    const file = path.join(pairDir, `${role}.onnx`);
    await fs.rm(path.join(into, `${role}.onnx`), { force: true });
    await fs.symlink(path.resolve(file), path.join(into, `${role}.onnx`));
    sha256[role] = sha256Hex(await fs.readFile(file));
  }
  const classes = ['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((label) => ({ label, prompt: label, code: { value: label, scheme: '99BENCH', meaning: label } }));
  const manifest = {
    formatVersion: 1, name: 'bench-vit-b16', version: '0', modalities: [], demonstration: true,
    input: { name: 'pixel_values', width: size, height: size, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'bilinear' },
    output: { name: 'logits' }, classes, logitScale: 100, temperatures: { generalist: 1, expert: 1 },
    models: {
      generalist: { file: 'generalist.onnx', name: 'bench-vit-b16-generalist', version: '0', sha256: sha256.generalist },
      expert: { file: 'expert.onnx', name: 'bench-vit-b16-expert', version: '0', sha256: sha256.expert },
    },
  };
  await fs.writeFile(path.join(into, 'bundle.json'), JSON.stringify(manifest, null, 2));
  return into;
}

interface Setup {
  orthanc: OrthancServer;
  runtime: ServeRuntime;
  /** Resolves with the sidecar's first finished result of this study. */
  resultOf(studyInstanceUid: string, timeoutMs: number): Promise<{ result: StudyResult; at: number }>;
  stop(): Promise<void>;
}

async function startSetup(bundleDir: string, work: string, verbose: boolean): Promise<Setup> {
  const plugins = ['libOrthancGdcm.so', 'libOrthancDicomWeb.so'].map((p) => path.join(ORTHANC_PLUGIN_DIR, p));
  const present: string[] = [];
  for (const p of plugins) if (await fs.stat(p).then(() => true, () => false)) present.push(p);
  const orthanc = await startOrthanc({ configDir: path.join(repoRoot, 'orthanc-config'), stableAge: 1, overrides: { Plugins: present, StableAge: 1 } });
  const { config } = loadSidecarConfig({
    overrides: {
      orthanc: { url: orthanc.url },
      follower: { checkpointPath: path.join(work, 'checkpoint.json'), pollIntervalMs: 200 },
      bundles: [{ name: 'bench', dir: bundleDir }],
      routing: { rules: [], defaultBundle: 'bench' },
      inference: { executionProviders: ['cpu'] },
      grpc: { listen: '' },
      metrics: { listen: '' },
    },
  });
  const log = verbose ? (event: string, fields: Record<string, unknown>) => process.stderr.write(JSON.stringify({ time: Date.now(), event, ...fields }) + '\n') : () => undefined;
  const runtime = await startServeRuntime(config, { log });
  const seen = new Map<string, { result: StudyResult; at: number }>();
  const waiting = new Map<string, (r: { result: StudyResult; at: number }) => void>();
  runtime.service.sidecar.feed.subscribe((e) => {
    const at = Date.now();
    if (e.result.status !== 'done' || seen.has(e.result.studyInstanceUid)) return;
    const entry = { result: e.result, at };
    seen.set(e.result.studyInstanceUid, entry);
    waiting.get(e.result.studyInstanceUid)?.(entry);
  });
  return {
    orthanc,
    runtime,
    resultOf(uid, timeoutMs) {
      const known = seen.get(uid);
      if (known) return Promise.resolve(known);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no result for study ${uid} within ${timeoutMs} ms`)), timeoutMs);
        waiting.set(uid, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
      });
    },
    async stop() {
      await runtime.stop();
      await orthanc.stop({ removeWorkDir: true });
    },
  };
}

/** The study's triage metadata as Orthanc shows it (the result is published after it is written). */
async function checkFlagged(orthanc: OrthancServer, result: StudyResult): Promise<void> {
  const read = async (name: string) => {
    const res = await fetch(`${orthanc.url}/studies/${result.orthancStudyId}/metadata/${name}`);
    return res.ok ? (await res.text()).trim() : null;
  };
  const [status, priority] = [await read('T3Status'), await read('T3Priority')];
  if (status !== 'done' || !priority) throw new Error(`study ${result.orthancStudyId}: T3Status ${status}, T3Priority ${priority} after its result`);
}

async function deleteStudy(orthanc: OrthancServer, result: StudyResult): Promise<void> {
  await fetch(`${orthanc.url}/studies/${result.orthancStudyId}`, { method: 'DELETE' });
}

/** Where a study's time went, for the progress log: hand-over, start, load, inference, write-back (ms). */
function phases(r: StudyResult, sentAt: number): string {
  const queued = Date.parse(r.timings.queuedAt) - sentAt;
  const started = r.timings.startedAt ? Date.parse(r.timings.startedAt) - sentAt : NaN;
  return `queued +${queued}, started +${started}, load ${r.timings.loadMs}, infer ${r.timings.inferMs}, write ${r.timings.writeMs}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function modeFigures(runs: { ms: number; sentAt: number; result: StudyResult }[]): ModeFigures {
  const ms = runs.map((r) => r.ms);
  const t = (pick: (r: StudyResult) => number) => percentile(runs.map((r) => pick(r.result)), 50);
  return {
    n: ms.length,
    p50Ms: percentile(ms, 50),
    p95Ms: percentile(ms, 95),
    ms,
    p50SentToQueuedMs: percentile(runs.map((r) => Date.parse(r.result.timings.queuedAt) - r.sentAt), 50),
    p50QueueToStartMs: t((r) => (r.timings.startedAt ? Date.parse(r.timings.startedAt) - Date.parse(r.timings.queuedAt) : NaN)),
    p50LoadMs: t((r) => r.timings.loadMs),
    p50InferMs: t((r) => r.timings.inferMs),
    p50WriteMs: t((r) => r.timings.writeMs),
  };
}

async function benchPair(pair: { name: string; bundleDir: string }, options: HeadOfLineOptions): Promise<PairFigures> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-hol-'));
  const setup = await startSetup(pair.bundleDir, work, options.verbose === true);
  const alone: { ms: number; sentAt: number; result: StudyResult }[] = [];
  const behind: { ms: number; sentAt: number; result: StudyResult }[] = [];
  const bigMs: number[] = [];
  try {
    // A first study warms the engine (merged graph, sessions) and Orthanc; it is not counted.
    const warm = path.join(work, 'warm');
    const warmUid = await writeStudy(warm, 2, 999);
    await storescu(setup.orthanc, [warm]);
    await deleteStudy(setup.orthanc, (await setup.resultOf(warmUid, 600000)).result);
    for (let rep = 0; rep < options.reps; rep++) {
      const dir = path.join(work, `rep${rep}`);
      const soloUid = await writeStudy(path.join(dir, 'solo'), 1, rep * 3 + 1);
      const bigUid = await writeStudy(path.join(dir, 'big'), options.bigImages, rep * 3 + 2);
      const smallUid = await writeStudy(path.join(dir, 'small'), 1, rep * 3 + 3);

      // Alone.
      await storescu(setup.orthanc, [path.join(dir, 'solo')]);
      const soloSent = Date.now();
      const solo = await setup.resultOf(soloUid, 600000);
      await checkFlagged(setup.orthanc, solo.result);
      alone.push({ ms: solo.at - soloSent, sentAt: soloSent, result: solo.result });

      // Behind the large study: sent `gapMs` after its last C-STORE.
      await sleep(2500); // the SR just stored makes the study stable again: let that pass
      await storescu(setup.orthanc, [path.join(dir, 'big')]);
      const bigSent = Date.now();
      await sleep(options.gapMs);
      await storescu(setup.orthanc, [path.join(dir, 'small')]);
      const smallSent = Date.now();
      const small = await setup.resultOf(smallUid, 1800000);
      await checkFlagged(setup.orthanc, small.result);
      behind.push({ ms: small.at - smallSent, sentAt: smallSent, result: small.result });
      const big = await setup.resultOf(bigUid, 1800000);
      bigMs.push(big.at - bigSent);
      options.log(`[${pair.name}] run ${rep + 1}/${options.reps}: alone ${alone[rep].ms} ms (${phases(solo.result, soloSent)}), behind ${options.bigImages} images ` +
        `${behind[rep].ms} ms (${phases(small.result, smallSent)}); large study ${bigMs[rep]} ms (${phases(big.result, bigSent)})`);
      await sleep(2500);
      for (const r of [solo, small, big]) await deleteStudy(setup.orthanc, r.result);
      await fs.rm(dir, { recursive: true, force: true });
    }
  } finally {
    await setup.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
  const a = modeFigures(alone);
  const b = modeFigures(behind);
  return {
    alone: a,
    behind: b,
    p95Ratio: +(b.p95Ms / a.p95Ms).toFixed(3),
    p50Ratio: +(b.p50Ms / a.p50Ms).toFixed(3),
    bigStudyP50Ms: percentile(bigMs, 50),
  };
}

export async function runHeadOfLineBench(options: HeadOfLineOptions): Promise<Record<string, unknown>> {
  const pairs: Record<string, PairFigures> = {};
  for (const pair of options.pairs) {
    options.log(`[${pair.name}] head of line: ${options.reps} runs alone and behind a ${options.bigImages}-image study`);
    pairs[pair.name] = await benchPair(pair, options);
  }
  return {
    what: `time to flag (ms) a 1-image study from its last C-STORE to its result (SR, T3Priority, T3Status done in Orthanc), alone and sent ${options.gapMs} ms after the last C-STORE of a ${options.bigImages}-image study`,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', note: 'shared machine: compare the two modes of one run only' },
    reps: options.reps,
    pairs,
  };
}
