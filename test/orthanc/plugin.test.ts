/**
 * The Orthanc plugin (Python, inside a real Orthanc with authentication on, as shipped) talking to the real sidecar
 * as in the two-container deployment, on loopback: the sidecar serves mutual TLS on its own port, the plugin presents
 * a client certificate. Covered: /t3/status, /t3/config (validated by the sidecar, applied at once or not at all,
 * kept without secrets by the sidecar beside its checkpoint, 202 for partly applied changes and 409 when only
 * restart-required keys were sent, live token rotation), /t3/studies/{id}/analyze, the Explorer extension, nested
 * bodies refused before parsing, 503 when the sidecar is down, and a restarted sidecar starting on the live settings
 * it kept (all or nothing). Roles, cross-site checks and the audit: plugin-access.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { loadSidecarConfig, type SidecarConfig } from '../../src/config';
import { closeSharedFramePool } from '../../src/dicom';
import { tokenIdOf } from '../../src/grpc/token-table';
import { startServeRuntime, type ServeRuntime } from '../../src/cli/serve';
import { loadT3Protos } from '../../src/grpc';
import { bearer, codeOf, makeTestPki, unary, type TestPki } from '../grpc/grpc-test-helpers';
import { freePort, repoRoot, samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { makeTempDir, removeTempDirs, studyMetadata, waitFor } from './harness';
import { pluginRequest } from '../helpers/http-request';

jest.setTimeout(180000);

const PLUGIN_TOKEN = 'plugin-test-token-0123456789';
const LEAKED = 'plugin-leaked-token-0123456789';
const REPLACEMENT = 'plugin-new-token-0123456789abc';
const ORTHANC_PASSWORD = 'orthanc-secret-password-42';
const CREDENTIALS = { username: 't3-test-admin', password: 'test-password-0123' };
let orthanc: OrthancServer;
let runtime: ServeRuntime;
let sidecarConfig: SidecarConfig;
let pki: TestPki;
let grpcPort: number;
const logs: { event: string; fields: Record<string, unknown> }[] = [];

const call = (method: string, p: string, body?: string) => pluginRequest(orthanc.url, orthanc.authorization, method, p, body);

const startSidecar = () => startServeRuntime(sidecarConfig, { log: (event, fields) => logs.push({ event, fields }) });

/** Everything Orthanc keeps on disk (its SQLite index, the plugin's audit trail), as one string to search. */
function orthancStorageText(): string {
  const dir = path.join(orthanc.workDir, 'storage');
  return fs.readdirSync(dir).filter((f) => fs.statSync(path.join(dir, f)).isFile()).map((f) => fs.readFileSync(path.join(dir, f)).toString('latin1')).join('\n');
}

let work: string;
const liveSettingsText = () => fs.readFileSync(path.join(work, 'live-settings.json'), 'utf8');

/** A TLS client of the sidecar, as an outside tool would use it. */
function tlsClient(token: string) {
  const protos = loadT3Protos();
  const credentials = grpc.credentials.createSsl(pki.caCert, pki.clientKey, pki.clientCert);
  const triage = new protos.triageService(`127.0.0.1:${grpcPort}`, credentials);
  return {
    classify: () => codeOf(unary(triage, 'Classify', { images: [{ name: 'mr', dicom: fs.readFileSync(path.join(samplesDir, 'pydicom_MR_small.dcm')) }] }, bearer(token))),
    close: () => triage.close(),
  };
}

