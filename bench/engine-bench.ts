// The engine benchmark (`orthanc-t3 bench`, `npm run bench`): throughput of T3B (fixed passes on the merged graph,
// on plain sessions, λ_B from a sample) against a single plain model and against the naive per-batch session
// rebuild, the peak RSS of each configuration, session start times. Ratios are what to compare: the machines are
// shared, absolute figures vary ±10 % between runs.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { computeBatchCoefficients, DEFAULT_SEQUENTIAL_SETTINGS, DEFAULT_SERIES_REUSE_SETTINGS, defaultPolicyConfig, type PolicyConfig } from '../src/t3';
import {
  InferenceWorker,
  T3Engine,
  demoBundleDir,
  getMergedModelFile,
  getQuantizedModelFile,
  ESTIMATION_QUANTIZE_OPTIONS,
  loadBundle,
  spreadCoefficientSample,
  resolveIntraOpThreads,
  type MergedGraphForm,
  type ModelBundle,
} from '../src/engine';
import { LambdaBaker } from './bake-lambda';
import { pairBundle } from './pair-bundle';

export interface EngineBenchOptions {
  batchSizes: number[];
  /** Timed repetitions per measurement on the demo bundle. */
  reps: number;
  /** Timed repetitions per measurement on the ViT-B/16-sized pair (each is seconds long on a CPU). */
  vitReps: number;
  /** Stop repeating a measurement once it has taken this long (at least one repetition always runs). */
  maxSecondsPerMeasure: number;
  skipVit: boolean;
  skipDemo: boolean;
  intraOpThreads?: number;
  /** Reuse a ViT-B pair generated earlier (generalist.onnx, expert.onnx) instead of generating one. */
  vitDir?: string;
  log: (line: string) => void;
}

export const DEFAULT_ENGINE_BENCH_OPTIONS: Omit<EngineBenchOptions, 'log'> = {
  batchSizes: [1, 8, 32], reps: 5, vitReps: 1, maxSecondsPerMeasure: 60, skipVit: false, skipDemo: false,
};

/** imagesPerSecond and msPerBatch from the median run; meanMsPerBatch over all runs. */
interface Throughput { imagesPerSecond: number; msPerBatch: number; meanMsPerBatch: number; runs: number; }
/**
 * plainSingle: one plain session, one pass. mergedPass: one pass of the lerp-form merged graph at λ=0.5 (what the
 * in-graph merge costs when the merged session serves every pass). mergedPassOffset: the same on the offset-form graph
 * that runs beside plain sessions (merged-graph.ts). t3bMergedFixed: T3B with the fixed passes on the merged graph (fixedPassSessions: merged).
 * t3bPlainFixed: T3B with the fixed passes on plain sessions (plain). t3bSampledK: plain fixed passes on K images of
 * the batch (batching.coefficientSample = K), merged pass on all. naiveT3b: two plain sessions and a session
 * rebuilt at λ_B per batch. t3bGrouped: grouped T3B on the t3bPlainFixed engine with its step at the batch's median JS,
 * so every batch splits into two halves and runs two merged passes (its cost when it does split). t3bInt8Fixed: T3B on
 * the t3bPlainFixed engine with its two estimation passes on the int8 copies of the models (estimationPrecision int8,
 * quantized-estimation.ts). int8Single: one pass of the generalist's int8 copy on a session like plainSingle's.
 * t3bSequentialInt8: t3bSequential (below) on an engine of its own whose estimation passes are int8 (the two combined).
 * t3bSequential: T3B on the t3bPlainFixed engine with λ_B by sequential sampling (t3.estimators.sequential, default
 * settings); on the bench's random images and the paper's gentle map it decides at its first look (8 images) at
 * batch 32, so this is its cost when it decides early; at batch 8 that first look is the whole batch (full T3B's passes). t3bSeriesReuse: series reuse with the check passing (2 check images, the batch's
 * own full λ_B stored): its cost on a batch that reuses. What either costs on real streams follows from the passes per
 * image that bench/estimator-accuracy.ts measures (docs/LAMBDA-ESTIMATORS.md). t3bGroupedSequential: grouped T3B by
 * series (minGroupSize 8, maxGroups 2) on a batch of two interleaved series, each group's λ by sequential sampling
 * (default settings): a mixed batch, deciding at each group's first look (8 images) at batch 32; at batch 8 neither
 * series reaches 8 images, so it is one group estimated from all 8. t3bGroupedSequentialInt8: the same on the int8 engine.
 * t3bGroupedSeriesReuse: the same two-series batch with series reuse per group, both series' own grouped λ stored, so
 * each group's 2-image check passes: the cost of a mixed batch of two long series that reuses.
 */
