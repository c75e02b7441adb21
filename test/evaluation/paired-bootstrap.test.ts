import { pairedBootstrap } from '../../src/evaluation';

describe('paired bootstrap', () => {
  const options = { blockSize: 4, replicates: 2000, seed: 7 };

  test('identical predictions give a zero difference and a zero-width interval', () => {
    const a = Uint8Array.from({ length: 64 }, (_, i) => i % 3 === 0 ? 0 : 1);
    expect(pairedBootstrap([{ a, b: a }], options)).toEqual({ difference: 0, low: 0, high: 0 });
  });

  test('the observed difference lies inside its interval, and a clear win excludes 0', () => {
    const a = Uint8Array.from({ length: 256 }, (_, i) => (i % 10 === 0 ? 0 : 1));
    const b = Uint8Array.from({ length: 256 }, (_, i) => (i % 4 === 0 ? 0 : 1));
    const r = pairedBootstrap([{ a, b }], options);
    expect(r.difference).toBeCloseTo((230 - 192) / 256, 12);
    expect(r.low).toBeLessThanOrEqual(r.difference);
    expect(r.high).toBeGreaterThanOrEqual(r.difference);
    expect(r.low).toBeGreaterThan(0);
  });

  test('several splits over the same images: the statistic is the mean difference over splits', () => {
    const ones = new Uint8Array(32).fill(1);
    const zeros = new Uint8Array(32);
    const r = pairedBootstrap([{ a: ones, b: zeros }, { a: zeros, b: zeros }], options);
    expect(r.difference).toBe(0.5);
    expect(r.low).toBe(0.5);
  });

  test('is deterministic for a seed and refuses mismatched splits', () => {
    const a = Uint8Array.from({ length: 50 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
    const b = Uint8Array.from({ length: 50 }, (_, i) => (i * 5) % 4 === 0 ? 1 : 0);
    expect(pairedBootstrap([{ a, b }], options)).toEqual(pairedBootstrap([{ a, b }], options));
    expect(() => pairedBootstrap([{ a, b: b.subarray(1) }], options)).toThrow(/same images/);
  });
});
