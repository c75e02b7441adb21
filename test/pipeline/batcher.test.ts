import { QueueFullError, T3bBatcher, type BatcherSettings } from '../../src/pipeline/classification/batcher';
import { classifyImages, type ClassifyInput, type ClassifyOutcome } from '../../src/pipeline/classification/classify-images';
import { composeClassification } from '../../src/pipeline/classification/compose-study-result';
import { pixelArrayToDicom } from '../../src/dicom/secondary-capture';
import { demoBundleDir, loadBundle, T3Engine } from '../../src/engine';
import { defaultPolicyConfig } from '../../src/t3';

/** A classification stand-in for this unit: records each call's inputs and answers after `delayMs`. */
function recorder(delayMs = 20) {
  const calls: string[][] = [];
  const classify = async (inputs: ClassifyInput[]): Promise<ClassifyOutcome[]> => {
    calls.push(inputs.map((i) => i.name));
    await new Promise((r) => setTimeout(r, delayMs));
    return inputs.map((i) => ({ name: i.name, ok: false, skipped: false, errorCode: 'x', error: `seen ${i.name}` }));
  };
  return { calls, classify };
}

const inputs = (...names: string[]): ClassifyInput[] => names.map((name) => ({ name, bytes: new Uint8Array(0) }));
const settings = (s: Partial<BatcherSettings>): BatcherSettings => ({ batchSize: 4, maxDelayMs: 50, scope: 'study', queueBound: 8, ...s });

test('scope study: one classification call per study, results go back to their study in order', async () => {
  const r = recorder();
  const b = new T3bBatcher('demo', r.classify, settings({}));
  const [a, c] = await Promise.all([b.submit('routine', inputs('a1', 'a2')), b.submit('routine', inputs('c1'))]);
  expect(r.calls).toEqual([['a1', 'a2'], ['c1']]);
  expect(a.map((o) => o.name)).toEqual(['a1', 'a2']);
  expect(c.map((o) => o.name)).toEqual(['c1']);
});

test('scope stream: studies are packed up to batchSize images, round-robin, or until maxDelayMs', async () => {
  const r = recorder();
  const b = new T3bBatcher('demo', r.classify, settings({ scope: 'stream', batchSize: 3, maxDelayMs: 100 }));
  const p1 = b.submit('routine', inputs('a1'));
  const p2 = b.submit('routine', inputs('b1', 'b2'));
  const p3 = b.submit('routine', inputs('c1'));
  const [o1, o2, o3] = await Promise.all([p1, p2, p3]);
  // a1 was alone when the batch opened; b and c then fill it one image each, so c does not wait behind all of b.
  expect(r.calls[0]).toEqual(['a1', 'b1', 'c1']);
  expect(r.calls[1]).toEqual(['b2']); // alone after waiting maxDelayMs for company
  expect([o1, o2, o3].map((o) => o.map((x) => x.name))).toEqual([['a1'], ['b1', 'b2'], ['c1']]);
});

test('the stat lane is served before routine work that waits', async () => {
  const r = recorder(30);
  const b = new T3bBatcher('demo', r.classify, settings({}));
  const first = b.submit('routine', inputs('r1')); // starts at once
  const routine = b.submit('routine', inputs('r2'));
  const stat = b.submit('stat', inputs('s1'));
  await Promise.all([first, routine, stat]);
  expect(r.calls).toEqual([['r1'], ['s1'], ['r2']]);
});

test('the queue is bounded: over the bound submit is refused, waitForRoom resolves once work is taken', async () => {
  const r = recorder(30);
  const b = new T3bBatcher('demo', r.classify, settings({ queueBound: 4 }));
  const running = b.submit('routine', inputs('a', 'b', 'c')); // taken at once
  const queued = b.submit('routine', inputs('d', 'e', 'f'));
  expect(b.queuedImages).toBe(3);
  expect(b.hasRoom(2)).toBe(false);
  await expect(b.submit('routine', inputs('g', 'h'))).rejects.toBeInstanceOf(QueueFullError);
  await b.waitForRoom(2);
  expect(b.queuedImages).toBe(0);
  await Promise.all([running, queued]);
  await b.whenIdle();
});

