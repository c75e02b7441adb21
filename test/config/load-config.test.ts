import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  ConfigErrorList,
  mergeConfig,
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
  test('errors point at the offending character, an unterminated comment included', () => {
    expect(() => parseJsonWithComments('{ "a": 1,, }', 'x.json')).toThrow(/^x\.json:1:10: property name expected, found ","$/);
    expect(() => parseJsonWithComments('{\n  "a": 1\n} /* open', 'x.json')).toThrow(/^x\.json:3:3: unexpected end of comment/);
    expect(() => parseJsonWithComments('', 'x.json')).toThrow(/^x\.json:1:1: value expected/);
  });
  test('a "__proto__" key stays a key, as with JSON.parse (the validator then reports it as unknown)', () => {
    const parsed = parseJsonWithComments('{ "__proto__": { "production": false }, // note\n "a": [1,], }', 'x.json') as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(parsed).toEqual(JSON.parse('{ "__proto__": { "production": false }, "a": [1] }'));
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

describe('what an administrator is told (issue 14)', () => {
  test('every bad value is reported at once, one per line, each under its key', () => {
    let error: unknown = null;
    try {
      validateSidecarConfig(mergeConfig(defaultSidecarConfig(), {
        batching: { batchSize: 0 },
        triage: { rules: [{ code: '1', threshold: 2, priority: 'urgent' }, { code: '2', threshold: 0.5, priority: 'soon' }] },
        grpc: { listen: 'nowhere' },
        typo: 1,
      }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigErrorList);
    const keys = (error as ConfigErrorList).errors.map((e) => e.key).sort();
    expect(keys).toEqual(['T3.batching.batchSize', 'T3.grpc.listen', 'T3.triage.rules[0].threshold', 'T3.triage.rules[1].priority', 'T3.typo'].sort());
    expect((error as Error).message.split('\n')).toHaveLength(5);
  });

  test('a JSON syntax error names the line and column', () => {
    expect(() => parseJsonWithComments('{\n  // comment\n  "a": 1,\n  "b": }', 'broken.json')).toThrow(/^broken\.json:4:8: /);
  });

  test('a --config without a T3 section is warned about', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'orthanc.json'), '{ "HttpPort": 8042 }');
    const { warnings, sectionFile } = loadSidecarConfig({ configPath: dir });
    expect(sectionFile).toBeNull();
    expect(warnings).toEqual([expect.stringMatching(/has no "T3" section: the built-in defaults are used/)]);
  });

  test('the shipped orthanc-config/ is for production and refuses demonstration models unless allowed', () => {
    const { config } = loadSidecarConfig({ configPath: path.join(repoRoot, 'orthanc-config') });
    expect(config.deployment).toEqual({ production: true, allowDemonstrationModels: false });
    const allowed = loadSidecarConfig({ configPath: path.join(repoRoot, 'orthanc-config'), env: { T3_ALLOW_DEMONSTRATION_MODELS: 'true' } });
    expect(allowed.config.deployment.allowDemonstrationModels).toBe(true);
    expect(defaultSidecarConfig().deployment.production).toBe(false);
  });
});
