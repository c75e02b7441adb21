/**
 * schemas/t3.schema.json and schemas/bundle.schema.json: each committed file is what src/config/published-schema.ts
 * makes from the schema the sidecar validates with, every configuration file and bundle.json the repository ships
 * passes it, and a wrong value in one is reported under the same key and message by the published schema and by the
 * sidecar.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { ConfigError, loadSidecarConfig, parseJsonWithComments } from '../../src/config';
import { BUNDLE_SCHEMA_FILE, bundleFileSchema, serializeSchema, t3FileSchema, T3_SCHEMA_FILE } from '../../src/config/published-schema';
import { configErrorsFromSchema } from '../../src/config/schema-errors';
import { firstBundleFailure } from '../../src/util/schema-failures';
import { BundleError } from '../../src/engine';
import { parseBundleManifest } from '../../src/engine/bundle-manifest';
import { ERROR_MESSAGES_KEYWORD } from '../../src/util/schema-kit';

const repoRoot = path.resolve(__dirname, '..', '..');

/** A published file as an editor or a CI job would use it: plain Ajv, our annotation keyword declared. */
function publishedValidator(file = T3_SCHEMA_FILE): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addVocabulary([ERROR_MESSAGES_KEYWORD]);
  return ajv.compile(JSON.parse(fs.readFileSync(path.join(repoRoot, file), 'utf8')) as object);
}

/** Every Orthanc configuration the repository ships: the JSON files and the ones inside the Kubernetes ConfigMap. */
function shippedConfigurations(): { name: string; text: string }[] {
  const files = ['orthanc-config', path.join('deploy', 'orthanc')].flatMap((dir) =>
    fs.readdirSync(path.join(repoRoot, dir)).filter((f) => f.endsWith('.json')).map((f) => path.join(dir, f)),
  );
  const shipped = files.map((name) => ({ name, text: fs.readFileSync(path.join(repoRoot, name), 'utf8') }));
  const configMaps = YAML.parseAllDocuments(fs.readFileSync(path.join(repoRoot, 'deploy', 'k8s', 'configmaps.yaml'), 'utf8'));
  for (const doc of configMaps) {
    const data = (doc.toJS() as { data?: Record<string, string> } | null)?.data ?? {};
    for (const [name, text] of Object.entries(data)) if (name.endsWith('.json')) shipped.push({ name: `deploy/k8s/configmaps.yaml:${name}`, text });
  }
  return shipped;
}

test(`${T3_SCHEMA_FILE} is what scripts/generate-schemas.ts writes (run it after changing src/config/t3-schema.ts)`, () => {
  expect(fs.readFileSync(path.join(repoRoot, T3_SCHEMA_FILE), 'utf8')).toBe(serializeSchema(t3FileSchema()));
});

test('every shipped configuration passes the published schema, orthanc-config/t3.json with a T3 section among them', () => {
  const validate = publishedValidator();
  const shipped = shippedConfigurations();
  expect(shipped.map((s) => s.name)).toEqual(expect.arrayContaining([path.join('orthanc-config', 't3.json'), 'deploy/k8s/configmaps.yaml:t3.json']));
  expect(shipped.filter((s) => s.text.includes('"T3"')).length).toBeGreaterThanOrEqual(2);
  for (const { name, text } of shipped) {
    const ok = validate(parseJsonWithComments(text, name));
    expect({ name, errors: ok ? [] : validate.errors }).toEqual({ name, errors: [] });
  }
});

