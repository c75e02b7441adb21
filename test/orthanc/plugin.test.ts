/**
 * The Orthanc plugin (Python, inside a real Orthanc) talking gRPC to the real sidecar: /t3/status, /t3/config
 * (validated by the sidecar, applied at once, kept in a global property), /t3/studies/{id}/analyze, the Explorer
 * extension, and 503 when the sidecar is down.
 */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadSidecarConfig } from '../../src/config';
import { closeSharedFramePool } from '../../src/dicom';
import { startServeRuntime, type ServeRuntime } from '../../src/cli/serve';
import { freePort, repoRoot, samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { makeTempDir, removeTempDirs, studyMetadata, waitFor } from './harness';

jest.setTimeout(120000);

const TOKEN = 'plugin-test-token-0123456789';
let orthanc: OrthancServer;
let runtime: ServeRuntime;
let sidecarConfig: ReturnType<typeof loadSidecarConfig>['config'];

async function call(method: string, p: string, body?: string): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(orthanc.url + p, { method, body });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}

beforeAll(async () => {
  const gen = spawnSync(path.join(repoRoot, 'orthanc-config', 'generate-stubs.sh'), [], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`generate-stubs.sh failed: ${gen.stderr}`);
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const work = makeTempDir('t3-plugin-');
  const { config } = loadSidecarConfig({
    overrides: {
      orthanc: { url: `http://127.0.0.1:${httpPort}`, timeoutMs: 5000 },
      follower: { checkpointPath: path.join(work, 'checkpoint.json'), pollIntervalMs: 150, maxBackoffMs: 500 },
      inference: { executionProviders: ['cpu'] },
      grpc: { listen: `127.0.0.1:${grpcPort}`, tokens: [{ token: TOKEN, roles: ['admin', 'triage'] }] },
      metrics: { listen: '127.0.0.1:0' },
    },
  });
  sidecarConfig = config;
  runtime = await startServeRuntime(config, { log: () => undefined });
  orthanc = await startOrthanc({
    configDir: path.join(repoRoot, 'orthanc-config'),
    httpPort,
    stableAge: 1,
    overrides: { T3: { plugin: { sidecarAddress: `127.0.0.1:${grpcPort}`, token: TOKEN, deadlineSeconds: 5 } } },
  });
});

afterAll(async () => {
  await runtime?.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

test('GET /t3/status answers through Orthanc with the sidecar status', async () => {
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

  // The demo model gives this CT "Pleural effusion" (60046008) above 0.9, which the built-in rules call urgent;
  // the new rule makes it an emergency.
  const rules = [{ code: '60046008', threshold: 0.3, priority: 'emergency' }];
  const ok = await call('PUT', '/t3/config', JSON.stringify({ triage: { rules } }));
  expect(ok.status).toBe(200);
  expect(ok.json.applied).toBe(true);
  expect(ok.json.changedKeys).toContain('triage.rules');
  expect(runtime.service.sidecar.getConfig().triage.rules).toEqual(rules);

  const got = await call('GET', '/t3/config');
  expect(got.status).toBe(200);
  expect(got.json.overrides.triage.rules).toEqual(rules); // kept in Orthanc's global property
  expect(got.json.effective.triage.rules).toEqual(rules);

  const ct = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_CT_small.dcm'));
  const meta = await waitFor('the CT study to be triaged', async () => {
    const m = await studyMetadata(orthanc, ct.ParentStudy);
    return m.T3Status === 'done' ? m : null;
  }, 40000);
  expect(meta.T3Priority).toBe('emergency');
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
  expect(text).toMatch(/^t3_batch_lambda_count\{bundle="t3-demo-chest-trained"\} [1-9]/m);
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

test('a restarted sidecar gets the runtime configuration kept in Orthanc back without any admin action', async () => {
  await runtime.stop();
  runtime = await startServeRuntime(sidecarConfig, { log: () => undefined });
  const overridden = [{ code: '60046008', threshold: 0.3, priority: 'emergency' }];
  expect(runtime.service.sidecar.getConfig().triage.rules).not.toEqual(overridden);
  await waitFor('the plugin to re-apply its overrides', () => runtime.service.sidecar.getConfig().triage.rules.length === 1, 30000, 250);
  expect(runtime.service.sidecar.getConfig().triage.rules).toEqual(overridden);
  expect((await call('GET', '/t3/status')).status).toBe(200);
});
