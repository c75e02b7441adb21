/**
 * schemas/t3.schema.json: the committed file is what src/config/published-schema.ts makes from the schema the sidecar
 * validates with, every configuration file the repository ships passes it, and a wrong value in one is reported under
 * the same key and message by the published schema and by the sidecar.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { ConfigError, loadSidecarConfig, parseJsonWithComments } from '../../src/config';
import { serializeSchema, t3FileSchema, T3_SCHEMA_FILE } from '../../src/config/published-schema';
import { configErrorsFromSchema } from '../../src/config/schema-errors';
import { ERROR_MESSAGES_KEYWORD } from '../../src/config/schema-kit';

const repoRoot = path.resolve(__dirname, '..', '..');

/** The published file as an editor or a CI job would use it: plain Ajv, our annotation keyword declared. */
function publishedValidator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  ajv.addVocabulary([ERROR_MESSAGES_KEYWORD]);
  return ajv.compile(JSON.parse(fs.readFileSync(path.join(repoRoot, T3_SCHEMA_FILE), 'utf8')) as object);
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
