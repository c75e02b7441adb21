/**
 * Issue 24, items 4 and 5, end to end: a real Orthanc 1.10.1 with the plugin, the real sidecar with the demo-trained
 * bundle (T3B), studies made from the bundle's evaluation images (bundles/demo-trained/eval: in-domain, and shifted,
 * the scanner style the expert was not tuned on) under two sources of images:
 *  - feedback stored through the worklist's route appears in GET /t3/feedback.csv and in AdminService.ExportFeedback,
 *    with the model, λ_B and the divergence;
 *  - the drift monitor: a source whose last studies are shifted images warns, an unchanged source does not — over
 *    gRPC (GetDrift), in /metrics and in the worklist's chart (headless Chromium).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { closeSharedFramePool } from '../../src/dicom';
import type { ServeRuntime } from '../../src/cli/serve';
import { loadT3Protos } from '../../src/grpc';
import { RECENT_STUDIES, MIN_BASELINE_STUDIES } from '../../src/orthanc/drift-monitor';
import type { DriftSource__Output } from '../../src/grpc/generated/t3/v1/DriftSource';
import type { FeedbackEntry__Output } from '../../src/grpc/generated/t3/v1/FeedbackEntry';
import { bearer, unary, type Answer } from '../grpc/grpc-test-helpers';
import { launchChromium, testOutputDir } from '../helpers/chromium';
import { repoRoot, type OrthancServer } from '../helpers/orthanc-server';
import { pluginRequest } from '../helpers/http-request';
import { getJson, removeTempDirs, studyMetadata, waitFor } from './harness';
import { startPluginPair, type PluginPair } from './plugin-pair';

jest.setTimeout(600000);

const PLUGIN_TOKEN = 'feedback-drift-token-0123456789';
const ADMIN = { username: 't3-feedback-admin', password: 'feedback-pass-0123' };
const EVAL = path.join(repoRoot, 'bundles', 'demo-trained', 'eval');
// Equipment names, made up: the drift monitor's sources.
const STEADY = { StationName: 'DX-STEADY', Manufacturer: 'Acme', ManufacturerModelName: 'Rad 1', InstitutionName: 'Test Hospital' };
const CHANGED = { StationName: 'DX-CHANGED', Manufacturer: 'Other', ManufacturerModelName: 'Rad 2', InstitutionName: 'Test Hospital' };
const BASELINE = MIN_BASELINE_STUDIES + 2;
// Images per study: the study's mean divergence is what the rule follows.
const IMAGES = 3;

let orthanc: OrthancServer;
let runtime: ServeRuntime;
let n = 0;
let logs: PluginPair['logs'] = [];

const call = (method: string, p: string, body?: string) => pluginRequest(orthanc.url, orthanc.authorization, method, p, body);

/** One study of `IMAGES` images from eval/<split>, made by Orthanc from the PNGs, with the source's equipment tags. */
async function createStudy(split: 'in-domain' | 'shifted', source: Record<string, string>): Promise<string> {
  const study = `1.2.826.0.1.3680043.10.543.24.${process.pid}.${++n}`;
  let parent = '';
  for (let i = 0; i < IMAGES; i++) {
    const png = fs.readFileSync(path.join(EVAL, split, `img${String(n * IMAGES + i).padStart(4, '0')}.png`));
    const res = await fetch(`${orthanc.url}/tools/create-dicom`, {
      method: 'POST',
      headers: { Authorization: orthanc.authorization!, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        // Force: the study's UID is ours, so its images form one study.
        Force: true,
        Content: `data:image/png;base64,${png.toString('base64')}`,
        // Made-up people: no patient data.
        Tags: {
          ...source, PatientName: `TESTPATIENT${n}^Drift`, PatientID: `DRIFT-${n}`, PatientSex: n % 2 ? 'F' : 'M', PatientBirthDate: `19${50 + (n % 40)}0315`,
          StudyInstanceUID: study, SeriesInstanceUID: `${study}.1`, StudyDescription: 'Chest radiograph PA', AccessionNumber: `ACC${7000 + n}`,
          BodyPartExamined: 'CHEST', Modality: 'DX', SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', SeriesNumber: '1', InstanceNumber: String(i + 1),
        },
      }),
    });
    if (!res.ok) throw new Error(`create-dicom: ${res.status} ${await res.text()}`);
    const instance = (await res.json()) as { ID: string };
    parent = (await getJson<{ ID: string }>(orthanc, `/instances/${instance.ID}/study`)).ID;
  }
  return parent;
}

