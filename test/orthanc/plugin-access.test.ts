/**
 * Roles, cross-site checks and the audit trail of the plugin's /t3/* routes, through a real Orthanc (authentication
 * on, an administrator and a reader in RegisteredUsers, T3.worklist.administrators naming the first) with the plugin
 * and the real sidecar: every route and method for the administrator, the reader and no login; cross-site requests
 * refused; audit entries for a change, a re-run and refused attempts kept across a sidecar restart; a study sent
 * while the sidecar is down triaged under the rules changed live before the restart (the sidecar keeps them beside
 * its checkpoint and reads them before it follows Orthanc again).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadSidecarConfig, LIVE_SETTINGS_FILE, type SidecarConfig } from '../../src/config';
import { closeSharedFramePool } from '../../src/dicom';
import { startServeRuntime, type ServeRuntime } from '../../src/cli/serve';
import { freePort, repoRoot, samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { makeTempDir, removeTempDirs, studyMetadata, waitFor } from './harness';
import { pluginRequest } from '../helpers/http-request';

jest.setTimeout(240000);

const TOKEN = 'plugin-access-token-0123456789';
const SERVICE = { username: 'orthanc-t3', password: 'service-password-0123' };
const ADMIN = { username: 'head-radiographer', password: 'admin-password-0123' };
const READER = { username: 'radiologist', password: 'reader-password-0123' };
let orthanc: OrthancServer;
let runtime: ServeRuntime;
let sidecarConfig: SidecarConfig;
let work: string;
let studyId: string;
const logs: { event: string; fields: Record<string, unknown> }[] = [];

type Who = 'admin' | 'reader' | 'nobody';
const basic = (u: { username: string; password: string }) => 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64');

function call(who: Who, method: string, p: string, options: { body?: string; headers?: Record<string, string> } = {}) {
  const authorization = who === 'nobody' ? null : basic(who === 'admin' ? ADMIN : READER);
  return pluginRequest(orthanc.url, authorization, method, p, options.body, options.headers);
}

const startSidecar = () => startServeRuntime(sidecarConfig, { log: (event, fields) => logs.push({ event, fields }) });
const audit = async () => (await call('admin', 'GET', '/t3/audit')).json.entries as any[];

beforeAll(async () => {
  const gen = spawnSync(path.join(repoRoot, 'orthanc-config', 'generate-stubs.sh'), [], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`generate-stubs.sh failed: ${gen.stderr}`);
  const httpPort = await freePort();
  work = makeTempDir('t3-plugin-access-');
  sidecarConfig = loadSidecarConfig({
    overrides: {
      orthanc: { url: `http://127.0.0.1:${httpPort}`, username: SERVICE.username, password: SERVICE.password, timeoutMs: 5000 },
      follower: { checkpointPath: path.join(work, 'state', 'checkpoint.json'), pollIntervalMs: 150, maxBackoffMs: 500 },
      inference: { executionProviders: ['cpu'] },
      grpc: { listen: '127.0.0.1:0', tls: null, tokens: [{ token: TOKEN, roles: ['admin', 'triage'] }] },
      metrics: { listen: '' },
    },
  }).config;
  runtime = await startSidecar();
  // Pinned for the restart below: the plugin keeps calling the same address.
  sidecarConfig = { ...sidecarConfig, grpc: { ...sidecarConfig.grpc, listen: `127.0.0.1:${runtime.grpc!.port}` } };
  orthanc = await startOrthanc({
    configDir: path.join(repoRoot, 'orthanc-config'),
    httpPort,
    stableAge: 1,
    credentials: SERVICE,
    overrides: {
      RegisteredUsers: { [SERVICE.username]: SERVICE.password, [ADMIN.username]: ADMIN.password, [READER.username]: READER.password },
      T3: {
        plugin: { sidecarAddress: `127.0.0.1:${runtime.grpc!.port}`, token: TOKEN, deadlineSeconds: 5 },
        worklist: { administrators: [ADMIN.username] },
      },
    },
  });
  const ct = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_CT_small.dcm'));
  studyId = ct.ParentStudy;
  await waitFor('the CT study to be triaged', async () => (await studyMetadata(orthanc, studyId)).T3Sr, 60000);
});

afterAll(async () => {
  await runtime?.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

test('every /t3/* route and method for an administrator, a reader and no login', async () => {
  const rules = JSON.stringify({ triage: { disagreement: { jsThreshold: 0.3 } } });
  // [method, path, body, administrator, reader, nobody]
  const matrix: [string, string, string | undefined, number, number, number][] = [
    ['GET', '/t3/app/', undefined, 200, 200, 401],
    ['GET', '/t3/app/worklist.js', undefined, 200, 200, 401],
    ['GET', '/t3/worklist', undefined, 200, 200, 401],
    ['GET', `/t3/studies/${studyId}/report`, undefined, 200, 200, 401],
    ['GET', '/t3/status', undefined, 200, 200, 401],
    ['GET', '/t3/config', undefined, 200, 200, 401],
    ['PUT', '/t3/config', rules, 200, 403, 401],
    ['POST', `/t3/studies/${studyId}/analyze`, '{}', 200, 403, 401],
    ['POST', `/t3/worklist/rerun/${studyId}`, '{}', 200, 403, 401],
    ['GET', '/t3/audit', undefined, 200, 403, 401],
    ['DELETE', '/t3/config', undefined, 405, 405, 401],
    ['POST', '/t3/status', '{}', 405, 405, 401],
    ['PUT', '/t3/audit', '{}', 405, 405, 401],
    ['POST', '/t3/worklist', '{}', 405, 405, 401],
    ['GET', `/t3/studies/${studyId}/analyze`, undefined, 405, 405, 401],
  ];
  const got: string[] = [];
  const want: string[] = [];
  for (const [method, p, body, ...expected] of matrix) {
    (['admin', 'reader', 'nobody'] as Who[]).forEach((who, i) => want.push(`${method} ${p} ${who} ${expected[i]}`));
    for (const who of ['admin', 'reader', 'nobody'] as Who[]) {
      const r = await call(who, method, p, { body });
      got.push(`${method} ${p} ${who} ${r.status}`);
      if (r.status === 403) expect(r.json.error).toMatch(/not an administrator.*T3\.worklist\.administrators/);
    }
  }
  expect(got).toEqual(want);
  // The worklist tells the page whether to offer the re-run button, by the same rule.
  expect((await call('admin', 'GET', '/t3/worklist')).json.canRerun).toBe(true);
  expect((await call('reader', 'GET', '/t3/worklist')).json.canRerun).toBe(false);
});

test('the reader\'s PUT and re-run are refused, nothing changes, and both refusals are audited', async () => {
  const before = runtime.service.sidecar.getConfig().triage;
  const put = await call('reader', 'PUT', '/t3/config', { body: JSON.stringify({ triage: { rules: [{ code: '36118008', threshold: 1, priority: 'emergency' }] } }) });
  expect(put.status).toBe(403);
  const rerun = await call('reader', 'POST', `/t3/studies/${studyId}/analyze`, { body: '{}' });
  expect(rerun.status).toBe(403);
  expect(runtime.service.sidecar.getConfig().triage).toEqual(before);
  const refused = (await audit()).filter((e) => e.eventId === 'access-refused' && e.activeParticipant.userId === READER.username);
  expect(refused.map((e) => e.attempted)).toEqual(expect.arrayContaining(['PUT /t3/config', 'POST /t3/studies/{id}/analyze']));
  for (const e of refused) {
    expect(e.eventOutcome).toBe(4);
    expect(e.activeParticipant.networkAccessPointId).toBe('127.0.0.1');
  }
});

test('a cross-site form POST (text/plain) or a foreign Origin is refused even for an administrator; the worklist\'s own request is not', async () => {
  const form = await call('admin', 'POST', `/t3/studies/${studyId}/analyze`, { body: 'x=1', headers: { 'Content-Type': 'text/plain' } });
  expect(form.status).toBe(403);
  expect(form.json.refusal).toBe('csrf');
  const urlencoded = await call('admin', 'PUT', '/t3/config', { body: '{}', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  expect(urlencoded.status).toBe(403);
  const foreign = await call('admin', 'POST', `/t3/worklist/rerun/${studyId}`, { body: '{}', headers: { Origin: 'http://evil.example' } });
  expect(foreign.status).toBe(403);
  expect(foreign.json.error).toMatch(/cross-origin/);
  const own = await call('admin', 'POST', `/t3/worklist/rerun/${studyId}`, { body: '{}', headers: { Origin: orthanc.url } });
  expect(own.status).toBe(200);
  // jQuery's same-origin requests carry X-Requested-With, which a cross-site form cannot send.
  const xhr = await call('admin', 'POST', `/t3/studies/${studyId}/analyze`, { body: '{}', headers: { 'Content-Type': 'text/plain', 'X-Requested-With': 'XMLHttpRequest' } });
  expect(xhr.status).toBe(200);
  expect((await audit()).some((e) => e.eventId === 'access-refused' && e.refusal === 'csrf' && e.activeParticipant.userId === ADMIN.username)).toBe(true);
});

test('the plugin\'s pages carry a Content-Security-Policy without inline script', async () => {
  for (const p of ['/t3/app/', `/t3/studies/${studyId}/report`]) {
    const r = await call('reader', 'GET', p);
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).not.toMatch(/unsafe-inline[^;]*;?\s*$|script-src[^;]*unsafe-inline/);
    expect(r.text).not.toMatch(/<script>|\son[a-z]+="/i);
  }
});

test('PUT /t3/config: 200 all applied, 202 partly applied (restart keys listed), 409 when nothing could be applied', async () => {
  const all = await call('admin', 'PUT', '/t3/config', { body: JSON.stringify({ retry: { maxAttempts: 5 } }) });
  expect(all.status).toBe(200);
  expect(all.json).toMatchObject({ applied: true, complete: true, changedKeys: ['retry.maxAttempts'], restartRequired: [] });
  expect(all.json.sources['retry.maxAttempts']).toBe('live');

  // The mix issue 23 found answered "applied: false" although the triage change was in effect.
  const mixed = await call('admin', 'PUT', '/t3/config', {
    body: JSON.stringify({ triage: { disagreement: { jsThreshold: 0.25 } }, worklist: { administrators: [ADMIN.username, READER.username] } }),
  });
  expect(mixed.status).toBe(202);
  expect(mixed.json).toMatchObject({ applied: true, complete: false, changedKeys: ['triage.disagreement.jsThreshold'], restartRequired: ['worklist.administrators'] });
  expect(runtime.service.sidecar.getConfig().triage.disagreement.jsThreshold).toBe(0.25);
  expect(mixed.json.message).toMatch(/applied now: triage\.disagreement\.jsThreshold; NOT applied.*worklist\.administrators/);
  // The administrators list is Orthanc's configuration: the reader is still refused.
  expect((await call('reader', 'PUT', '/t3/config', { body: '{}' })).status).toBe(403);

  const none = await call('admin', 'PUT', '/t3/config', { body: JSON.stringify({ follower: { pollIntervalMs: 900 } }) });
  expect(none.status).toBe(409);
  expect(none.json).toMatchObject({ applied: false, changedKeys: [], restartRequired: ['follower.pollIntervalMs'] });
  expect(none.json.error).toMatch(/nothing changed/);
  expect(runtime.service.sidecar.getConfig().follower.pollIntervalMs).toBe(150);
});

test('audit entries of a change, a re-run and a refusal survive a sidecar restart; a study sent while it is down is triaged under the live rules', async () => {
  // Any image makes this rule fire: the priority shows which rules the study was triaged under.
  const rules = [{ code: '60046008', threshold: 0, priority: 'emergency' }];
  const put = await call('admin', 'PUT', '/t3/config', { body: JSON.stringify({ triage: { rules } }) });
  expect(put.status).toBe(200);
  expect((await call('admin', 'POST', `/t3/studies/${studyId}/analyze`, { body: '{}' })).status).toBe(200);
  expect((await call('reader', 'PUT', '/t3/config', { body: JSON.stringify({ triage: { rules: [] } }) })).status).toBe(403);
  const kept = JSON.parse(fs.readFileSync(path.join(work, 'state', LIVE_SETTINGS_FILE), 'utf8'));
  expect(kept.settings.triage.rules).toEqual(rules);
  expect(JSON.stringify(kept)).not.toContain(TOKEN);

  await runtime.stop();
  expect((await call('admin', 'GET', '/t3/status')).status).toBe(503);
  const mr = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_MR_small.dcm'));
  await new Promise((r) => setTimeout(r, 2500)); // stable in Orthanc while no sidecar runs
  runtime = await startSidecar();
  expect(runtime.service.sidecar.getConfig().triage.rules).toEqual(rules); // before anything was triaged
  expect(logs.some((l) => l.event === 'live-settings-loaded')).toBe(true);
  const meta = await waitFor('the study sent while the sidecar was down to be triaged', async () => {
    const m = await studyMetadata(orthanc, mr.ParentStudy);
    return m.T3Priority ? m : null;
  }, 60000);
  expect(meta.T3Priority).toBe('emergency');

  const entries = await audit();
  const change = entries.find((e) => e.eventId === 'settings-change' && e.changes?.some((c: any) => c.key === 'triage.rules'));
  expect(change).toMatchObject({ eventOutcome: 0, eventActionCode: 'U', activeParticipant: { userId: ADMIN.username, networkAccessPointId: '127.0.0.1' } });
  expect(change.changes.find((c: any) => c.key === 'triage.rules').after).toEqual(rules);
  expect(entries.find((e) => e.eventId === 'study-rerun' && e.participantObject.id === studyId)).toMatchObject({ eventOutcome: 0, activeParticipant: { userId: ADMIN.username } });
  expect(entries.find((e) => e.eventId === 'access-refused' && e.activeParticipant.userId === READER.username)).toBeDefined();
  // Newest first, with time stamps; and written to Orthanc's log too.
  expect(Date.parse(entries[0].eventDateTime)).toBeGreaterThanOrEqual(Date.parse(entries[entries.length - 1].eventDateTime));
  expect(fs.readFileSync(orthanc.logFile, 'utf8')).toContain('orthanc-t3 audit: ');
  // The sidecar's own line of the change names the keys and who asked, never a value.
  const changed = logs.find((l) => l.event === 'config-changed' && (l.fields.changedKeys as string[]).includes('triage.rules'));
  expect(changed?.fields).toMatchObject({ orthancUser: ADMIN.username, tokenId: expect.stringMatching(/^sha256:/) });
});
