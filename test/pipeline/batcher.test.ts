import { QueueFullError, T3bBatcher, type BatcherSettings } from '../../src/pipeline/batcher';
import type { ClassifyInput, ClassifyOutcome } from '../../src/pipeline/classify-images';

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

test('scope stream: studies are packed up to batchSize images, or until maxDelayMs', async () => {
  const r = recorder();
  const b = new T3bBatcher('demo', r.classify, settings({ scope: 'stream', batchSize: 3, maxDelayMs: 100 }));
  const p1 = b.submit('routine', inputs('a1'));
  const p2 = b.submit('routine', inputs('b1', 'b2'));
  const p3 = b.submit('routine', inputs('c1'));
  const [o1, o2, o3] = await Promise.all([p1, p2, p3]);
  expect(r.calls[0]).toEqual(['a1', 'b1', 'b2']);
  expect(r.calls[1]).toEqual(['c1']); // alone after waiting maxDelayMs for company
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