type Flow = 'plainSingle' | 'mergedPass' | 'mergedPassOffset' | 't3bMergedFixed' | 't3bPlainFixed' | 't3bGrouped' | 't3bSampled2' | 't3bSampled4' | 't3bSampled8' | 'naiveT3b'
  | 't3bInt8Fixed' | 'int8Single' | 't3bSequential' | 't3bSeriesReuse' | 't3bSequentialInt8' | 't3bGroupedSequential' | 't3bGroupedSequentialInt8'
  | 't3bGroupedSeriesReuse';
const ALL_FLOWS: Flow[] = ['plainSingle', 'mergedPass', 'mergedPassOffset', 't3bMergedFixed', 't3bPlainFixed', 't3bGrouped', 't3bSampled2', 't3bSampled4', 't3bSampled8', 'naiveT3b',
  't3bInt8Fixed', 'int8Single', 't3bSequential', 't3bSeriesReuse', 't3bSequentialInt8', 't3bGroupedSequential', 't3bGroupedSequentialInt8', 't3bGroupedSeriesReuse'];
/**
 * ORTHANC_T3_BENCH_FLOWS=a,b,… times only those flows (plainSingle, every ratio's reference, always runs): a ViT-B run
 * of every flow at batch 32 takes most of an hour on two cores.
 */
const FLOWS: Flow[] = process.env.ORTHANC_T3_BENCH_FLOWS
  ? ALL_FLOWS.filter((flow) => flow === 'plainSingle' || process.env.ORTHANC_T3_BENCH_FLOWS!.split(',').includes(flow))
  : ALL_FLOWS;
/** Samples of 2 and 8 are measured at the largest batch only (the k = 2, 4, 8 comparison at B = 32). */
const LARGEST_BATCH_ONLY: Flow[] = ['t3bSampled2', 't3bSampled8'];

/** Peak RSS configurations, each measured in a child process of its own. */
type RssConfig = 'plainSession' | 'mergedSession' | 'engineMergedFixed' | 'enginePlainFixed' | 'naive';

interface PairSummary {
  name: string;
  parameters: number | null;
  inputSize: number;
  mergedModel: { buildMs: number | null; offsetBuildMs: number | null; mergedInitializers: number; sharedInitializers: number; outputMB: number };
  /** The generalist's int8 copy (quantized-model.ts): build time, integer nodes, size. */
  quantizedModel: { buildMs: number; matMuls: number; gemms: number; convs: number; outputMB: number };
  sessionStartMs: { plain: number; merged: number; enginePlainFixed: number; engineMergedFixed: number; naivePlainPair: number };
  /** Peak RSS (MB) per configuration; sampled T3B uses the enginePlainFixed sessions. */
  peakRssMB: Record<RssConfig, number>;
  /** Peak RSS per flow of the throughput table (the configuration each flow runs on; the int8 flows have no probe). */
  flowPeakRssMB: Partial<Record<Flow, number>>;
  throughput: Record<string, Partial<Record<Flow, Throughput>>>;
  /** Each flow's images/s over plainSingle's, per batch size. */
  overSingle: Record<string, Partial<Record<Flow, number>>>;
  ratios: {
    t3bPlainFixedOverSingleAtBatch1: number | null;
    t3bPlainFixedOverSingleAtBatch8: number | null;
    t3bSampled4OverSingleAtBatch32: number | null;
    t3bGroupedOverT3bAtBatch8: number | null;
    t3bGroupedOverT3bAtBatch32: number | null;
    t3bGroupedSequentialOverSingleAtBatch32: number | null;
    t3bGroupedSequentialInt8OverSingleAtBatch32: number | null;
    t3bGroupedSeriesReuseOverSingleAtBatch32: number | null;
    t3bInt8FixedOverSingleAtBatch8: number | null;
    t3bInt8FixedOverSingleAtBatch32: number | null;
    t3bInt8FixedOverT3bPlainFixedAtBatch32: number | null;
    int8SingleOverPlainSingleAtBatch8: number | null;
    int8SingleOverPlainSingleAtBatch32: number | null;
    mergedPassOverPlainPassAtBatch1: number | null;
    mergedPassOffsetOverPlainPassAtBatch1: number | null;
    t3bPlainFixedOverNaiveAtBatch1: number | null;
    plainFixedRssOverPlain: number;
    mergedFixedRssOverPlain: number;
    /** The engine with `merged` fixed passes against its merged session alone: what the engine adds. */
    mergedFixedRssOverMergedSession: number;
  };
}