test('a failing classification rejects only the studies of that call', async () => {
  let n = 0;
  const b = new T3bBatcher(
    'demo',
    async (ins) => {
      n++;
      if (n === 1) throw new Error('engine exploded');
      return ins.map((i) => ({ name: i.name, ok: false, skipped: true, errorCode: 'not-an-image', error: '' }));
    },
    settings({}),
  );
  const bad = b.submit('routine', inputs('a'));
  const good = b.submit('routine', inputs('b'));
  await expect(bad).rejects.toThrow('engine exploded');
  await expect(good).resolves.toHaveLength(1);
});

/** `n` inputs named prefix1…prefixN. */
const study = (prefix: string, n: number): ClassifyInput[] => inputs(...Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`));

/** Which study (the letters before the number) each call served, e.g. ['A', 'S', 'A'] or ['S+A']. */
const studiesOf = (calls: string[][]) => calls.map((c) => [...new Set(c.map((n) => n.replace(/\d+$/, '')))].join('+'));

describe('no head-of-line blocking (issue 21, item 5)', () => {
  test('scope study: a 1-image study submitted after a 200-image one is in the next batch, not after all 200', async () => {
    const r = recorder(5);
    const b = new T3bBatcher('demo', r.classify, settings({ batchSize: 32, queueBound: 512 }));
    const big = b.submit('routine', study('A', 200));
    const small = b.submit('routine', study('S', 1));
    const [bigOut, smallOut] = await Promise.all([big, small]);
    expect(r.calls[0]).toEqual(study('A', 32).map((i) => i.name));
    expect(r.calls[1]).toEqual(['S1']);
    // The large study still runs in batches of 32 of its own images, in order: 32·6 + 8.
    expect(r.calls.slice(2).map((c) => c.length)).toEqual([32, 32, 32, 32, 32, 8]);
    expect(r.calls.filter((c) => c[0].startsWith('A')).flat()).toEqual(study('A', 200).map((i) => i.name));
    expect(bigOut.map((o) => o.name)).toEqual(study('A', 200).map((i) => i.name));
    expect(smallOut.map((o) => o.name)).toEqual(['S1']);
  });

  test('scope study: a small study that arrives while the large one runs goes in the very next batch', async () => {
    const r = recorder(20);
    const b = new T3bBatcher('demo', r.classify, settings({ batchSize: 32, queueBound: 512 }));
    const big = b.submit('routine', study('A', 200));
    await new Promise((res) => setTimeout(res, 50)); // the large study is in its third batch or so
    const before = r.calls.length;
    const small = b.submit('routine', study('S', 1));
    await small;
    expect(r.calls.findIndex((c) => c[0] === 'S1')).toBe(before);
    await big;
  });

  test('scope study: waiting studies take turns batch by batch, a late arrival joins the current round', async () => {
    const r = recorder(20);
    const b = new T3bBatcher('demo', r.classify, settings({ batchSize: 4, queueBound: 64 }));
    const a = b.submit('routine', study('A', 12));
    const c = b.submit('routine', study('B', 12));
    const d = b.submit('routine', study('C', 2));
    await new Promise((res) => setTimeout(res, 30)); // A's first batch done, B's running
    const e = b.submit('routine', study('D', 1));
    const out = await Promise.all([a, c, d, e]);
    expect(studiesOf(r.calls)).toEqual(['A', 'B', 'C', 'D', 'A', 'B', 'A', 'B']);
    expect(out.map((o) => o.length)).toEqual([12, 12, 2, 1]);
    expect(out[1].map((o) => o.name)).toEqual(study('B', 12).map((i) => i.name));
  });

  test('scope stream: a batch takes images round-robin from every waiting study', async () => {
    const r = recorder(20);
    const b = new T3bBatcher('demo', r.classify, settings({ scope: 'stream', batchSize: 4, maxDelayMs: 0, queueBound: 512 }));
    const big = b.submit('routine', study('A', 200));
    const s1 = b.submit('routine', study('S', 1));
    const t1 = b.submit('routine', study('T', 3));
    const out = await Promise.all([big, s1, t1]);
    expect(r.calls[0]).toEqual(['A1', 'A2', 'A3', 'A4']); // A was alone when the first batch opened
    // One image per study per pass, starting after the study served last (A): S1 T1 A5, then T2 fills the batch;
    // each study's images stay together and in order.
    expect(r.calls[1]).toEqual(['S1', 'T1', 'T2', 'A5']);
    // The next batch's round starts after T: A6 T3, then A alone.
    expect(r.calls[2]).toEqual(['A6', 'A7', 'A8', 'T3']);
    expect(out.map((o) => o.map((x) => x.name))).toEqual([study('A', 200), study('S', 1), study('T', 3)].map((s) => s.map((i) => i.name)));
  });

  test('the stat lane still goes first: a stat study waits for the running batch only', async () => {
    const r = recorder(20);
    const b = new T3bBatcher('demo', r.classify, settings({ batchSize: 32, queueBound: 512 }));
    const big = b.submit('routine', study('A', 200));
    const routine = b.submit('routine', study('R', 1));
    const stat = b.submit('stat', study('S', 2));
    await Promise.all([big, routine, stat]);
    expect(studiesOf(r.calls).slice(0, 4)).toEqual(['A', 'S', 'R', 'A']);
    // In stream scope the stat study's images come first in the batch, before any routine image.
    const r2 = recorder(20);
    const b2 = new T3bBatcher('demo', r2.classify, settings({ scope: 'stream', batchSize: 4, maxDelayMs: 0, queueBound: 512 }));
    const big2 = b2.submit('routine', study('A', 20));
    const routine2 = b2.submit('routine', study('R', 1));
    const stat2 = b2.submit('stat', study('S', 2));
    await Promise.all([big2, routine2, stat2]);
    expect(r2.calls[1]).toEqual(['S1', 'S2', 'R1', 'A5']);
  });

  test('queue accounting: images count as queued until placed in a batch; a failed study drops its waiting images', async () => {
    let n = 0;
    const calls: string[][] = [];
    const b = new T3bBatcher(
      'demo',
      async (ins) => {
        calls.push(ins.map((i) => i.name));
        await new Promise((res) => setTimeout(res, 10));
        if (++n === 2) throw new Error('engine exploded');
        return ins.map((i) => ({ name: i.name, ok: false, skipped: true, errorCode: 'not-an-image', error: '' }));
      },
      settings({ batchSize: 4, queueBound: 64 }),
    );
    const big = b.submit('routine', study('A', 20));
    expect(b.queuedImages).toBe(16); // its first 4 images are in the running batch
    const small = b.submit('routine', study('S', 1));
    expect(b.laneDepths).toEqual({ stat: 0, routine: 2 });
    await expect(small).rejects.toThrow('engine exploded'); // S ran second
    await expect(big).resolves.toHaveLength(20);
    await b.whenIdle();
    expect(b.queuedImages).toBe(0);
    expect(calls.map((c) => c.length)).toEqual([4, 1, 4, 4, 4, 4]);
    // A failure in the large study drops the rest of it and rejects it once.
    n = 0;
    calls.length = 0;
    const big2 = b.submit('routine', study('A', 20));
    await expect(big2).rejects.toThrow('engine exploded');
    await b.whenIdle();
    expect(calls.map((c) => c.length)).toEqual([4, 4]);
    expect(b.queuedImages).toBe(0);
  });
});

describe('T3B stays per batch with the real demo engine', () => {
  let engine: T3Engine;

  beforeAll(async () => {
    engine = await T3Engine.open(await loadBundle(demoBundleDir()), { executionProviders: ['cpu'], fixedPassSessions: 'plain', log: () => undefined });
  });

  afterAll(async () => {
    await engine?.close();
  });

  /** `n` 64×64 8-bit DX images of one study (distinct pixels per image). */
  function dicomStudy(uid: string, n: number, seed: number): ClassifyInput[] {
    return Array.from({ length: n }, (_, i) => {
      const data = new Uint8Array(64 * 64);
      let x = (seed * 7919 + i * 104729) >>> 0;
      for (let p = 0; p < data.length; p++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        data[p] = x >>> 24;
      }
      const bytes = pixelArrayToDicom({
        rows: 64, columns: 64, samplesPerPixel: 1, photometricInterpretation: 'MONOCHROME2', bitsAllocated: 8, bitsStored: 8,
        signed: false, numberOfFrames: 1, data, modality: 'DX',
      }, { studyInstanceUid: uid, seriesInstanceUid: `${uid}.1` }, i);
      return { name: `${uid}-${i}`, bytes };
    });
  }

  const policy = defaultPolicyConfig('t3b');
  const options = (batchSize: number) => ({ policy, batchSize, framePolicy: 'middle' as const });
  const compose = { triage: { rules: [], disagreement: {} }, listNonImages: false };

  test('scope study: each study gets the same batches and λ_B as when it is classified alone', async () => {
    const big = dicomStudy('2.25.2100', 20, 1);
    const small = dicomStudy('2.25.2200', 1, 2);
    const aloneBig = composeClassification(await classifyImages(engine, big, options(8)), compose);
    const aloneSmall = composeClassification(await classifyImages(engine, small, options(8)), compose);
    const b = new T3bBatcher('demo', (ins, size) => classifyImages(engine, ins, options(size)), settings({ batchSize: 8, queueBound: 64 }));
    const [bigOut, smallOut] = await Promise.all([b.submit('routine', big), b.submit('routine', small)]);
    const batchedBig = composeClassification(bigOut, compose);
    const batchedSmall = composeClassification(smallOut, compose);
    expect(batchedBig.batches.map((x) => x.size)).toEqual([8, 8, 4]);
    expect(batchedSmall.batches.map((x) => x.size)).toEqual([1]);
    expect(batchedBig.batchLambdas).toHaveLength(3);
    batchedBig.batchLambdas.forEach((l, i) => expect(l).toBeCloseTo(aloneBig.batchLambdas[i], 9));
    expect(batchedSmall.batchLambdas[0]).toBeCloseTo(aloneSmall.batchLambdas[0], 9);
    // Each study's result holds its own images only, each with the λ_B of the batch it ran in.
    expect(batchedBig.images.map((i) => i.name)).toEqual(big.map((i) => i.name));
    expect(batchedSmall.images.map((i) => i.name)).toEqual(small.map((i) => i.name));
    batchedBig.images.forEach((image, i) => {
      expect(image.appliedLambda).toBeCloseTo(aloneBig.images[i].appliedLambda!, 9);
      expect(image.predictions[0].probability).toBeCloseTo(aloneBig.images[i].predictions[0].probability, 5);
    });
  });

  test('scope stream: a batch shared by two studies records the same λ_B in both, each keeps its own images', async () => {
    const big = dicomStudy('2.25.2300', 10, 3);
    const small = dicomStudy('2.25.2400', 1, 4);
    const b = new T3bBatcher('demo', (ins, size) => classifyImages(engine, ins, options(size)),
      settings({ scope: 'stream', batchSize: 4, maxDelayMs: 0, queueBound: 64 }));
    const [bigOut, smallOut] = await Promise.all([b.submit('routine', big), b.submit('routine', small)]);
    const batchedBig = composeClassification(bigOut, compose);
    const batchedSmall = composeClassification(smallOut, compose);
    expect(batchedBig.images.map((i) => i.name)).toEqual(big.map((i) => i.name));
    expect(batchedSmall.images.map((i) => i.name)).toEqual(small.map((i) => i.name));
    // The small study ran in the second batch, with three images of the large one.
    const shared = batchedSmall.batches[0];
    expect(shared.size).toBe(4);
    const inBig = batchedBig.batches.find((x) => x.batchId === shared.batchId);
    expect(inBig).toBeDefined();
    expect(inBig!.batchLambda).toBe(shared.batchLambda);
    expect(batchedBig.batches.map((x) => x.size)).toEqual([4, 4, 3]);
    expect(batchedBig.images.filter((i) => i.batchId === shared.batchId)).toHaveLength(3);
  });
});
