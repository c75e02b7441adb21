import {
  applyCorruption,
  CORRUPTION_NAMES,
  CorruptionError,
  createImage,
  meanAbsoluteDifference,
  parseCorruptionName,
  type PlanarImage,
} from '../../src/evaluation';

/** A 64×64 grey test card: a smooth gradient with a bright disc and a fine stripe pattern (detail blur can remove). */
function testCard(channels = 1): PlanarImage {
  const image = createImage(64, 64, channels);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const disc = (x - 40) ** 2 + (y - 24) ** 2 < 100 ? 0.35 : 0;
        const stripes = y > 44 ? 0.15 * (x % 2) : 0;
        image.data[c * 4096 + y * 64 + x] = 0.15 + 0.4 * (x / 63) * (0.8 + 0.1 * c) + disc + stripes;
      }
    }
  }
  return image;
}

describe('corruptions', () => {
  const card = testCard();

  test.each(CORRUPTION_NAMES)('%s is deterministic, keeps the shape and stays in [0,1]', (name) => {
    for (const severity of [1, 3, 5]) {
      const a = applyCorruption(card, name, severity, 1234);
      const b = applyCorruption(card, name, severity, 1234);
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
      expect([a.width, a.height, a.channels]).toEqual([64, 64, 1]);
      expect(Math.min(...a.data)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...a.data)).toBeLessThanOrEqual(1);
    }
  });

  test.each(CORRUPTION_NAMES)('%s moves the image further from the original as severity grows', (name) => {
    const distances = [1, 2, 3, 4, 5].map((s) => meanAbsoluteDifference(card, applyCorruption(card, name, s, 99)));
    expect(distances[0]).toBeGreaterThan(0);
    for (let s = 1; s < 5; s++) expect(distances[s]).toBeGreaterThanOrEqual(distances[s - 1]);
    expect(distances[4]).toBeGreaterThan(distances[0]);
  });

  test('noise depends on the seed and leaves the input untouched', () => {
    const before = Array.from(card.data);
    const a = applyCorruption(card, 'gaussian-noise', 3, 1);
    const b = applyCorruption(card, 'gaussian-noise', 3, 2);
    expect(Array.from(a.data)).not.toEqual(Array.from(b.data));
    expect(Array.from(card.data)).toEqual(before);
  });

  test('contrast shrinks the spread around the mean, brightness adds an offset', () => {
    const flat = createImage(8, 8, 1);
    flat.data.fill(0.2);
    flat.data[0] = 0.8;
    const mean = flat.data.reduce((s, v) => s + v, 0) / 64;
    const c = applyCorruption(flat, 'contrast', 1, 0);
    expect(c.data[0]).toBeCloseTo((0.8 - mean) * 0.4 + mean, 6);
    const b = applyCorruption(flat, 'brightness', 2, 0);
    expect(b.data[1]).toBeCloseTo(0.4, 6);
    expect(b.data[0]).toBeCloseTo(1.0, 6);
  });

  test('corrupts colour images channel by channel', () => {
    const rgb = testCard(3);
    const out = applyCorruption(rgb, 'jpeg', 5, 0);
    expect(out.channels).toBe(3);
    expect(meanAbsoluteDifference(rgb, out)).toBeGreaterThan(0);
  });

  test('bad severities and names are refused with a clear error', () => {
    expect(() => applyCorruption(card, 'jpeg', 0, 0)).toThrow(CorruptionError);
    expect(() => applyCorruption(card, 'jpeg', 6, 0)).toThrow(/severity must be an integer from 1 to 5/);
    expect(() => applyCorruption(card, 'jpeg', 2.5, 0)).toThrow(CorruptionError);
    expect(() => parseCorruptionName('fog')).toThrow(/unknown corruption "fog"/);
    expect(parseCorruptionName(' JPEG ')).toBe('jpeg');
  });
});

describe('JPEG encoder reuse', () => {
  test('gives the bytes jpeg-js encode() writes, at every quality, image after image', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const jpeg = require('jpeg-js') as { encode(image: { width: number; height: number; data: Uint8Array }, quality: number): { data: Uint8Array } };
    const { encodeJpeg } = require('../../src/evaluation/jpeg-encoder') as typeof import('../../src/evaluation/jpeg-encoder');
    for (const quality of [25, 7, 25]) {
      for (let k = 0; k < 3; k++) {
        const data = new Uint8Array(24 * 16 * 4).map((_, i) => (i * (37 + k) + quality) % 256);
        const image = { width: 24, height: 16, data };
        expect(Buffer.from(encodeJpeg(image, quality)).equals(Buffer.from(jpeg.encode(image, quality).data))).toBe(true);
      }
    }
  });
});