async function allDone(ids: string[]): Promise<void> {
  try {
    await waitFor(`${ids.length} studies triaged`, async () => {
      for (const id of ids) if ((await studyMetadata(orthanc, id)).T3Status !== 'done') return false;
      return true;
    }, 240000, 500);
  } catch (err) {
    // What held them up, for whoever reads the failure.
    const states = await Promise.all(ids.slice(0, 3).map((id) => studyMetadata(orthanc, id)));
    throw new Error(`${(err as Error).message}; first studies: ${JSON.stringify(states)}; sidecar log: ${JSON.stringify(logs.slice(-15))}`);
  }
}

function adminClient() {
  const protos = loadT3Protos();
  return new protos.adminService(`127.0.0.1:${runtime.grpc!.port}`, grpc.credentials.createInsecure());
}

// The answers as proto-loader gives them (camelCase; PROTO_LOADER_OPTIONS), typed by the generated types.
type FeedbackEntryMessage = Answer<FeedbackEntry__Output>;
type DriftSourceMessage = Answer<DriftSource__Output>;

const steadyIds: string[] = [];
const changedIds: string[] = [];

beforeAll(async () => {
  ({ orthanc, runtime, logs } = await startPluginPair({
    credentials: ADMIN,
    token: PLUGIN_TOKEN,
    sidecar: { inference: { executionProviders: ['cpu'], policy: 't3b' } },
  }));
  // Both sources' history from in-domain images, then the changed source's last studies from shifted ones.
  for (let i = 0; i < BASELINE + RECENT_STUDIES; i++) steadyIds.push(await createStudy('in-domain', STEADY));
  for (let i = 0; i < BASELINE; i++) changedIds.push(await createStudy('in-domain', CHANGED));
  await allDone([...steadyIds, ...changedIds]);
  const shifted: string[] = [];
  for (let i = 0; i < RECENT_STUDIES; i++) shifted.push(await createStudy('shifted', CHANGED));
  await allDone(shifted);
  changedIds.push(...shifted);
});

afterAll(async () => {
  await runtime?.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

test('feedback stored through the worklist appears in the CSV and in ExportFeedback, with model, λ_B and divergence', async () => {
  const id = steadyIds[0];
  const stored = await call('POST', `/t3/worklist/studies/${id}/feedback`, JSON.stringify({ verdict: 'disagree', finding: 'Pneumothorax' }));
  expect(stored.status).toBe(200);
  const meta = await studyMetadata(orthanc, id);
  expect(meta.T3Model).toMatch(/^t3-demo-chest-trained 1\.0\.0; generalist .+; expert .+/);
  expect(Number(meta.T3Divergence)).toBeGreaterThan(0);

  const csv = await call('GET', '/t3/feedback.csv');
  expect(csv.status).toBe(200);
  expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
  const lines = csv.text.trim().split('\r\n');
  expect(lines[0]).toBe('orthanc_study_id,study_instance_uid,user,at,verdict,finding,priority,top_finding,model,lambda_b,divergence');
  expect(lines).toHaveLength(2);
  const row = lines[1].split(',');
  expect(row.slice(0, 1)).toEqual([id]);
  expect(row[2]).toBe(ADMIN.username);
  expect(row[4]).toBe('disagree');
  expect(row[5]).toBe('Pneumothorax');
  expect(row[8]).toBe(meta.T3Model);
  expect(Number(row[9])).toBeCloseTo(Number(meta.T3Lambda), 4);
  expect(Number(row[10])).toBeCloseTo(Number(meta.T3Divergence), 4);

  const client = adminClient();
  try {
    const entries: FeedbackEntryMessage[] = [];
    let token = '';
    do {
      const page = await unary(client, 'ExportFeedback', { pageSize: 7, pageToken: token }, bearer(PLUGIN_TOKEN));
      entries.push(...page.entries);
      token = page.nextPageToken;
    } while (token !== '');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      orthancStudyId: id, user: ADMIN.username, verdict: 'disagree', finding: 'Pneumothorax', model: meta.T3Model,
      at: (JSON.parse(meta.T3Feedback) as { at: string }).at,
    });
    expect(entries[0].lambdaB).toBeCloseTo(Number(meta.T3Lambda), 4);
    expect(entries[0].divergence).toBeCloseTo(Number(meta.T3Divergence), 4);
    await expect(unary(client, 'ExportFeedback', { pageToken: 'abc' }, bearer(PLUGIN_TOKEN))).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  } finally {
    client.close();
  }
});

