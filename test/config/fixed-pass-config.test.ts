import { ConfigError, configFromEnv, defaultSidecarConfig, validateSidecarConfig } from '../../src/config';

function withSection(section: 'batching' | 'inference', patch: Record<string, unknown>): unknown {
  const config = defaultSidecarConfig();
  return { ...config, [section]: { ...config[section], ...patch } };
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

test('defaults: λ_B from every image (coefficientSample 0), fixed-pass sessions chosen by memory (auto)', () => {
  const config = validateSidecarConfig(defaultSidecarConfig());
  expect(config.batching.coefficientSample).toBe(0);
  expect(config.inference.fixedPassSessions).toBe('auto');
});

test('batching.coefficientSample: an integer from 0 to 1024', () => {
  expect(validateSidecarConfig(withSection('batching', { coefficientSample: 4 })).batching.coefficientSample).toBe(4);
  expect(validateSidecarConfig(withSection('batching', { coefficientSample: 64 })).batching.coefficientSample).toBe(64);
  for (const bad of [-1, 2.5, 'four', 2000, null]) {
    const error = errorOf(() => validateSidecarConfig(withSection('batching', { coefficientSample: bad })));
    expect(error.message).toMatch(/T3\.batching\.coefficientSample/);
  }
});

test('inference.fixedPassSessions: auto, plain or merged', () => {
  for (const value of ['auto', 'plain', 'merged']) {
    expect(validateSidecarConfig(withSection('inference', { fixedPassSessions: value })).inference.fixedPassSessions).toBe(value);
  }
  const error = errorOf(() => validateSidecarConfig(withSection('inference', { fixedPassSessions: 'both' })));
  expect(error.message).toMatch(/T3\.inference\.fixedPassSessions/);
});

test('environment: T3_COEFFICIENT_SAMPLE and T3_FIXED_PASS_SESSIONS', () => {
  expect(configFromEnv({ T3_COEFFICIENT_SAMPLE: '4', T3_FIXED_PASS_SESSIONS: 'merged' })).toEqual({
    batching: { coefficientSample: 4 }, inference: { fixedPassSessions: 'merged' },
  });
  expect(() => configFromEnv({ T3_COEFFICIENT_SAMPLE: 'x' })).toThrow(/T3_COEFFICIENT_SAMPLE/);
});

test('inference.intraOpThreads: "auto" (the default) or a count from 1', () => {
  expect(validateSidecarConfig(defaultSidecarConfig()).inference.intraOpThreads).toBe('auto');
  expect(validateSidecarConfig(withSection('inference', { intraOpThreads: 3 })).inference.intraOpThreads).toBe(3);
  for (const bad of [0, 1.5, 'many', null]) {
    const error = errorOf(() => validateSidecarConfig(withSection('inference', { intraOpThreads: bad })));
    expect(error.message).toMatch(/T3\.inference\.intraOpThreads/);
  }
  expect(configFromEnv({ T3_INTRA_OP_THREADS: '2' })).toEqual({ inference: { intraOpThreads: 2 } });
  expect(configFromEnv({ T3_INTRA_OP_THREADS: 'auto' })).toEqual({ inference: { intraOpThreads: 'auto' } });
});
