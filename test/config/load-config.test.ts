import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  defaultSidecarConfig,
  loadSidecarConfig,
  parseJsonWithComments,
  readT3Section,
  validateSidecarConfig,
} from '../../src/config';

const repoRoot = path.resolve(__dirname, '..', '..');

const made: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't3-config-'));
  made.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function expectConfigError(fn: () => unknown, key: string, message?: RegExp): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).key).toBe(key);
  if (message) expect((caught as ConfigError).message).toMatch(message);
}

describe('Orthanc-style JSON', () => {
  test('comments and trailing commas are accepted, strings with // and /* are kept', () => {
    const text = `// head\n{ "a": "http://x/*y*/", /* block\n comment */ "b": [1, 2, ], // tail\n "c": {"d": 1,},\n}`;
    expect(parseJsonWithComments(text, 'x.json')).toEqual({ a: 'http://x/*y*/', b: [1, 2], c: { d: 1 } });
  });
  test('a syntax error names the file', () => {
    expect(() => parseJsonWithComments('{"a": }', 'broken.json')).toThrow(/broken\.json/);
  });
});

describe('loadSidecarConfig', () => {
  test('defaults validate, and the repository orthanc-config/ folder gives a valid T3 section', () => {
    expect(validateSidecarConfig(defaultSidecarConfig())).toEqual(defaultSidecarConfig());
    const { config, sectionFile } = loadSidecarConfig({ configPath: path.join(repoRoot, 'orthanc-config') });
    expect(path.basename(sectionFile!)).toBe('t3.json');
    expect(config.bundles).toEqual([{ name: 'demo', dir: 'demo' }]);
    expect(config.plugin.sidecarAddress).toBe('127.0.0.1:50051');
  });

  test('layers: defaults ← T3 section ← environment ← overrides; relative paths resolve against the file', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'orthanc.json'), '{ "HttpPort": 8042, }');
    fs.writeFileSync(path.join(dir, 't3.json'), '{ "T3": { "batching": { "batchSize": 8 }, "follower": { "checkpointPath": "cp.json" }, } }');
    const { config } = loadSidecarConfig({
      configPath: dir,
      env: { T3_ORTHANC_URL: 'http://10.0.0.5:8042/', T3_BATCH_SCOPE: 'stream', T3_EXECUTION_PROVIDERS: 'cpu' },
      overrides: { batching: { maxDelayMs: 50 } },
    });
    expect(config.batching).toEqual({ batchSize: 8, maxDelayMs: 50, scope: 'stream', queueBound: 512, coefficientSample: 0 });
    expect(config.orthanc.url).toBe('http://10.0.0.5:8042');
    expect(config.follower.checkpointPath).toBe(path.join(dir, 'cp.json'));
    expect(config.inference.executionProviders).toEqual(['cpu']);
  });

  test('errors name the key: section values, unknown keys (typos), environment variables', () => {
    expectConfigError(() => validateSidecarConfig({ ...defaultSidecarConfig(), batching: { ...defaultSidecarConfig().batching, batchSize: 0 } }), 'T3.batching.batchSize', /between 1 and 1024/);
    expectConfigError(() => loadSidecarConfig({ overrides: { batching: { batchSzie: 4 } } }), 'T3.batching.batchSzie', /unknown key/);
    expectConfigError(() => loadSidecarConfig({ overrides: { triage: { rules: [{ code: '1', threshold: 1.5, priority: 'urgent' }] } } }), 'T3.triage.rules[0].threshold');
    expectConfigError(() => loadSidecarConfig({ overrides: { triage: { rules: [{ code: '1', threshold: 0.5, priority: 'soon' }] } } }), 'T3.triage.rules[0].priority', /emergency \| urgent \| routine/);
    expectConfigError(() => loadSidecarConfig({ overrides: { routing: { rules: [{ bundle: 'nope' }] } } }), 'T3.routing.rules[0].bundle', /no configured bundle/);
    expectConfigError(() => loadSidecarConfig({ overrides: { routing: { rules: [{ bundle: 'demo', seriesDescription: '(' }] } } }), 'T3.routing.rules[0].seriesDescription', /regular expression/);
    expectConfigError(() => loadSidecarConfig({ overrides: { orthanc: { url: 'http://u:p@host:8042' } } }), 'T3.orthanc.url', /credentials/);
    expectConfigError(() => loadSidecarConfig({ overrides: { grpc: { listen: 'nowhere' } } }), 'T3.grpc.listen');
    expectConfigError(() => loadSidecarConfig({ overrides: { grpc: { tokens: [{ token: 'x'.repeat(20), role: 'root' }] } } }), 'T3.grpc.tokens[0].role');
    expectConfigError(() => loadSidecarConfig({ env: { T3_BATCH_SIZE: 'abc' } }), 'T3_BATCH_SIZE', /integer/);
    expectConfigError(() => loadSidecarConfig({ env: { T3_BATCH_SIZE: '5000' } }), 'T3_BATCH_SIZE', /between 1 and 1024/);
    expectConfigError(() => loadSidecarConfig({ env: { T3_PIXEL_SOURCE: 'gpu' } }), 'T3_PIXEL_SOURCE', /local \| orthanc/);
  });

  test('a T3 key in two files of the folder is refused, as Orthanc refuses it', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.json'), '{ "T3": {} }');
    fs.writeFileSync(path.join(dir, 'b.json'), '{ "T3": {} }');
    expectConfigError(() => readT3Section(dir), 'T3', /both .*a\.json and .*b\.json/);
  });

  test('a missing path is an error naming it', () => {
    expectConfigError(() => loadSidecarConfig({ configPath: '/nonexistent/t3.json' }), 'T3', /does not exist/);
  });
});
