/** Deterministic normal samples (mulberry32 + Box–Muller) so property tests are reproducible. */
export function normalSampler(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = Math.max(uniform(), 1e-300);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

export function randomLogits(next: () => number, rows: number, classes: number, scale: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: classes }, () => scale * next()));
}