const FLOW_RSS: Partial<Record<Flow, RssConfig>> = {
  plainSingle: 'plainSession', mergedPass: 'mergedSession', mergedPassOffset: 'enginePlainFixed', t3bMergedFixed: 'engineMergedFixed', t3bPlainFixed: 'enginePlainFixed',
  t3bGrouped: 'enginePlainFixed', t3bSampled2: 'enginePlainFixed', t3bSampled4: 'enginePlainFixed', t3bSampled8: 'enginePlainFixed', naiveT3b: 'naive',
  t3bSequential: 'enginePlainFixed', t3bSeriesReuse: 'enginePlainFixed', t3bGroupedSequential: 'enginePlainFixed', t3bGroupedSeriesReuse: 'enginePlainFixed',
};

function randomPixels(count: number, size: number, seed: number): Float32Array {
  const out = new Float32Array(count * 3 * size * size);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/** Pause before each timed run, longer than ONNX Runtime's spin-then-sleep of idle intra-op threads. */
const QUIET_MS_BEFORE_RUN = 100;

/**
 * Times every flow at one batch size, interleaved (flow A, B, C…, then again), so the load that other processes put
 * on a shared machine falls on all flows alike. images/s comes from the median run time, which a burst of load on
 * one repetition does not move. A flow stops repeating once its own time passes maxSeconds; each runs at least once.
 * Each timed run is preceded by an untimed one-image run of the same flow (`warm`): the flows run on different
 * sessions, and the first run on sessions after another engine's was consistently slower (T3B with plain fixed
 * passes read 0.29–0.31× single at batch 1 right after the merged-fixed engine, the same work one slot later
 * 0.32–0.33×), whereas a serving engine runs its batches back to back. Each repetition also starts with a different
 * flow, and each timed run starts after a pause.
 */
async function measureInterleaved<K extends string>(flows: Record<K, () => Promise<unknown>>, warm: Partial<Record<K, () => Promise<unknown>>>,
  reps: number, maxSeconds: number, batch: number): Promise<Record<K, Throughput>> {
  const names = Object.keys(flows) as K[];
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const spent = (n: K) => times[n].reduce((a, b) => a + b, 0);
  for (let rep = 0; rep < reps; rep++) {
    for (let slot = 0; slot < names.length; slot++) {
      const name = names[(slot + rep) % names.length];
      if (times[name].length > 0 && spent(name) > maxSeconds * 1000) continue;
      await warm[name]?.();
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS_BEFORE_RUN));
      const started = performance.now();
      await flows[name]();
      times[name].push(performance.now() - started);
    }
  }
  return Object.fromEntries(names.map((n) => {
    const sorted = [...times[n]].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return [n, { imagesPerSecond: round(batch / (median / 1000), 3), msPerBatch: round(median, 1), meanMsPerBatch: round(spent(n) / sorted.length, 1), runs: sorted.length }];
  })) as Record<K, Throughput>;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Peak RSS of a process that opens one configuration and runs one image (a child of its own, so nothing else counts). */
