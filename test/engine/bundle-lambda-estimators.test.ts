import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BundleError, demoBundleDir } from '../../src/engine';
import { parseBundleManifest } from '../../src/engine/bundle-manifest';
import { DEFAULT_SEQUENTIAL_SETTINGS, DEFAULT_SERIES_REUSE_SETTINGS } from '../../src/t3';

const file = path.join(demoBundleDir(), 'bundle.json');
const raw = (): Record<string, any> => JSON.parse(readFileSync(file, 'utf8'));

function withEstimators(estimators: unknown): Record<string, any> {
  const m = raw();
  m.t3 = { ...m.t3, estimators };
  return m;
}

describe('bundle.json t3.estimators', () => {
  test('absent: no estimator settings, so both estimators stay off (full T3B)', () => {
    expect(parseBundleManifest(raw(), file).lambdaEstimators).toBeUndefined();
  });

  test('a site turns an estimator on with its settings; the rest take the defaults', () => {
    const manifest = parseBundleManifest(withEstimators({ sequential: { enabled: true, confidence: 0.99, minImages: 12 }, seriesReuse: { enabled: true } }), file);
    expect(manifest.lambdaEstimators).toEqual({
      sequential: { ...DEFAULT_SEQUENTIAL_SETTINGS, enabled: true, confidence: 0.99, minImages: 12 },
      seriesReuse: { ...DEFAULT_SERIES_REUSE_SETTINGS, enabled: true },
    });
    // The hyperparameters themselves do not carry the section.
    expect('estimators' in manifest.t3).toBe(false);
  });

  test('an empty section keeps both off', () => {
    const manifest = parseBundleManifest(withEstimators({}), file);
    expect(manifest.lambdaEstimators?.sequential.enabled).toBe(false);
    expect(manifest.lambdaEstimators?.seriesReuse.enabled).toBe(false);
  });

  test.each([
    ['not an object', [], /t3\.estimators: must be an object/],
    ['unknown estimator', { quantized: {} }, /t3\.estimators\.quantized: unknown estimator/],
    ['unknown setting', { sequential: { confidance: 0.9 } }, /t3\.estimators\.sequential\.confidance: unknown setting/],
    ['enabled not a boolean', { seriesReuse: { enabled: 'yes' } }, /t3\.estimators\.seriesReuse\.enabled: must be true or false/],
    ['setting not a number', { sequential: { step: '2' } }, /t3\.estimators\.sequential\.step: must be a finite number/],
    ['confidence out of range', { sequential: { confidence: 1 } }, /t3\.estimators\.sequential\.confidence: must be a number in \(0, 1\)/],
    ['maxImages below minImages', { sequential: { minImages: 8, maxImages: 4 } }, /t3\.estimators\.sequential\.maxImages: \(4\) must be >= minImages \(8\)/],
    ['check images not an integer', { seriesReuse: { checkImages: 1.5 } }, /t3\.estimators\.seriesReuse\.checkImages: must be an integer >= 1/],
    ['age not positive', { seriesReuse: { maxAgeSeconds: 0 } }, /t3\.estimators\.seriesReuse\.maxAgeSeconds: must be a positive finite number/],
  ])('%s: BundleError naming the key path', (_what, estimators, pattern) => {
    let error: unknown;
    try {
      parseBundleManifest(withEstimators(estimators), file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BundleError);
    expect((error as Error).message).toMatch(pattern);
  });
});