describe('a wrong value in a shipped file: the published schema and the sidecar name the same key with the same message', () => {
  const shippedT3 = fs.readFileSync(path.join(repoRoot, 'orthanc-config', 't3.json'), 'utf8');
  const cases: [string, string, string, RegExp][] = [
    ['a batch size out of range', '"batchSize": 32', '"batchSize": 0', /^T3\.batching\.batchSize: must be between 1 and 1024, got 0$/],
    ['a misspelt key', '"batchSize": 32', '"batchSzie": 32', /^T3\.batching\.batchSzie: unknown key \(known: batchSize, /],
    ['a priority that is no priority', '"priority": "emergency"', '"priority": "soon"', /^T3\.triage\.rules\[0\]\.priority: must be one of emergency \| urgent \| routine, got "soon"$/],
    ['a listen address without a port', '"listen": "127.0.0.1:50051"', '"listen": "nowhere"', /^T3\.grpc\.listen: must be host:port \(or "" to disable\), got "nowhere"$/],
  ];
  test.each(cases)('%s', (_what, from, to, message) => {
    expect(shippedT3).toContain(from);
    const text = shippedT3.replace(from, to);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't3-schema-'));
    try {
      fs.writeFileSync(path.join(dir, 't3.json'), text);
      let sidecar: unknown = null;
      try {
        loadSidecarConfig({ configPath: dir });
      } catch (err) {
        sidecar = err;
      }
      expect(sidecar).toBeInstanceOf(ConfigError);
      expect((sidecar as ConfigError).message).toMatch(message);

      const validate = publishedValidator();
      const file = parseJsonWithComments(text, 't3.json');
      expect(validate(file)).toBe(false);
      const published = configErrorsFromSchema(validate.errors ?? [], file, '');
      expect(published.map((e) => e.message)).toEqual([(sidecar as ConfigError).message]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('a file may leave out what the defaults give, but an item of a list or a replaced null is whole', () => {
  const validate = publishedValidator();
  expect(validate({ T3: { batching: { batchSize: 8 } }, HttpPort: 8042 })).toBe(true);
  expect(validate({ T3: { grpc: { tls: { certFile: 'server.crt', keyFile: 'server.key' } } } })).toBe(true);
  const refused = (file: unknown) => {
    expect(validate(file)).toBe(false);
    return configErrorsFromSchema(validate.errors ?? [], file, '').map((e) => e.message);
  };
  // bundles and grpc.tls replace their defaults whole (an array; null), so what they need must be there.
  expect(refused({ T3: { bundles: [{ name: 'ct' }] } })).toEqual(['T3.bundles[0].dir: must be a string, got undefined']);
  expect(refused({ T3: { grpc: { tls: { certFile: 'server.crt' } } } })).toEqual(['T3.grpc.tls.keyFile: must be a string, got undefined']);
  expect(refused({ T3: { logging: { level: 'verbose' } } })).toEqual(['T3.logging.level: must be one of debug | info | warn | error | silent, got "verbose"']);
});

describe(`${BUNDLE_SCHEMA_FILE}`, () => {
  /** Every bundle.json the repository ships: one per folder under bundles/. */
  const shippedBundles = fs.readdirSync(path.join(repoRoot, 'bundles'))
    .map((dir) => path.join('bundles', dir, 'bundle.json'))
    .filter((file) => fs.existsSync(path.join(repoRoot, file)));
  const demoBundle = (): Record<string, any> => JSON.parse(fs.readFileSync(path.join(repoRoot, 'bundles', 'demo', 'bundle.json'), 'utf8'));

  test('is what scripts/generate-schemas.ts writes (run it after changing src/engine/bundle-schema.ts)', () => {
    expect(fs.readFileSync(path.join(repoRoot, BUNDLE_SCHEMA_FILE), 'utf8')).toBe(serializeSchema(bundleFileSchema()));
  });

  test('every shipped bundle.json passes it, the demo and the fitted demo among them', () => {
    const validate = publishedValidator(BUNDLE_SCHEMA_FILE);
    expect(shippedBundles).toEqual(expect.arrayContaining([path.join('bundles', 'demo', 'bundle.json'), path.join('bundles', 'demo-trained', 'bundle.json')]));
    for (const name of shippedBundles) {
      const ok = validate(JSON.parse(fs.readFileSync(path.join(repoRoot, name), 'utf8')));
      expect({ name, errors: ok ? [] : validate.errors }).toEqual({ name, errors: [] });
    }
  });

  const cases: [string, (m: Record<string, any>) => void, string][] = [
    ['a missing class code', (m) => { delete m.classes[2].code; }, 'classes[2].code: missing or not an object'],
    ['a missing name', (m) => { delete m.name; }, 'name: missing'],
    ['a blank version', (m) => { m.version = '  '; }, 'version: must not be empty'],
    ['a standard deviation of 0', (m) => { m.input.std = [0.25, 0, 0.25]; }, 'input.std[1]: must be a positive number, got 0'],
    ['a channel count that is no count', (m) => { m.input.channels = 2.5; }, 'input.channels: must be a positive integer, got 2.5'],
    ['a resize method that is none', (m) => { m.input.resize = 'cubic'; }, 'input.resize: must be one of bilinear, nearest, area, got "cubic"'],
    ['another format version', (m) => { m.formatVersion = 2; }, 'formatVersion: must be 1, got 2'],
    ['no classes', (m) => { m.classes = []; }, 'classes: must list at least one class'],
    ['a misspelt hyperparameter', (m) => { m.t3.lambada = 1; }, 't3.lambada: unknown hyperparameter'],
    ['a hyperparameter that is no number', (m) => { m.t3.gamma = '2'; }, 't3.gamma: must be a finite number, got "2"'],
    ['a temperature of 0', (m) => { m.t3.tFt = 0; }, 't3.tFt: must be positive'],
    ['a log base of 1', (m) => { m.t3.logBase = 1; }, 't3.logBase: must be null or a positive number other than 1, got 1'],
    ['an aggregation that is none', (m) => { m.t3.batchAggregation = 'median'; }, 't3.batchAggregation: must be one of mean-lambda, lambda-of-mean-js, got "median"'],
    ['a grouping that is none', (m) => { m.t3.groupBy = 'study'; }, 't3.groupBy: must be one of js-step, series, got "study"'],
    ['a precision that is none', (m) => { m.t3.estimationPrecision = 'int4'; }, 't3.estimationPrecision: must be one of float32, int8, got "int4"'],
    ['a misspelt estimator setting', (m) => { m.t3.estimators = { sequential: { confidance: 0.9 } }; }, 't3.estimators.sequential.confidance: unknown setting'],
    ['an unknown estimator', (m) => { m.t3.estimators = { quantized: {} }; }, 't3.estimators.quantized: unknown estimator (expected sequential or seriesReuse)'],
    ['a demonstration flag that is no flag', (m) => { m.demonstration = 'yes'; }, 'demonstration: must be true or false, got "yes"'],
    ['a short model hash', (m) => { m.models.generalist.sha256 = 'abc'; }, 'models.generalist.sha256: must be 64 hexadecimal digits'],
    ['fit provenance without a data hash', (m) => { m.t3Fit = { objective: 'x', command: 'y', date: 'z', data: { images: 1, splits: [] } }; }, 't3Fit.data.sha256: missing'],
  ];
  test.each(cases)('%s: the published schema and the sidecar give the same key and message', (_what, edit, message) => {
    const manifest = demoBundle();
    edit(manifest);
    const sidecar = (() => {
      try {
        parseBundleManifest(manifest, 'bundle.json');
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(sidecar).toBeInstanceOf(BundleError);
    expect((sidecar as BundleError).message).toBe(`bundle.json: ${message}`);

    const validate = publishedValidator(BUNDLE_SCHEMA_FILE);
    expect(validate(manifest)).toBe(false);
    const published = firstBundleFailure(validate.errors ?? [], manifest);
    expect(published && `${published.key}: ${published.reason}`).toBe(message);
  });

  test.each([
    ['a mean per channel', (m: Record<string, any>) => { m.input.mean = [0.5, 0.5]; }, 'input.mean: has 2 values but input.channels is 3'],
    ['class labels that differ', (m: Record<string, any>) => { m.classes[1].label = m.classes[0].label; }, 'classes[1].label: duplicate label "Normal"'],
    ['a guard with its temperature', (m: Record<string, any>) => { m.t3.extDelta = 0.1; }, 't3.guardTemperature: must be a positive number when the extrapolation guard is on'],
    ['a model file inside the bundle', (m: Record<string, any>) => { m.models.expert.file = '../expert.onnx'; }, 'models.expert.file: must be a file inside the bundle folder'],
  ])('a rule across values (%s) is the sidecar\'s alone: the schema passes the file, the sidecar refuses it', (_what, edit, message) => {
    const manifest = demoBundle();
    edit(manifest);
    expect(publishedValidator(BUNDLE_SCHEMA_FILE)(manifest)).toBe(true);
    expect(() => parseBundleManifest(manifest, 'bundle.json')).toThrow(`bundle.json: ${message}`);
  });

  test('what a file may leave out or write as null takes its default', () => {
    const manifest = demoBundle();
    for (const key of ['description', 'modalities', 'logitScale', 'temperatures', 't3', 'demonstration']) delete manifest[key];
    manifest.input.resize = null;
    manifest.classes[0].prompt = null;
    expect(publishedValidator(BUNDLE_SCHEMA_FILE)(manifest)).toBe(true);
    const parsed = parseBundleManifest(manifest, 'bundle.json');
    expect(parsed).toMatchObject({ description: '', modalities: [], logitScale: 1, temperatures: { generalist: 1, expert: 1 }, demonstration: false });
    expect(parsed.input.resize).toBe('bilinear');
    expect(parsed.classes[0].prompt).toBe('');
  });
});
