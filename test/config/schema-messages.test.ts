/**
 * The messages the schema-driven validation gives, one per kind of failure, written out in full: they are the ones
 * the hand-written checks gave before the schema (src/config/t3-schema.ts), so administrators' notes and scripts that
 * quote them keep working.
 */
import { ConfigError, ConfigErrorList, defaultSidecarConfig, loadSidecarConfig, mergeConfig, validateSidecarConfig } from '../../src/config';

function messageOf(patch: Record<string, unknown>): string {
  try {
    validateSidecarConfig(mergeConfig(defaultSidecarConfig(), patch));
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('the configuration was accepted');
}

test.each([
  [{ batching: { batchSize: 'x' } }, 'T3.batching.batchSize: must be a number, got "x"'],
  [{ batching: { batchSize: 2.5 } }, 'T3.batching.batchSize: must be an integer, got 2.5'],
  [{ batching: { batchSize: 0 } }, 'T3.batching.batchSize: must be between 1 and 1024, got 0'],
  [{ batching: { scope: 5 } }, 'T3.batching.scope: must be one of study | stream, got 5'],
  [{ batching: [] }, 'T3.batching: must be an object, got an array'],
  [{ batching: { queueBound: 4 } }, 'T3.batching.queueBound: must be at least batchSize (32), got 4'],
  [{ inference: { framePolicy: 'last' } }, 'T3.inference.framePolicy: must be one of first | middle | all, got "last"'],
  [{ inference: { framePolicy: -1 } }, 'T3.inference.framePolicy: must be between 0 and 100000, got -1'],
  [{ inference: { executionProviders: [] } }, 'T3.inference.executionProviders: must name at least one provider'],
  [{ inference: { executionProviders: ['tpu'] } }, 'T3.inference.executionProviders[0]: must be one of cuda | webgpu | cpu, got "tpu"'],
  [{ bundles: [] }, 'T3.bundles: must list at least one bundle'],
  [{ bundles: [{ name: 'a' }] }, 'T3.bundles[0].dir: must be a string, got undefined'],
  [{ bundles: [{ name: '', dir: 'demo' }] }, 'T3.bundles[0].name: must not be empty'],
  [{ bundles: [{ name: 'demo', dir: 'demo' }, { name: 'demo', dir: 'x' }] }, 'T3.bundles[1].name: duplicate bundle name "demo"'],
  [{ orthanc: { url: 'ftp://x' } }, 'T3.orthanc.url: must be http or https'],
  [{ orthanc: { username: 'a' } }, 'T3.orthanc.password: username and password go together'],
  [{ speculation: { enabled: 'yes' } }, 'T3.speculation.enabled: must be true or false, got "yes"'],
  [{ coordination: { workerId: 'a b' } }, 'T3.coordination.workerId: may hold only letters, digits and . _ : - (at most 128), got "a b"'],
  [{ follower: { problemRepeatMs: 70000 } }, 'T3.follower.problemRepeatMs: must be between 1000 and 60000, got 70000'],
  [{ grpc: { tokens: [{ token: 'x' }] } }, 'T3.grpc.tokens[0]: needs "role" or "roles" (triage, admin)'],
  [{ plugin: { tls: { certFile: 'a' } } }, 'T3.plugin.tls.keyFile: certFile and keyFile go together'],
  [{ retry: { maxDelayMs: 10 } }, 'T3.retry.maxDelayMs: must be at least initialDelayMs (1000)'],
  [{ metrics: { typo: 1 } }, 'T3.metrics.typo: unknown key (known: listen)'],
])('%j', (patch, message) => {
  expect(messageOf(patch)).toBe(message);
});

test('intraOpThreads is reported under its own key, so a bad T3_INTRA_OP_THREADS is reported under the variable', () => {
  // Before the schema the key read `T3.inference.intraOpThreads ("auto" or a count)`, which no variable matched.
  expect(messageOf({ inference: { intraOpThreads: 'many' } })).toBe('T3.inference.intraOpThreads: must be "auto" or an integer between 1 and 1024, got "many"');
  expect(messageOf({ inference: { intraOpThreads: 0 } })).toBe('T3.inference.intraOpThreads: must be between 1 and 1024, got 0');
  let caught: unknown = null;
  try {
    loadSidecarConfig({ env: { T3_INTRA_OP_THREADS: '0' } });
  } catch (err) {
    caught = err;
  }
  expect((caught as ConfigError).key).toBe('T3_INTRA_OP_THREADS');
  expect((caught as ConfigError).message).toBe('T3_INTRA_OP_THREADS: must be between 1 and 1024, got 0');
});

test('every bad field of one item is reported, and a section with a wrong value skips its cross-field rules', () => {
  let caught: unknown = null;
  try {
    validateSidecarConfig(mergeConfig(defaultSidecarConfig(), { triage: { rules: [{ code: '1', threshold: 2, priority: 'x' }] }, batching: { batchSize: 2000, queueBound: 4 } }));
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigErrorList);
  expect((caught as ConfigErrorList).errors.map((e) => e.message)).toEqual([
    'T3.batching.batchSize: must be between 1 and 1024, got 2000',
    'T3.triage.rules[0].threshold: must be between 0 and 1, got 2',
    'T3.triage.rules[0].priority: must be one of emergency | urgent | routine, got "x"',
  ]);
});

test('values a file may leave out are filled in; a trailing slash of the Orthanc URL is dropped', () => {
  const config = validateSidecarConfig(mergeConfig(defaultSidecarConfig(), {
    orthanc: { url: 'http://pacs:8042//' },
    grpc: { tls: { certFile: 'a.crt', keyFile: 'a.key' } },
    plugin: { tls: { caFile: 'ca.crt' } },
    triage: { disagreement: { jsThreshold: null, lambdaDistanceThreshold: 0.2 } },
  }));
  expect(config.orthanc.url).toBe('http://pacs:8042');
  expect(config.grpc.tls).toEqual({ certFile: 'a.crt', keyFile: 'a.key', clientCaFile: null });
  expect(config.plugin.tls).toEqual({ caFile: 'ca.crt', certFile: null, keyFile: null, serverName: null });
  expect(config.triage.disagreement).toEqual({ lambdaDistanceThreshold: 0.2 });
});

test('a value left out of a section that replaced its default whole is reported as the hand-written checks did', () => {
  expect(messageOf({ grpc: { tls: { certFile: 'a.crt', keyFile: 'a.key' } }, retry: null })).toBe('T3.retry: must be an object, got null');
  const config = mergeConfig(defaultSidecarConfig(), {}) as { batching: Record<string, unknown> };
  delete config.batching.maxDelayMs;
  let caught: unknown = null;
  try {
    validateSidecarConfig(config);
  } catch (err) {
    caught = err;
  }
  expect((caught as ConfigError).message).toBe('T3.batching.maxDelayMs: must be a number, got undefined');
});