beforeAll(async () => {
  const gen = spawnSync(path.join(repoRoot, 'orthanc-config', 'generate-stubs.sh'), [], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`generate-stubs.sh failed: ${gen.stderr}`);
  pki = makeTestPki();
  const httpPort = await freePort();
  work = makeTempDir('t3-plugin-');
  fs.writeFileSync(path.join(work, 'plugin-token'), PLUGIN_TOKEN + '\n');
  sidecarConfig = loadSidecarConfig({
    overrides: {
      orthanc: { url: `http://127.0.0.1:${httpPort}`, username: CREDENTIALS.username, password: CREDENTIALS.password, timeoutMs: 5000 },
      follower: { checkpointPath: path.join(work, 'checkpoint.json'), pollIntervalMs: 150, maxBackoffMs: 500 },
      inference: { executionProviders: ['cpu'] },
      grpc: {
        // Port 0: the sidecar binds first and the port it got is pinned for its restarts below (a probed port could
        // be taken by another suite before the bind).
        listen: '127.0.0.1:0',
        tls: { certFile: path.join(pki.dir, 'server.crt'), keyFile: path.join(pki.dir, 'server.key'), clientCaFile: path.join(pki.dir, 'test-ca.crt') },
        tokens: [{ token: PLUGIN_TOKEN, roles: ['admin', 'triage'] }, { token: LEAKED, roles: ['triage'] }],
      },
      metrics: { listen: '127.0.0.1:0' },
    },
  }).config;
  runtime = await startSidecar();
  grpcPort = runtime.grpc!.port;
  sidecarConfig = { ...sidecarConfig, grpc: { ...sidecarConfig.grpc, listen: `127.0.0.1:${grpcPort}` } };
  orthanc = await startOrthanc({
    configDir: path.join(repoRoot, 'orthanc-config'),
    httpPort,
    stableAge: 1,
    credentials: CREDENTIALS,
    overrides: {
      T3: {
        plugin: {
          sidecarAddress: `127.0.0.1:${grpcPort}`,
          tokenFile: path.join(work, 'plugin-token'),
          deadlineSeconds: 5,
          tls: { caFile: path.join(pki.dir, 'test-ca.crt'), certFile: path.join(pki.dir, 'client.crt'), keyFile: path.join(pki.dir, 'client.key') },
        },
        worklist: { administrators: [CREDENTIALS.username] },
      },
    },
  });
});

afterAll(async () => {
  await runtime?.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  pki?.remove();
  removeTempDirs();
});

test('Orthanc as shipped asks for credentials, /t3/* routes included', async () => {
  const shipped = fs.readFileSync(path.join(repoRoot, 'orthanc-config', 'orthanc.json'), 'utf8');
  expect(shipped).toMatch(/"AuthenticationEnabled":\s*true/);
  expect((await fetch(`${orthanc.url}/t3/config`)).status).toBe(401);
  expect((await fetch(`${orthanc.url}/t3/config`, { method: 'PUT', body: '{}' })).status).toBe(401);
});

test('GET /t3/status answers through Orthanc over mutual TLS with the sidecar status', async () => {
  const r = await call('GET', '/t3/status');
  expect(r.status).toBe(200);
  expect(r.json.version).toBe(require('../../package.json').version);
  expect(r.json.models[0].bundle.name).toBe('t3-demo-chest-trained');
  expect(r.json.execution_provider).toBe('cpu');
});

test('PUT /t3/config changes a triage threshold and the next study uses it; an invalid value is refused naming the key', async () => {
  const bad = await call('PUT', '/t3/config', JSON.stringify({ triage: { rules: [{ code: '17621005', threshold: 2, priority: 'urgent' }] } }));
  expect(bad.status).toBe(400);
  expect(bad.text).toMatch(/triage\.rules\[0\]\.threshold/);

  // A rule at threshold 0 fires on any image whatever the model says, so the priority shows that the sidecar took the
  // new rule (the built-in rules never make this CT an emergency).
  const rules = [{ code: '60046008', threshold: 0, priority: 'emergency' }];
  const ok = await call('PUT', '/t3/config', JSON.stringify({ triage: { rules } }));
  expect(ok.status).toBe(200);
  expect(ok.json.applied).toBe(true);
  expect(ok.json.changedKeys).toContain('triage.rules');
  expect(runtime.service.sidecar.getConfig().triage.rules).toEqual(rules);

  const got = await call('GET', '/t3/config');
  expect(got.status).toBe(200);
  expect(got.json.overrides.triage.rules).toEqual(rules); // kept by the sidecar beside its checkpoint
  expect(got.json.effective.triage.rules).toEqual(rules);
  expect(got.json.sources['triage.rules']).toBe('live');
  expect(got.json.sources['orthanc.url']).toBe('configuration');
  expect(got.json.sources['batching.batchSize']).toBe('default');
  expect(JSON.parse(liveSettingsText()).settings.triage.rules).toEqual(rules);

  const ct = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_CT_small.dcm'));
  const meta = await waitFor('the CT study to be triaged', async () => {
    const m = await studyMetadata(orthanc, ct.ParentStudy);
    return m.T3Status === 'done' ? m : null;
  }, 40000);
  expect(meta.T3Priority).toBe('emergency');
});

