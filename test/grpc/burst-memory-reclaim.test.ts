import { BurstMemoryReclaim } from '../../src/grpc/burst-memory-reclaim';
import { RequestByteBudget } from '../../src/grpc/request-byte-budget';

const MiB = 2 ** 20;

describe('BurstMemoryReclaim with the request byte budget', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setUp() {
    const collect = jest.fn();
    const reclaim = new BurstMemoryReclaim({ minBytes: 64 * MiB, delayMs: 1000, collect });
    const budget = new RequestByteBudget(256 * MiB, (bytes, held) => reclaim.released(bytes, held));
    return { collect, reclaim, budget };
  }

  test('one collection a second after a burst of at least minBytes has drained, none while requests are held', () => {
    const { collect, reclaim, budget } = setUp();
    const releases = [40, 40, 40].map(() => budget.tryReserve(40 * MiB)!);
    releases[0]();
    releases[1]();
    jest.advanceTimersByTime(5000);
    expect(collect).not.toHaveBeenCalled(); // a request is still held
    releases[2]();
    expect(budget.heldBytes).toBe(0);
    jest.advanceTimersByTime(999);
    expect(collect).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(collect).toHaveBeenCalledTimes(1);
    expect(reclaim.collectionsTotal).toBe(1);
    jest.advanceTimersByTime(60000);
    expect(collect).toHaveBeenCalledTimes(1); // once per burst
  });

  test('small traffic never collects; the count restarts after each collection', () => {
    const { collect, budget } = setUp();
    for (let i = 0; i < 63; i++) budget.tryReserve(MiB)!();
    jest.advanceTimersByTime(10000);
    expect(collect).not.toHaveBeenCalled();
    budget.tryReserve(MiB)!(); // 64 MiB in all
    jest.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(1);
    budget.tryReserve(32 * MiB)!();
    jest.advanceTimersByTime(10000);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  test('a release while others are held cancels a pending collection; cancel() drops it', () => {
    const { collect, reclaim, budget } = setUp();
    budget.tryReserve(80 * MiB)!();
    const held = budget.tryReserve(MiB)!;
    budget.tryReserve(MiB)!(); // released while `held` is still held
    jest.advanceTimersByTime(5000);
    expect(collect).not.toHaveBeenCalled();
    held();
    reclaim.cancel();
    jest.advanceTimersByTime(5000);
    expect(collect).not.toHaveBeenCalled();
  });

  test('releasing twice counts once (the budget\'s release is idempotent)', () => {
    const { collect, budget } = setUp();
    const release = budget.tryReserve(40 * MiB)!;
    release();
    release();
    jest.advanceTimersByTime(5000);
    expect(collect).not.toHaveBeenCalled();
  });
});

test('the default collection is V8\'s full garbage collection (it frees a dead 64 MiB ArrayBuffer)', async () => {
  const reclaim = new BurstMemoryReclaim({ minBytes: 1, delayMs: 0 });
  // Only a weak reference survives; the buffer is garbage from here on. (Measuring process.memoryUsage() instead is
  // flaky: allocating 64 MiB can itself start a collection of other garbage.) V8 may also collect it on its own
  // before the reclaim runs, which would prove nothing: then a new buffer is tried.
  let weak: WeakRef<Uint8Array> | undefined;
  for (let attempt = 0; attempt < 5 && !weak; attempt++) {
    const candidate = (() => new WeakRef(new Uint8Array(64 * MiB).fill(1)))();
    await new Promise((r) => setImmediate(r));
    // A deref keeps the buffer alive only to the end of this job.
    if (candidate.deref() !== undefined) weak = candidate;
  }
  expect(weak).toBeDefined();
  await new Promise((r) => setImmediate(r));
  reclaim.released(64 * MiB, 0);
  await new Promise((r) => setTimeout(r, 50));
  expect(reclaim.collectionsTotal).toBe(1);
  expect(weak!.deref()).toBeUndefined();
});
