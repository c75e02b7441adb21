/** The speculation and coordination settings: defaults (both off), validation naming the key, environment variables. */
import { ConfigError, defaultSidecarConfig, loadSidecarConfig, validateSidecarConfig } from '../../src/config';

function keyOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.key;
    throw err;
  }
  throw new Error('no ConfigError thrown');
}

test('defaults: speculation off, single coordination (one sidecar, SQLite is fine)', () => {
  const c = defaultSidecarConfig();
  expect(c.speculation.enabled).toBe(false);
  expect(c.coordination.mode).toBe('single');
  expect(validateSidecarConfig(c)).toEqual(c);
});

test('bad values are refused with the key named', () => {
  const bad = (patch: (c: any) => void) => {
    const c: any = defaultSidecarConfig();
    patch(c);
    return keyOf(() => validateSidecarConfig(c));
  };
  expect(bad((c) => (c.coordination.mode = 'cluster'))).toBe('T3.coordination.mode');
  expect(bad((c) => (c.coordination.leaseMs = 10))).toBe('T3.coordination.leaseMs');
  expect(bad((c) => (c.coordination.workerId = 'a b'))).toBe('T3.coordination.workerId');
  expect(bad((c) => (c.speculation.enabled = 'yes'))).toBe('T3.speculation.enabled');
  expect(bad((c) => (c.speculation.cacheMegabytes = 0))).toBe('T3.speculation.cacheMegabytes');
  expect(bad((c) => (c.speculation.typo = 1))).toBe('T3.speculation.typo');
});

test('environment variables switch them, and a bad one is reported under its own name', () => {
  const { config } = loadSidecarConfig({ env: { T3_SPECULATION: '1', T3_COORDINATION_MODE: 'shared', T3_WORKER_ID: 'pod-7', T3_QUIET_MS: '2000', T3_LEASE_MS: '15000' } });
  expect(config.speculation.enabled).toBe(true);
  expect(config.coordination).toEqual({ mode: 'shared', workerId: 'pod-7', quietMs: 2000, leaseMs: 15000 });
  expect(keyOf(() => loadSidecarConfig({ env: { T3_SPECULATION: 'maybe' } }))).toBe('T3_SPECULATION');
  expect(keyOf(() => loadSidecarConfig({ env: { T3_COORDINATION_MODE: 'cluster' } }))).toBe('T3_COORDINATION_MODE');
});