test('secrets sent with PUT /t3/config are never returned or stored in clear; a token revoked there is refused by the very next call', async () => {
  const client = tlsClient(LEAKED);
  const replacement = tlsClient(REPLACEMENT);
  try {
    expect((await client.classify()).code).toBe(grpc.status.OK);
    const r = await call('PUT', '/t3/config', JSON.stringify({
      grpc: { tokens: [{ token: PLUGIN_TOKEN, roles: ['admin', 'triage'] }, { token: REPLACEMENT, roles: ['triage'] }] },
    }));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ applied: true, changedKeys: ['grpc.tokens'], restartRequired: [], notKept: ['grpc.tokens'] });
    // The very next call: the leaked token is refused, the new one accepted.
    expect((await client.classify()).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await replacement.classify()).code).toBe(grpc.status.OK);
  } finally {
    client.close();
    replacement.close();
  }
  const audit = logs.filter((l) => l.event === 'grpc-tokens-changed');
  expect(audit.map((l) => l.fields)).toEqual([{ added: [tokenIdOf(REPLACEMENT)], revoked: [tokenIdOf(LEAKED)], tokens: 2 }]);

  // An Orthanc password alone is a restart-required secret: nothing changed (409), listed, not kept.
  const password = await call('PUT', '/t3/config', JSON.stringify({ orthanc: { password: ORTHANC_PASSWORD } }));
  expect(password.status).toBe(409);
  expect(password.json).toMatchObject({ applied: false, restartRequired: ['orthanc.password'], notKept: ['orthanc.password'] });

  const got = await call('GET', '/t3/config');
  for (const secret of [REPLACEMENT, PLUGIN_TOKEN, ORTHANC_PASSWORD, CREDENTIALS.password]) {
    expect(got.text).not.toContain(secret);
    expect(password.text).not.toContain(secret);
  }
  expect(got.json.effective.grpc.tokens.map((t: { tokenId: string }) => t.tokenId)).toEqual([tokenIdOf(PLUGIN_TOKEN), tokenIdOf(REPLACEMENT)]);
  expect(got.json.overrides.grpc).toBeUndefined();
  expect(got.json.overrides.orthanc).toBeUndefined();
  // Nor on Orthanc's disk (the audit trail there records the change by token id), nor in the sidecar's live settings.
  const stored = orthancStorageText();
  expect(stored).toContain(tokenIdOf(REPLACEMENT)); // the audit of the rotation is there, so this is the right place to look
  const kept = liveSettingsText();
  expect(kept).toContain('60046008');
  for (const secret of [REPLACEMENT, PLUGIN_TOKEN, ORTHANC_PASSWORD]) {
    expect(stored).not.toContain(secret);
    expect(kept).not.toContain(secret);
  }
});

test('a change partly applied answers 202 with the applied keys and those waiting for a restart', async () => {
  const r = await call('PUT', '/t3/config', JSON.stringify({ follower: { pollIntervalMs: 400 }, retry: { maxAttempts: 4 } }));
  expect(r.status).toBe(202);
  expect(r.json.applied).toBe(true);
  expect(r.json.complete).toBe(false);
  expect(r.json.restartRequired).toEqual(['follower.pollIntervalMs']);
  expect(r.json.changedKeys).toEqual(['retry.maxAttempts']);
  expect(r.json.message).toMatch(/follower\.pollIntervalMs/);
  expect(runtime.service.sidecar.getConfig().follower.pollIntervalMs).toBe(150);
  const got = await call('GET', '/t3/config');
  expect(got.json.overrides.retry).toEqual({ maxAttempts: 4 });
  expect(got.json.overrides.follower).toBeUndefined();
});

test('a refused change (a bundle folder that does not exist) answers 409 and changes nothing, in the sidecar or in Orthanc', async () => {
  const before = await call('GET', '/t3/config');
  const r = await call('PUT', '/t3/config', JSON.stringify({ bundles: [{ name: 'demo', dir: '/nonexistent/t3-bundle' }], triage: { rules: [] } }));
  expect(r.status).toBe(409);
  const after = await call('GET', '/t3/config');
  expect(after.json).toEqual(before.json);
  expect(runtime.service.sidecar.getConfig().bundles).toEqual([{ name: 'demo', dir: 'demo' }]);
  await expect(runtime.service.sidecar.reloadModels()).resolves.toHaveLength(1);
});