test('the shifted source warns and the unchanged one does not: GetDrift, /metrics and the worklist chart', async () => {
  const client = adminClient();
  let drift: { sources: DriftSourceMessage[] };
  try {
    drift = await unary(client, 'GetDrift', {}, bearer(PLUGIN_TOKEN));
  } finally {
    client.close();
  }
  const steady = drift.sources.find((s) => s.stationName === STEADY.StationName)!;
  const changed = drift.sources.find((s) => s.stationName === CHANGED.StationName)!;
  // For whoever reads the log: the figures the verdicts come from.
  console.log(JSON.stringify(drift.sources.map((s) => ({ label: s.label, z: s.z, recent: s.recentMean, baseline: s.baselineMean, sd: s.baselineSd }))));
  expect(steady).toMatchObject({ judged: true, warning: false, manufacturerModelName: 'Rad 1', institutionName: 'Test Hospital' });
  expect(steady.points).toHaveLength(BASELINE + RECENT_STUDIES);
  expect(changed).toMatchObject({ judged: true, warning: true });
  expect(changed.reason).toMatch(/disagree more/);

  const metrics = await (await fetch(`http://127.0.0.1:${runtime.metrics!.port}/metrics`)).text();
  expect(metrics).toMatch(/t3_drift_warning\{source="dx-changed_other_rad_2_test_hospital"\} 1/);
  expect(metrics).toMatch(/t3_drift_warning\{source="dx-steady_acme_rad_1_test_hospital"\} 0/);

  const browser = await launchChromium({ httpCredentials: ADMIN });
  try {
    const page = await browser.context.newPage();
    await page.goto(`${orthanc.url}/t3/app/`);
    await page.waitForSelector('body[data-drift-loaded]');
    expect(await page.locator('#drift li[data-warning="true"]').count()).toBe(1);
    expect(await page.locator('#drift li[data-warning="true"] .drift-label').textContent()).toContain(CHANGED.StationName);
    expect(await page.locator('#drift li[data-warning="false"]').count()).toBe(1);
    expect(await page.locator('#drift svg polyline').count()).toBe(2);
    fs.mkdirSync(testOutputDir, { recursive: true });
    await page.locator('#drift').screenshot({ path: path.join(testOutputDir, 'worklist-drift.png') });
  } finally {
    await browser.close();
  }
});

// The README's pictures (docs/screenshots/): 1280 px wide, one screen each, from this run's real triage (demo bundle,
// made-up patients). Left in test-output/; copied into docs/screenshots/ by whoever updates them.
test('screenshots of the worklist with its drift panel, a report and the Explorer study page', async () => {
  const browser = await launchChromium({ httpCredentials: ADMIN });
  const shots = path.join(testOutputDir, 'docs-screenshots');
  fs.mkdirSync(shots, { recursive: true });
  try {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${orthanc.url}/t3/app/`);
    await page.waitForSelector('body[data-loaded]');
    await page.waitForSelector('body[data-drift-loaded]');
    await page.screenshot({ path: path.join(shots, 'worklist.png') });
    const study = changedIds[changedIds.length - 1];
    await page.goto(`${orthanc.url}/t3/studies/${study}/report`);
    await page.waitForSelector('#t3-priority');
    await page.screenshot({ path: path.join(shots, 'report.png') });
    await page.goto(`${orthanc.url}/app/explorer.html#study?uuid=${study}`);
    await page.waitForSelector('#t3-triage .t3-priority');
    await page.screenshot({ path: path.join(shots, 'explorer-study.png') });
    for (const name of ['worklist.png', 'report.png', 'explorer-study.png']) expect(fs.statSync(path.join(shots, name)).size).toBeLessThan(400 * 1024);
  } finally {
    await browser.close();
  }
});
