import {
  applyCorruption,
  CORRUPTION_NAMES,
  CORRUPTION_PARAMETERS,
  corruptionParameter,
  corruptionSizeScale,
  CorruptionError,
  createImage,
  gaussianBlur,
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

describe('corruption strength scaled to the image size', () => {
  /** A size × size version of the test card's gradient and stripes (blur has detail to remove at any size). */
  function card(size: number): PlanarImage {
    const image = createImage(size, size, 1);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) image.data[y * size + x] = 0.2 + 0.5 * (x / (size - 1)) + (y > size / 2 ? 0.2 * (x % 2) : 0);
    return image;
  }
  const same = (a: PlanarImage, b: PlanarImage) => Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer));

  test('64 × 64 images keep the 64-pixel parameters exactly (earlier results reproduce bit for bit)', () => {
    expect(corruptionSizeScale(64, 64)).toBe(1);
    const image = card(64);
    for (let severity = 1; severity <= 5; severity++) {
      expect(corruptionParameter('gaussian-blur', severity, 64, 64)).toBe(CORRUPTION_PARAMETERS['gaussian-blur'][severity - 1]);
      expect(same(applyCorruption(image, 'gaussian-blur', severity, 0), gaussianBlur(image, CORRUPTION_PARAMETERS['gaussian-blur'][severity - 1]))).toBe(true);
    }
  });

  test('the blur σ scales with the side: ×28/64 on 28-pixel images, ImageNet-C\'s own σ on 224-pixel ones', () => {
    const small = card(28);
    for (let severity = 1; severity <= 5; severity++) {
      const sigma = CORRUPTION_PARAMETERS['gaussian-blur'][severity - 1];
      expect(corruptionParameter('gaussian-blur', severity, 28, 28)).toBeCloseTo(sigma * 28 / 64, 12);
      expect(same(applyCorruption(small, 'gaussian-blur', severity, 0), gaussianBlur(small, sigma * 28 / 64))).toBe(true);
    }
    // ImageNet-C blurs 224-pixel images with σ = 1, 2, 3, 4, 6; the 64-pixel values were scaled from those.
    [1, 2, 3, 4, 6].forEach((sigma, i) => expect(Math.abs(corruptionParameter('gaussian-blur', i + 1, 224, 224) - sigma)).toBeLessThan(0.02));
    // A non-square image counts by its area.
    expect(corruptionSizeScale(32, 128)).toBe(1);
  });

  test('so a severity keeps the same share of a picture\'s detail at any size, where an unscaled σ is harsher on small images', () => {
    // The same picture at two sizes: 4 cycles of a sine across the image. A Gaussian keeps exp(−2π²σ²f²) of a
    // sine of f cycles per pixel, so σ proportional to the side keeps the same share at every size.
    const sine = (size: number) => {
      const image = createImage(size, size, 1);
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) image.data[y * size + x] = 0.5 + 0.3 * Math.sin((2 * Math.PI * 4 * (x + 0.5)) / size);
      return image;
    };
    /** The sine's amplitude left, over the middle half of a row (away from the replicated edges). */
    const amplitudeKept = (size: number, blurred: PlanarImage, original: PlanarImage) => {
      const row = Math.floor(size / 2) * size;
      const range = (im: PlanarImage) => {
        const values = Array.from(im.data.subarray(row + size / 4, row + (3 * size) / 4));
        return Math.max(...values) - Math.min(...values);
      };
      return range(blurred) / range(original);
    };
    const at = (size: number, sigma?: number) => {
      const image = sine(size);
      return amplitudeKept(size, sigma === undefined ? applyCorruption(image, 'gaussian-blur', 5, 0) : gaussianBlur(image, sigma), image);
    };
    const reference = at(64);
    expect(Math.abs(at(28) - reference)).toBeLessThan(0.03);
    expect(at(28, CORRUPTION_PARAMETERS['gaussian-blur'][4])).toBeLessThan(reference - 0.2);
  });

  test('sizeless corruptions are not scaled', () => {
    for (const name of ['gaussian-noise', 'contrast', 'brightness', 'jpeg', 'pixelate'] as const) {
      expect(corruptionParameter(name, 3, 28, 28)).toBe(CORRUPTION_PARAMETERS[name][2]);
    }
  });
});

describe('JPEG encoder reuse', () => {
  test('gives the bytes jpeg-js encode() writes, at every quality, image after image', () => {
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