test('a body nested 600 (or 20,000) levels deep is refused with 400 before it is parsed; Orthanc stays up', async () => {
  for (const depth of [600, 20000]) {
    const nested = `{"triage":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const r = await call('PUT', '/t3/config', nested);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/nested more than 32 levels/);
  }
  expect((await call('GET', '/system')).status).toBe(200);
  expect(orthanc.process.exitCode).toBeNull();
});

test('POST /t3/studies/{id}/analyze re-runs a study; the Explorer extension is served', async () => {
  const studies = (await call('GET', '/studies')).json as string[];
  const r = await call('POST', `/t3/studies/${studies[0]}/analyze`, '{}');
  expect(r.status).toBe(200);
  expect(r.json.result.orthanc_study_id).toBe(studies[0]);
  const unknown = await call('POST', '/t3/studies/00000000-00000000-00000000-00000000-00000000/analyze', '{}');
  expect(unknown.status).toBe(404);
  expect(unknown.json.error).toMatch(/not found/);
  const js = await call('GET', '/plugins/explorer.js');
  expect(js.text).toContain('t3-triage');
  expect(js.text).toContain('/analyze');
});

test('/metrics, /livez and /readyz of the sidecar', async () => {
  const base = `http://127.0.0.1:${runtime.metrics!.port}`;
  expect((await fetch(`${base}/livez`)).status).toBe(200);
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
  const text = await (await fetch(`${base}/metrics`)).text();
  expect(text).toMatch(/^t3_queue_depth\{bundle="demo",lane="stat"\} 0$/m);
  expect(text).toMatch(/^t3_model_info\{bundle="demo",version="1.0.0",execution_provider="cpu"\} 1$/m);
  expect(text).toMatch(/^t3_study_outcomes_total\{outcome="done",reason=""\} [1-9]/m);
  expect(text).toMatch(/^t3_batch_lambda_count\{bundle="demo"\} [1-9]/m);
  expect(text).toMatch(/^t3_images_classified_total\{bundle="demo",source="study"\} [1-9]/m);
  expect(text).toMatch(/^t3_study_latency_seconds_count [1-9]/m);
  expect(text).toMatch(/^t3_follower_orthanc_up 1$/m);
});

test('with the sidecar down the plugin answers 503 and Orthanc stays up', async () => {
  await runtime.grpc!.close(1000);
  const t0 = Date.now();
  const r = await call('GET', '/t3/status');
  expect(r.status).toBe(503);
  expect(r.json.error).toMatch(/not reachable/);
  expect(Date.now() - t0).toBeLessThan(6000);
  expect((await call('GET', '/system')).status).toBe(200);
});

test('a restarted sidecar starts on the live settings it kept, before it triages anything', async () => {
  await runtime.stop();
  runtime = await startSidecar();
  const overridden = [{ code: '60046008', threshold: 0, priority: 'emergency' }];
  expect(runtime.service.sidecar.getConfig().triage.rules).toEqual(overridden);
  expect(runtime.service.sidecar.getConfig().retry.maxAttempts).toBe(4);
  expect((await call('GET', '/t3/status')).status).toBe(200);
});

test('kept live settings that no longer fit (a kept bundle folder that is gone) are refused whole and logged', async () => {
  const copy = makeTempDir('t3-plugin-bundle-');
  fs.cpSync(path.join(repoRoot, 'bundles', 'demo-trained'), copy, { recursive: true });
  const put = await call('PUT', '/t3/config', JSON.stringify({ bundles: [{ name: 'demo', dir: copy }] }));
  expect(put.status).toBe(200);
  fs.rmSync(copy, { recursive: true, force: true });
  await runtime.stop();
  runtime = await startSidecar();
  expect(logs.find((l) => l.event === 'live-settings-refused')?.fields.error).toMatch(/bundle "demo": folder .* does not exist/);
  // All or nothing: the triage rules kept with the gone bundle were not applied either.
  const config = runtime.service.sidecar.getConfig();
  expect(config.bundles).toEqual([{ name: 'demo', dir: 'demo' }]);
  expect(config.triage.rules.length).toBeGreaterThan(1);
  expect((await call('GET', '/t3/status')).status).toBe(200);
});
