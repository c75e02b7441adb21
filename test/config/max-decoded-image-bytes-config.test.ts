/** T3.inference.maxDecodedImageBytes: the bound on an image's declared decoded size, validated and set by env. */
import { ConfigError, defaultSidecarConfig, ENV_BINDINGS, loadSidecarConfig, validateSidecarConfig } from '../../src/config';
import { DEFAULT_MAX_DECODED_IMAGE_BYTES } from '../../src/dicom';

function withInference(patch: Record<string, unknown>): unknown {
  const config = defaultSidecarConfig();
  return { ...config, inference: { ...config.inference, ...patch } };
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no ConfigError');
}

test('the default is dicom/\'s 256 MiB', () => {
  expect(DEFAULT_MAX_DECODED_IMAGE_BYTES).toBe(256 * 1024 * 1024);
  expect(validateSidecarConfig(defaultSidecarConfig()).inference.maxDecodedImageBytes).toBe(DEFAULT_MAX_DECODED_IMAGE_BYTES);
});

test('an integer number of bytes from 1 MiB to 64 GiB', () => {
  expect(validateSidecarConfig(withInference({ maxDecodedImageBytes: 1024 * 1024 })).inference.maxDecodedImageBytes).toBe(1024 * 1024);
  for (const bad of [0, 1000, 1.5e6 + 0.5, 'big', null, 2 ** 40]) {
    expect(errorOf(() => validateSidecarConfig(withInference({ maxDecodedImageBytes: bad }))).key).toBe('T3.inference.maxDecodedImageBytes');
  }
});

test('T3_MAX_DECODED_IMAGE_BYTES sets it (and is listed with the other variables, which serve --help prints)', () => {
  expect(ENV_BINDINGS.find((b) => b.name === 'T3_MAX_DECODED_IMAGE_BYTES')?.path).toEqual(['inference', 'maxDecodedImageBytes']);
  expect(loadSidecarConfig({ env: { T3_MAX_DECODED_IMAGE_BYTES: '536870912' } }).config.inference.maxDecodedImageBytes).toBe(536870912);
  expect(errorOf(() => loadSidecarConfig({ env: { T3_MAX_DECODED_IMAGE_BYTES: '12' } })).key).toBe('T3_MAX_DECODED_IMAGE_BYTES');
  expect(errorOf(() => loadSidecarConfig({ env: { T3_MAX_DECODED_IMAGE_BYTES: 'lots' } })).key).toBe('T3_MAX_DECODED_IMAGE_BYTES');
});
