import {
  computeBatchCoefficients,
  DEFAULT_T3_HYPERPARAMETERS,
  logSoftmax,
  resolveHyperparameters,
  T3InputError,
  type T3Hyperparameters,
} from '../../src/t3';

const hp = DEFAULT_T3_HYPERPARAMETERS;
const ok = [[0, 1, 2], [2, 1, 0]];

function thrown(fn: () => unknown): T3InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(T3InputError);
    return err as T3InputError;
  }
  throw new Error('expected a T3InputError, nothing was thrown');
}

describe('computeBatchCoefficients rejects bad input with T3InputError', () => {
  test('empty batch', () => {
    expect(thrown(() => computeBatchCoefficients([], [], hp)).message).toMatch(/empty batch/);
  });

  test('different numbers of rows for the two models', () => {
    expect(thrown(() => computeBatchCoefficients(ok, [[0, 1, 2]], hp)).message).toMatch(/2 rows.*1/);
  });

  test('rows of different lengths within a model, and between the models', () => {
    expect(thrown(() => computeBatchCoefficients([[0, 1, 2], [0, 1]], ok, hp)).message).toMatch(/generalist row 1 has 2 classes, expected 3/);
    expect(thrown(() => computeBatchCoefficients(ok, [[0, 1, 2], [0, 1, 2, 3]], hp)).message).toMatch(/expert row 1 has 4 classes/);
  });

  test('rows without classes', () => {
    expect(thrown(() => computeBatchCoefficients([[]], [[]], hp)).message).toMatch(/no classes/);
  });

  test.each([
    [Number.NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
  ])('%s logits name model, row and column', (bad, text) => {
    const ft = [[0, 1, 2], [2, bad, 0]];
    const err = thrown(() => computeBatchCoefficients(ok, ft, hp));
    expect(err.message).toContain(`expert logit at row 1, column 1 is ${text}`);
    const pt = [[0, 1, bad], [2, 1, 0]];
    expect(thrown(() => computeBatchCoefficients(pt, ok, hp)).message).toContain('generalist logit at row 0, column 2');
  });

  test('a non-number logit (e.g. from untyped JSON) is rejected, not coerced', () => {
    const pt = [[0, '1' as unknown as number, 2], [2, 1, 0]];
    expect(thrown(() => computeBatchCoefficients(pt, ok, hp)).message).toContain('row 0, column 1');
  });

  test.each([0, -1, Number.NaN, Infinity])('temperature %s is rejected', (t) => {
    expect(thrown(() => computeBatchCoefficients(ok, ok, { ...hp, tPt: t })).message).toMatch(/tPt must be a positive finite number/);
    expect(thrown(() => computeBatchCoefficients(ok, ok, { ...hp, tFt: t })).message).toMatch(/tFt/);
  });

  test('other hyperparameters are validated', () => {
    const bad: Partial<T3Hyperparameters>[] = [
      { gamma: Number.NaN }, { lambdaMin: Infinity }, { eps: -1e-9 }, { logBase: 1 }, { logBase: 0 }, { extTau: Number.NaN },
    ];
    for (const b of bad) {
      const err = thrown(() => computeBatchCoefficients(ok, ok, { ...hp, ...b }));
      expect(err.message).toContain(Object.keys(b)[0]);
    }
  });

  test('one bad batch does not poison later calls (no shared state)', () => {
    thrown(() => computeBatchCoefficients(ok, [[0, 1, 2], [Number.NaN, 0, 0]], hp));
    const r = computeBatchCoefficients(ok, ok, hp);
    expect(r.images).toHaveLength(2);
    expect(r.images[0].js).toBe(0);
  });
});

describe('other entry points', () => {
  test('logSoftmax rejects empty rows, non-finite logits and bad temperatures', () => {
    expect(thrown(() => logSoftmax([])).message).toMatch(/at least one class/);
    expect(thrown(() => logSoftmax([0, Number.NaN])).message).toMatch(/column 1/);
    expect(thrown(() => logSoftmax([0, 1], 0)).message).toMatch(/temperature/);
  });

  test('resolveHyperparameters fills defaults and validates', () => {
    expect(resolveHyperparameters({ gamma: 2 })).toEqual({ ...DEFAULT_T3_HYPERPARAMETERS, gamma: 2 });
    expect(resolveHyperparameters({ logBase: 2 }).logBase).toBe(2);
    thrown(() => resolveHyperparameters({ tFt: -2 }));
  });
});
