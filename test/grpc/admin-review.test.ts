/**
 * The security review's findings on the sidecar's own side (issue 15), each against the server `serve` runs
 * (startServeRuntime, change feed off, Orthanc unreachable), from @grpc/grpc-js clients and from Debian's
 * python3-grpcio with stubs from Debian's protoc:
 * live token rotation audited by id, restart-required keys, atomic updates, nested JSON, AnalyzeStudy while Orthanc
 * is down, counters for Classify, one bundle label, and batch_lambda absent for one-model policies.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { loadSidecarConfig } from '../../src/config';
import { closeSharedFramePool } from '../../src/dicom';
import { tokenIdOf } from '../../src/grpc/token-table';
import { startServeRuntime, type ServeRuntime } from '../../src/cli/serve';
import { bearer, codeOf, connect, readSample, repoRoot, samplesDir, unary, type TestClients } from './grpc-test-helpers';

jest.setTimeout(120000);

const ADMIN = 'review-admin-token-0123456789';
const LEAKED = 'review-leaked-token-0123456789';
const REPLACEMENT = 'review-new-token-0123456789ab';

let runtime: ServeRuntime;
let clients: TestClients;
let work: string;
const logLines: { event: string; fields: Record<string, unknown> }[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 't3-admin-review-'));
  const { config } = loadSidecarConfig({
    overrides: {
      // Nothing listens there: Orthanc is "down" for the whole file.
      orthanc: { url: 'http://127.0.0.1:9', timeoutMs: 2000 },
      follower: { checkpointPath: path.join(work, 'checkpoint.json') },
      inference: { executionProviders: ['cpu'] },
      grpc: { listen: '127.0.0.1:0', tokens: [{ token: ADMIN, roles: ['admin', 'triage'] }, { token: LEAKED, roles: ['triage'] }] },
      metrics: { listen: '127.0.0.1:0' },
    },
  });
  runtime = await startServeRuntime(config, { log: (event, fields) => logLines.push({ event, fields }), follow: false });
  clients = connect(runtime.grpc!.port);
});

afterAll(async () => {
  clients?.close();
  await runtime?.stop();
  await closeSharedFramePool();
  fs.rmSync(work, { recursive: true, force: true });
});

const updateConfig = (patch: unknown, token = ADMIN) => unary(clients.admin, 'UpdateConfig', { json: JSON.stringify(patch) }, bearer(token));
const getConfig = async () => JSON.parse((await unary(clients.admin, 'GetConfig', {}, bearer(ADMIN))).json);
const metricsText = async () => (await fetch(`http://127.0.0.1:${runtime.metrics!.port}/metrics`)).text();

test('AnalyzeStudy while Orthanc is down answers UNAVAILABLE', async () => {
  const result = await codeOf(unary(clients.triage, 'AnalyzeStudy', {
    study: { orthancStudyId: '00000000-00000000-00000000-00000000-00000000' }, writeBack: true,
  }, bearer(ADMIN)));
  expect(result.code).toBe(grpc.status.UNAVAILABLE);
  expect(result.details).toMatch(/Orthanc/);
});

test('UpdateConfig with JSON nested 20,000 (or 600) levels deep answers INVALID_ARGUMENT and changes nothing', async () => {
  const before = await getConfig();
  for (const depth of [20000, 600]) {
    const nested = `{"triage":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const result = await codeOf(unary(clients.admin, 'UpdateConfig', { json: nested }, bearer(ADMIN)));
    expect(result.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(result.details).toMatch(/nested more than 32 levels/);
  }
  // Brackets inside strings are not nesting.
  const inString = await codeOf(updateConfig({ routing: { rules: [{ bundle: 'demo', studyDescription: '['.repeat(100) }] } }));
  expect(inString.code).toBe(grpc.status.INVALID_ARGUMENT); // an invalid regex, named as such, not a depth refusal
  expect(inString.details).toMatch(/regular expression/);
  expect(await getConfig()).toEqual(before);
});

test('a token revoked through UpdateConfig is refused by the very next call, the new one is accepted; the log names token ids only', async () => {
  const classify = (token: string) => codeOf(unary(clients.triage, 'Classify', { images: [{ name: 'mr', dicom: readSample('pydicom_MR_small.dcm') }] }, bearer(token)));
  expect((await classify(LEAKED)).code).toBe(grpc.status.OK);
  expect((await classify(REPLACEMENT)).code).toBe(grpc.status.UNAUTHENTICATED);

  const update = await updateConfig({ grpc: { tokens: [{ token: ADMIN, roles: ['admin', 'triage'] }, { token: REPLACEMENT, roles: ['triage'] }] } });
  expect(update.applied).toBe(true);
  expect(update.changedKeys).toEqual(['grpc.tokens']);
  expect(update.restartRequired).toEqual([]);
  expect(update.json).not.toContain(REPLACEMENT);

  expect((await classify(LEAKED)).code).toBe(grpc.status.UNAUTHENTICATED);
  expect((await classify(REPLACEMENT)).code).toBe(grpc.status.OK);

  const audit = logLines.filter((l) => l.event === 'grpc-tokens-changed');
  expect(audit).toHaveLength(1);
  expect(audit[0].fields).toEqual({ added: [tokenIdOf(REPLACEMENT)], revoked: [tokenIdOf(LEAKED)], tokens: 2 });
  const everything = JSON.stringify(logLines);
  for (const secret of [ADMIN, LEAKED, REPLACEMENT]) expect(everything).not.toContain(secret);

  // GetConfig shows which tokens are configured by id, never the tokens.
  const shown = (await getConfig()).grpc.tokens;
  expect(shown).toEqual([
    { token: '***', tokenId: tokenIdOf(ADMIN), roles: ['admin', 'triage'] },
    { token: '***', tokenId: tokenIdOf(REPLACEMENT), roles: ['triage'] },
  ]);
});

test('a token change that cannot be applied (a short token, or no token left) changes nothing', async () => {
  const before = await getConfig();
  const short = await codeOf(updateConfig({ grpc: { tokens: [{ token: ADMIN, roles: ['admin'] }, { token: 'short', roles: ['triage'] }] } }));
  expect(short.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(short.details).toMatch(/grpc\.tokens\[1\]\.token: must be at least 16 characters/);
  const none = await codeOf(updateConfig({ grpc: { tokens: [] } }));
  expect(none.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(await getConfig()).toEqual(before);
  expect((await codeOf(unary(clients.admin, 'GetStatus', {}, bearer(ADMIN)))).code).toBe(grpc.status.OK);
});

test('a setting that needs a restart is listed by its key and not applied', async () => {
  const before = await getConfig();
  const update = await updateConfig({ grpc: { listen: '127.0.0.1:1' }, orthanc: { timeoutMs: 3000 }, retry: { maxAttempts: 5 } });
  expect(update.restartRequired).toEqual(['grpc.listen', 'orthanc.timeoutMs']);
  expect(update.changedKeys).toEqual(['retry.maxAttempts']);
  const after = await getConfig();
  expect(after.grpc.listen).toBe(before.grpc.listen);
  expect(after.orthanc.timeoutMs).toBe(before.orthanc.timeoutMs);
  expect(after.retry.maxAttempts).toBe(5);
});

test('a refused update (a bundle folder that does not exist) leaves everything as it was; ReloadModels still works', async () => {
  const before = await getConfig();
  const missing = path.join(work, 'no-such-bundle');
  const refused = await codeOf(updateConfig({ bundles: [{ name: 'demo', dir: missing }], triage: { rules: [] } }));
  expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
  expect(refused.details).toContain(missing);
  const after = await getConfig();
  expect(after).toEqual(before);
  expect(after.bundles).toEqual([{ name: 'demo', dir: 'demo' }]);
  expect(after.triage.rules.length).toBeGreaterThan(0);
  const reloaded = await unary(clients.admin, 'ReloadModels', { bundles: [] }, bearer(ADMIN));
  expect(reloaded.models[0].bundle.name).toBe('t3-demo-chest-trained');
});

test('Classify counts in GetStatus images_total and /metrics under the configured bundle name; --no-follow reports no Orthanc connection', async () => {
  const statusBefore = await unary(clients.admin, 'GetStatus', {}, bearer(ADMIN));
  const before = Number(statusBefore.throughput.imagesTotal);
  const images = ['pydicom_MR_small.dcm', 'pydicom_CT_small.dcm'].map((name) => ({ name, dicom: readSample(name) }));
  await unary(clients.triage, 'Classify', { images }, bearer(ADMIN));
  const status = await unary(clients.admin, 'GetStatus', {}, bearer(ADMIN));
  expect(Number(status.throughput.imagesTotal)).toBe(before + 2);
  expect(status.follower).toMatchObject({ connected: false });

  const text = await metricsText();
  const classified = /^t3_images_classified_total\{bundle="demo",source="classify"\} (\d+)$/m.exec(text);
  expect(Number(classified?.[1])).toBeGreaterThanOrEqual(2);
  expect(text).toMatch(/^t3_batch_lambda_count\{bundle="demo"\} [1-9]/m);
  expect(text).toMatch(/^t3_follower_orthanc_up 0$/m);
  // One label for a bundle across metrics: the configured name.
  const labels = new Set([...text.matchAll(/bundle="([^"]*)"/g)].map((m) => m[1]));
  expect([...labels]).toEqual(['demo']);
});

test('batch_lambda is absent for one-model policies and present for t3b (python3-grpcio HasField)', async () => {
  const stubs = fs.mkdtempSync(path.join(os.tmpdir(), 't3-py-lambda-'));
  try {
    execFileSync('protoc', [
      '-I', path.join(repoRoot, 'proto'), `--python_out=${stubs}`, `--grpc_out=${stubs}`,
      '--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin', 't3/v1/common.proto', 't3/v1/triage.proto', 't3/v1/admin.proto',
    ]);
    const script = `
import json, sys, grpc
from t3.v1 import triage_pb2, triage_pb2_grpc, common_pb2
stub = triage_pb2_grpc.TriageServiceStub(grpc.insecure_channel('127.0.0.1:' + sys.argv[1]))
with open(sys.argv[3], 'rb') as f:
    data = f.read()
out = {}
for name in ['POLICY_T3B', 'POLICY_GENERALIST', 'POLICY_EXPERT', 'POLICY_WISE', 'POLICY_ENSEMBLE']:
    reply = stub.Classify(triage_pb2.ClassifyRequest(images=[triage_pb2.ImageInput(name='ct', dicom=data)], policy=common_pb2.Policy.Value(name)),
                          metadata=[('authorization', 'Bearer ' + sys.argv[2])], timeout=60)
    out[name] = [reply.batches[0].HasField('batch_lambda'), reply.images[0].HasField('batch_lambda')]
print(json.dumps(out))
`;
    const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script, String(runtime.grpc!.port), ADMIN, path.join(samplesDir, 'pydicom_CT_small.dcm')], {
      cwd: stubs, env: { ...process.env, PYTHONPATH: stubs }, encoding: 'utf8', timeout: 90000,
    });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({
      POLICY_T3B: [true, true],
      POLICY_GENERALIST: [false, false],
      POLICY_EXPERT: [false, false],
      POLICY_WISE: [false, false],
      POLICY_ENSEMBLE: [false, false],
    });
  } finally {
    fs.rmSync(stubs, { recursive: true, force: true });
  }
});