function probeRss(args: string[]): Promise<{ peakRssMB: number; createMs: number }> {
  const probe = path.join(__dirname, 'rss-probe.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', probe, ...args],
      { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { err += String(d); });
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`rss probe failed (${code}): ${err.trim()}`))));
  });
}

/** Generates (or reuses, keyed by the generator's own hash) the ViT-B/16-sized pair in the OS temp dir. */
async function vitPair(options: EngineBenchOptions): Promise<{ dir: string; generated: boolean }> {
  if (options.vitDir) return { dir: options.vitDir, generated: false };
  const script = path.join(__dirname, 'make_vitb_pair.py');
  const models = path.resolve(__dirname, '..', 'scripts', 'demo-bundle', 'zero_shot_models.py');
  const key = createHash('sha256').update(await fs.readFile(script)).update(await fs.readFile(models)).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `orthanc-t3-bench-vitb-${key}`);
  const ready = await fs.stat(path.join(dir, 'expert.onnx')).then(() => true, () => false);
  if (ready) return { dir, generated: false };
  options.log(`generating the ViT-B/16-sized pair into ${dir} (about 1-2 minutes)`);
  const partial = `${dir}.partial-${process.pid}`;
  const result = spawnSync('/usr/bin/python3', [script, partial], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${script} failed: ${result.stderr?.slice(-2000)}`);
  await fs.rename(partial, dir);
  return { dir, generated: true };
}

function vitBundle(dir: string): Promise<ModelBundle> {
  return pairBundle('bench-vit-b16', path.join(dir, 'generalist.onnx'), path.join(dir, 'expert.onnx'), 224);
}

async function benchPair(name: string, bundle: ModelBundle, reps: number, options: EngineBenchOptions, parameters: number | null): Promise<PairSummary> {
  const { log } = options;
  const size = bundle.manifest.input.width;
  const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-bench-cache-'));
  const closers: (() => Promise<unknown>)[] = [];
  try {
    log(`[${name}] building the merged graph`);
    // Both forms, so every probe and engine below measures sessions, not a first build (both are cached).
    const build = async (form: MergedGraphForm) => {
      const started = performance.now();
      const file = await getMergedModelFile({
        generalistPath: bundle.generalistPath, expertPath: bundle.expertPath, form,
        generalistSha256: bundle.manifest.models.generalist.sha256, expertSha256: bundle.manifest.models.expert.sha256, cacheDir,
      });
      return { file, ms: file.cached ? null : Math.round(performance.now() - started) };
    };
    const { file: merged, ms: buildMs } = await build('lerp');
    const { ms: offsetBuildMs } = await build('offset');

    log(`[${name}] peak RSS probes (child processes)`);
    // Every session of the bench, in this process and in the probes, gets the engine's thread count.
    const intraOpThreads = resolveIntraOpThreads(options.intraOpThreads);
    const threads = String(intraOpThreads);
    const sizeText = String(size);
    const pair = [bundle.generalistPath, bundle.expertPath];
    const hashes = [bundle.manifest.models.generalist.sha256, bundle.manifest.models.expert.sha256];
    const rss: Record<RssConfig, { peakRssMB: number; createMs: number }> = {
      plainSession: await probeRss(['plain', bundle.generalistPath, sizeText, threads]),
      mergedSession: await probeRss(['merged', merged.path, sizeText, threads]),
      engineMergedFixed: await probeRss(['engine', ...pair, sizeText, threads, 'merged', cacheDir, ...hashes]),
      enginePlainFixed: await probeRss(['engine', ...pair, sizeText, threads, 'plain', cacheDir, ...hashes]),
      naive: await probeRss(['naive', ...pair, sizeText, threads]),
    };
    const peakRssMB = Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, v.peakRssMB])) as Record<RssConfig, number>;
    log(`[${name}] peak RSS MB: ${JSON.stringify(peakRssMB)}`);

    const quantizeStarted = performance.now();
    const quantized = await getQuantizedModelFile({ modelPath: bundle.generalistPath, modelSha256: bundle.manifest.models.generalist.sha256, options: ESTIMATION_QUANTIZE_OPTIONS, cacheDir });
    const quantizeMs = Math.round(performance.now() - quantizeStarted);

    log(`[${name}] opening sessions`);
    const plain = new InferenceWorker({ modelPath: bundle.generalistPath, executionProviders: ['cpu'], intraOpThreads, inputName: 'pixel_values', outputName: 'logits', lambdaInputName: 'lambda' });
    closers.push(() => plain.close());
    const plainInfo = await plain.start();
    const int8 = new InferenceWorker({ modelPath: quantized.path, executionProviders: ['cpu'], intraOpThreads, inputName: 'pixel_values', outputName: 'logits', lambdaInputName: 'lambda' });
    closers.push(() => int8.close());
    await int8.start();
    const engineOptions = { executionProviders: ['cpu' as const], cacheDir, intraOpThreads, log: () => undefined };
    let opened = performance.now();
    const mergedFixed = await T3Engine.open(bundle, { ...engineOptions, fixedPassSessions: 'merged' });
    const mergedFixedMs = performance.now() - opened;
    closers.push(() => mergedFixed.close());
    opened = performance.now();
    const plainFixed = await T3Engine.open(bundle, { ...engineOptions, fixedPassSessions: 'plain' });
    const plainFixedMs = performance.now() - opened;
    closers.push(() => plainFixed.close());

    // The naive T3B: two resident plain sessions for the fixed passes, then per batch bake λ_B into a weight set
    // and create a new session for the merged pass (what one does without the merged graph).
    const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: intraOpThreads };
    const naiveStarted = performance.now();
    const naivePt = await ort.InferenceSession.create(bundle.generalistPath, sessionOptions);
    const naiveFt = await ort.InferenceSession.create(bundle.expertPath, sessionOptions);
    const naivePairMs = performance.now() - naiveStarted;
    closers.push(() => naivePt.release(), () => naiveFt.release());
    const baker = new LambdaBaker(await fs.readFile(bundle.generalistPath), await fs.readFile(bundle.expertPath));
    const hp = defaultPolicyConfig('t3b').hyperparameters;
    const classes = bundle.manifest.classes.length;
    const naiveT3b = async (pixels: Float32Array, count: number): Promise<void> => {
      const feeds = { pixel_values: new ort.Tensor('float32', pixels, [count, 3, size, size]) };
      const z = [await naivePt.run(feeds), await naiveFt.run(feeds)].map((o) => o.logits.data as Float32Array);
      const rows = (flat: Float32Array) => Array.from({ length: count }, (_, i) => flat.subarray(i * classes, (i + 1) * classes));
      const lambdaB = computeBatchCoefficients(rows(z[0]), rows(z[1]), hp).batchLambda;
      const session = await ort.InferenceSession.create(baker.bake(lambdaB), sessionOptions);
      await session.run(feeds);
      await session.release();
    };

    // t3bSequentialInt8: t3bSequential on an engine whose estimation passes are int8 (estimators run theirs at the
    // engine's precision), opened only when that flow runs: one more set of sessions.
    const sequentialInt8 = FLOWS.includes('t3bSequentialInt8') || FLOWS.includes('t3bGroupedSequentialInt8') ? await T3Engine.open(bundle, { ...engineOptions, fixedPassSessions: 'plain', estimationPrecision: 'int8' }) : null;
    if (sequentialInt8) closers.push(() => sequentialInt8.close());
    const t3b = defaultPolicyConfig('t3b');
    // The bench's images have no series: the sample is spread evenly over the batch, as for one series.
    const sampled = (k: number) => (p: Float32Array, n: number) =>
      plainFixed.infer(p, n, t3b, { coefficientSample: spreadCoefficientSample(Array(n).fill(''), k) });
    // Set per batch size below, from that batch's own divergences.
    let grouped: PolicyConfig = defaultPolicyConfig('t3b-grouped');
    // Two series interleaved (even and odd positions), grouped by series: each group gathered and estimated on its own.
    const groupedSeries = defaultPolicyConfig('t3b-grouped');
    groupedSeries.hyperparameters = { ...groupedSeries.hyperparameters, groupBy: 'series', minGroupSize: 8, maxGroups: 2 };
    const twoSeries = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'A' : 'B'));
    const groupSequential = { sequential: { ...DEFAULT_SEQUENTIAL_SETTINGS } };
    // Grouped series reuse's stored λ per series: set per batch size below to the batch's own grouped λs.
    let storedGroups = new Map<string, { lambdaB: number; fromBatch: string }>();
    // Series reuse's stored λ_B: set per batch size below to the batch's own full λ_B, so the check passes.
    let storedLambda = 0.5;
    const flows: Record<Flow, (pixels: Float32Array, count: number) => Promise<unknown>> = {
      plainSingle: (p, n) => plain.run(p, [n, 3, size, size], null),
      mergedPass: (p, n) => mergedFixed.passLogits(p, n, 0.5),
      mergedPassOffset: (p, n) => plainFixed.passLogits(p, n, 0.5),
      t3bMergedFixed: (p, n) => mergedFixed.infer(p, n, t3b),
      t3bPlainFixed: (p, n) => plainFixed.infer(p, n, t3b),
      t3bGrouped: (p, n) => plainFixed.infer(p, n, grouped),
      t3bSampled2: sampled(2),
      t3bSampled4: sampled(4),
      t3bSampled8: sampled(8),
      naiveT3b,
      t3bInt8Fixed: (p, n) => plainFixed.infer(p, n, t3b, { estimationPrecision: 'int8' }),
      int8Single: (p, n) => int8.run(p, [n, 3, size, size], null),
      t3bSequential: (p, n) => plainFixed.infer(p, n, t3b, { lambdaEstimation: { method: 'sequential', settings: { ...DEFAULT_SEQUENTIAL_SETTINGS } } }),
      t3bSequentialInt8: (p, n) => sequentialInt8!.infer(p, n, t3b, { lambdaEstimation: { method: 'sequential', settings: { ...DEFAULT_SEQUENTIAL_SETTINGS } } }),
      t3bGroupedSequential: (p, n) => plainFixed.infer(p, n, groupedSeries, { sources: twoSeries(n), groupEstimation: groupSequential }),
      t3bGroupedSequentialInt8: (p, n) => sequentialInt8!.infer(p, n, groupedSeries, { sources: twoSeries(n), groupEstimation: groupSequential }),
      t3bGroupedSeriesReuse: (p, n) => plainFixed.infer(p, n, groupedSeries, {
        sources: twoSeries(n),
        groupEstimation: { reuse: { checkImages: DEFAULT_SERIES_REUSE_SETTINGS.checkImages, lambdaTolerance: DEFAULT_SERIES_REUSE_SETTINGS.lambdaTolerance, stored: storedGroups } },
      }),
      t3bSeriesReuse: (p, n) => plainFixed.infer(p, n, t3b, {
        lambdaEstimation: {
          method: 'series-reuse', lambdaB: storedLambda, fromBatch: 'bench',
          checkImages: DEFAULT_SERIES_REUSE_SETTINGS.checkImages, lambdaTolerance: DEFAULT_SERIES_REUSE_SETTINGS.lambdaTolerance,
        },
      }),
    };
    const warm = randomPixels(1, size, 99);
    for (const flow of FLOWS) await flows[flow](warm, 1);

    const largest = Math.max(...options.batchSizes);
    const throughput: Record<string, Partial<Record<Flow, Throughput>>> = {};
    const overSingle: Record<string, Partial<Record<Flow, number>>> = {};
    for (const batch of options.batchSizes) {
      const pixels = randomPixels(batch, size, batch);
      // A step at the median JS of this batch: the batch splits into two halves (at batch 1 it stays one group).
      const full = await plainFixed.infer(pixels, batch, t3b);
      storedLambda = full.batchLambda ?? 0.5;
      const fullGroups = await plainFixed.infer(pixels, batch, groupedSeries, { sources: twoSeries(batch) });
      storedGroups = new Map(['A', 'B'].flatMap((series) => {
        const g = fullGroups.images[series === 'A' ? 0 : Math.min(1, batch - 1)].group ?? 0;
        return [[series, { lambdaB: fullGroups.groupLambdas?.[g] ?? 0.5, fromBatch: 'bench' }]];
      }));
      const js = full.images.map((im) => im.js).sort((a, b) => a - b);
      grouped = defaultPolicyConfig('t3b-grouped');
      grouped.hyperparameters = { ...grouped.hyperparameters, gamma: 256, jsThreshold: batch > 1 ? (js[Math.floor(batch / 2) - 1] + js[Math.floor(batch / 2)]) / 2 : 0, minGroupSize: 1, maxGroups: 2 };
      const measured = FLOWS.filter((flow) => batch === largest || !LARGEST_BATCH_ONLY.includes(flow));
      const bound = Object.fromEntries(measured.map((flow) => [flow, () => flows[flow](pixels, batch)])) as Record<Flow, () => Promise<unknown>>;
      // The naive flow builds a new session for every batch: there is nothing to warm but its two plain sessions.
      const warmUps = Object.fromEntries(measured.filter((flow) => flow !== 'naiveT3b').map((flow) => [flow, () => flows[flow](warm, 1)]));
      const row = await measureInterleaved(bound, warmUps, reps, options.maxSecondsPerMeasure, batch);
      const single = row.plainSingle.imagesPerSecond;
      overSingle[`batch${batch}`] = Object.fromEntries(measured.map((flow) => [flow, round(row[flow].imagesPerSecond / single, 3)]));
      for (const flow of measured) {
        log(`[${name}] batch ${batch} ${flow}: ${row[flow].imagesPerSecond} images/s (${round(row[flow].imagesPerSecond / single, 3)}× single; ${row[flow].msPerBatch} ms/batch, ${row[flow].runs} runs)`);
      }
      throughput[`batch${batch}`] = row;
    }
    const at = (batch: number, a: Flow, b: Flow) => {
      const row = throughput[`batch${batch}`];
      return row?.[a] && row[b] ? round(row[a]!.imagesPerSecond / row[b]!.imagesPerSecond, 3) : null;
    };
    return {
      name,
      parameters,
      inputSize: size,
      mergedModel: { buildMs, offsetBuildMs, mergedInitializers: merged.summary.mergedInitializers, sharedInitializers: merged.summary.sharedInitializers, outputMB: round(merged.summary.outputBytes / 2 ** 20, 1) },
      quantizedModel: { buildMs: quantizeMs, matMuls: quantized.summary.matMuls, gemms: quantized.summary.gemms, convs: quantized.summary.convs, outputMB: round(quantized.summary.outputBytes / 2 ** 20, 1) },
      sessionStartMs: {
        plain: plainInfo.createMs, merged: mergedFixed.sessionCreateMs, enginePlainFixed: Math.round(plainFixedMs),
        engineMergedFixed: Math.round(mergedFixedMs), naivePlainPair: Math.round(naivePairMs),
      },
      peakRssMB,
      flowPeakRssMB: Object.fromEntries(FLOWS.flatMap((flow) => { const config = FLOW_RSS[flow]; return config ? [[flow, peakRssMB[config]]] : []; })) as Partial<Record<Flow, number>>,
      throughput,
      overSingle,
      ratios: {
        t3bPlainFixedOverSingleAtBatch1: at(1, 't3bPlainFixed', 'plainSingle'),
        t3bPlainFixedOverSingleAtBatch8: at(8, 't3bPlainFixed', 'plainSingle'),
        t3bSampled4OverSingleAtBatch32: at(32, 't3bSampled4', 'plainSingle'),
        t3bGroupedOverT3bAtBatch8: at(8, 't3bGrouped', 't3bPlainFixed'),
        t3bGroupedOverT3bAtBatch32: at(32, 't3bGrouped', 't3bPlainFixed'),
        t3bGroupedSequentialOverSingleAtBatch32: at(32, 't3bGroupedSequential', 'plainSingle'),
        t3bGroupedSequentialInt8OverSingleAtBatch32: at(32, 't3bGroupedSequentialInt8', 'plainSingle'),
        t3bGroupedSeriesReuseOverSingleAtBatch32: at(32, 't3bGroupedSeriesReuse', 'plainSingle'),
        t3bInt8FixedOverSingleAtBatch8: at(8, 't3bInt8Fixed', 'plainSingle'),
        t3bInt8FixedOverSingleAtBatch32: at(32, 't3bInt8Fixed', 'plainSingle'),
        t3bInt8FixedOverT3bPlainFixedAtBatch32: at(32, 't3bInt8Fixed', 't3bPlainFixed'),
        int8SingleOverPlainSingleAtBatch8: at(8, 'int8Single', 'plainSingle'),
        int8SingleOverPlainSingleAtBatch32: at(32, 'int8Single', 'plainSingle'),
        mergedPassOverPlainPassAtBatch1: at(1, 'mergedPass', 'plainSingle'),
        mergedPassOffsetOverPlainPassAtBatch1: at(1, 'mergedPassOffset', 'plainSingle'),
        t3bPlainFixedOverNaiveAtBatch1: at(1, 't3bPlainFixed', 'naiveT3b'),
        plainFixedRssOverPlain: round(peakRssMB.enginePlainFixed / peakRssMB.plainSession, 3),
        mergedFixedRssOverPlain: round(peakRssMB.engineMergedFixed / peakRssMB.plainSession, 3),
        mergedFixedRssOverMergedSession: round(peakRssMB.engineMergedFixed / peakRssMB.mergedSession, 3),
      },
    };
  } finally {
    for (const close of closers.reverse()) await close();
    await fs.rm(cacheDir, { recursive: true, force: true });
  }
}

export async function runEngineBench(options: EngineBenchOptions): Promise<Record<string, unknown>> {
  const started = Date.now();
  const pairs: PairSummary[] = [];
  if (!options.skipDemo) {
    pairs.push(await benchPair('demo', await loadBundle(demoBundleDir()), options.reps, options, null));
  }
  if (!options.skipVit) {
    const { dir, generated } = await vitPair(options);
    try {
      pairs.push(await benchPair('vit-b16', await vitBundle(dir), options.vitReps, options, 86_000_000));
    } finally {
      if (generated && !options.vitDir && process.env.ORTHANC_T3_BENCH_KEEP_VIT !== '1') await fs.rm(dir, { recursive: true, force: true });
    }
  }
  return {
    benchmark: 'orthanc-t3 engine',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', totalMemoryMB: Math.round(os.totalmem() / 2 ** 20), node: process.version, onnxruntime: ort.env.versions?.common ?? 'unknown' },
    executionProvider: 'cpu',
    options: { batchSizes: options.batchSizes, reps: options.reps, vitReps: options.vitReps, maxSecondsPerMeasure: options.maxSecondsPerMeasure, intraOpThreads: resolveIntraOpThreads(options.intraOpThreads) },
    targets: {
      t3bPlainFixedOverSingleAtBatch1: '>= 0.30 (ViT-B)', t3bPlainFixedOverSingleAtBatch8: '>= 0.32 (ViT-B)',
      t3bSampled4OverSingleAtBatch32: '>= 0.6 (ViT-B)', t3bGroupedOverT3bAtBatch8: '>= 0.95 (ViT-B)', t3bGroupedOverT3bAtBatch32: '>= 0.95 (ViT-B)',
      plainFixedRssOverPlain: '<= 3.2', mergedFixedRssOverMergedSession: '<= 1.1',
    },
    pairs,
    wallSeconds: Math.round((Date.now() - started) / 1000),
  };
}
