import { canonicalJson, deriveUid, formatDecimalString, formatDateTime, parseTimezoneOffset } from '../../src/report';

describe('formatDecimalString (DS, ≤ 16 characters)', () => {
  it.each([
    [0, '0'], [100, '100'], [12.5, '12.5'], [100 / 3, '33.3333333333333'], [-100 / 3, '-33.333333333333'],
    [1e-20, '1E-20'], [1 / 3 * 1e-12, '3.3333333333E-13'], [123456789012345680000, '1.23456789012E20'],
    [0.1 + 0.2, '0.3'],
  ])('%p → %p', (value, text) => {
    const written = formatDecimalString(value);
    expect(written).toBe(text);
    expect(written.length).toBeLessThanOrEqual(16);
    expect(Math.abs(Number(written) - value)).toBeLessThanOrEqual(Math.abs(value) * 1e-9);
  });

  it('refuses non-finite values', () => {
    expect(() => formatDecimalString(Number.NaN)).toThrow(/finite/);
  });
});

describe('dates and offsets', () => {
  it('formats DA/TM in the given offset', () => {
    expect(formatDateTime(new Date('2026-01-01T00:30:00Z'), -60)).toEqual({ date: '20251231', time: '233000' });
    expect(parseTimezoneOffset('+0530')).toBe(330);
    expect(parseTimezoneOffset('-0500')).toBe(-300);
    expect(parseTimezoneOffset('0500')).toBeNull();
  });
});

describe('deriveUid', () => {
  it('is a 2.25 UID of 128 bits, stable under key order and different per purpose', () => {
    const uid = deriveUid('x', { a: 1, b: [1, 2] });
    expect(uid).toMatch(/^2\.25\.[1-9]\d*$/);
    expect(uid.length).toBeLessThanOrEqual(64);
    expect(BigInt(uid.slice(5))).toBeLessThan(2n ** 128n);
    expect(deriveUid('x', { b: [1, 2], a: 1 })).toBe(uid);
    expect(deriveUid('y', { a: 1, b: [1, 2] })).not.toBe(uid);
    expect(deriveUid('x', { a: 1, b: [2, 1] })).not.toBe(uid);
    expect(canonicalJson({ b: 1, a: { d: null, c: 'x' } })).toBe('{"a":{"c":"x","d":null},"b":1}');
  });
});
