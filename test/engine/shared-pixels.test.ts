import { SharedPixelMemory, isShared } from '../../src/engine/shared-pixels';

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => (i * 7 + seed) % 13);

test('the pixels reach `use` in shared memory, equal to the caller\'s, whose array is left as it was', async () => {
  const memory = new SharedPixelMemory();
  const pixels = values(1000, 1);
  const before = pixels.slice();
  const seen = await memory.with(pixels, async (shared) => {
    expect(isShared(shared)).toBe(true);
    expect(shared).not.toBe(pixels);
    return Array.from(shared);
  });
  expect(seen).toEqual(Array.from(before));
  expect(isShared(pixels)).toBe(false);
  expect(pixels).toEqual(before);
});

test('pixels already in shared memory are used as they are, without a copy', async () => {
  const memory = new SharedPixelMemory();
  const pixels = new Float32Array(new SharedArrayBuffer(400));
  await memory.with(pixels, async (shared) => expect(shared).toBe(pixels));
  expect(memory.idleBytes).toBe(0);
});

test('a later call reuses the buffer of an earlier one that fits, so its pages are not touched for the first time again', async () => {
  const memory = new SharedPixelMemory();
  const first = await memory.with(values(1000, 1), async (shared) => shared.buffer);
  const smaller = await memory.with(values(10, 2), async (shared) => {
    expect(Array.from(shared)).toEqual(Array.from(values(10, 2)));
    expect(shared.length).toBe(10);
    return shared.buffer;
  });
  expect(smaller).toBe(first);
  const larger = await memory.with(values(2000, 3), async (shared) => shared.buffer);
  expect(larger).not.toBe(first);
});

test('calls in flight at once each get their own buffer', async () => {
  const memory = new SharedPixelMemory();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const a = memory.with(values(100, 1), async (shared) => { await gate; return Array.from(shared); });
  const b = memory.with(values(100, 2), async (shared) => { await gate; return Array.from(shared); });
  release();
  expect(await a).toEqual(Array.from(values(100, 1)));
  expect(await b).toEqual(Array.from(values(100, 2)));
});

test('the buffer comes back when `use` fails, and only the largest `keep` idle buffers are kept', async () => {
  const memory = new SharedPixelMemory(2);
  await expect(memory.with(values(100, 1), async () => { throw new Error('the session failed'); })).rejects.toThrow('the session failed');
  expect(memory.idleBytes).toBe(400);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const calls = [10, 300, 200].map((n) => memory.with(values(n, n), async () => { await gate; }));
  release();
  await Promise.all(calls);
  // The 10-value call takes the idle 100-value buffer, the others get new ones; of the three idle after, the two
  // largest stay.
  expect(memory.idleBytes).toBe(300 * 4 + 200 * 4);
});

test('idle buffers never hold more than keptBytes together: a larger batch is copied each call and not kept', async () => {
  const memory = new SharedPixelMemory(2, 1000 * 4);
  const first = await memory.with(values(600, 1), async (shared) => shared.buffer);
  expect(memory.idleBytes).toBe(600 * 4);
  await memory.with(values(2000, 2), async (shared) => expect(Array.from(shared)).toEqual(Array.from(values(2000, 2))));
  expect(memory.idleBytes).toBe(600 * 4);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const calls = [500, 300].map((n) => memory.with(values(n, n), async () => { await gate; }));
  release();
  await Promise.all(calls);
  // 600 (reused by the 500-value call) and 300 fit in 1000 values; nothing else is kept.
  expect(memory.idleBytes).toBe(600 * 4 + 300 * 4);
  expect(await memory.with(values(10, 3), async (shared) => shared.buffer)).not.toBe(first);
});
