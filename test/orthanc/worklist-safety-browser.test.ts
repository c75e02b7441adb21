/**
 * "An emergency is never lost or buried" (issue 21), in headless Chromium against a real Orthanc 1.10.1 with the
 * plugin and no sidecar at all (its address points at a loopback port nobody listens on):
 *  - the worklist still lists every study (it comes from Orthanc), says the AI is not working, and puts the studies
 *    without a priority in their own group above the routine ones, each with how long it has waited;
 *  - a study whose SR could not be written keeps its emergency priority at the top, with "report failed" and why,
 *    in the worklist and in Orthanc Explorer's badge (the reason escaped for attribute context).
 * The triage state is the metadata the sidecar leaves, written here through Orthanc's REST API. Leaves full-page
 * screenshots at 1920 px in test-output/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, testOutputDir } from '../helpers/chromium';
import { dicomFiles, freePort, repoRoot, samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { getJson, removeTempDirs, waitFor } from './harness';

jest.setTimeout(120000);

const USER = { username: 'radiologist', password: 'worklist-pass' };
const MAX_WAIT_S = 3;
// An SR write refusal as the sidecar records it; the quotes and markup check the escaping (no patient data here).
const REPORT_ERROR = `Orthanc refused the SR: HTTP 500 "Bad file format" <b class="t3-injected">x</b> & 'more'" onmouseover="window.t3Injected=1`;
const GROUP_RANK: Record<string, number> = { emergency: 0, urgent: 1, waiting: 2, routine: 3, skipped: 4 };

let orthanc: OrthancServer;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let context: BrowserContext;
let uploadedAt = 0;
let allStudies: string[] = [];
const ids: Record<'routine' | 'queued' | 'running' | 'parked' | 'skipped' | 'emergency', string> = {} as never;

async function setMetadata(studyId: string, entries: Record<number, string>): Promise<void> {
  for (const [index, value] of Object.entries(entries)) {
    const res = await fetch(`${orthanc.url}/studies/${studyId}/metadata/${index}`, {
      method: 'PUT', body: value, headers: { Authorization: orthanc.authorization! },
    });
    if (!res.ok) throw new Error(`PUT metadata ${index}: ${res.status} ${await res.text()}`);
  }
}

interface Row { id: string; group: string; priority: string; status: string; text: string; reportFailed: string | null; waited: string | null }

async function openWorklist(): Promise<{ page: Page; rows: Row[]; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(`${orthanc.url}/t3/app/`);
  await page.waitForSelector('body[data-loaded]');
  const rows = await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => ({
    id: tr.getAttribute('data-study-id')!,
    group: tr.getAttribute('data-group')!,
    priority: tr.getAttribute('data-priority')!,
    status: tr.getAttribute('data-status')!,
    text: tr.querySelector('td')?.textContent ?? '',
    reportFailed: tr.querySelector('.badge.report-failed')?.getAttribute('title') ?? null,
    waited: tr.querySelector('.waited')?.textContent ?? null,
  })));
  return { page, rows, errors };
}

beforeAll(async () => {
  // With the stubs the plugin makes a real gRPC call and gets UNAVAILABLE (without them it reports the import error).
  const gen = spawnSync(path.join(repoRoot, 'orthanc-config', 'generate-stubs.sh'), [], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`generate-stubs.sh failed: ${gen.stderr}`);
  const nobody = await freePort();
  orthanc = await startOrthanc({
    configDir: path.join(repoRoot, 'orthanc-config'),
    stableAge: 1,
    credentials: USER,
    overrides: { T3: { plugin: { sidecarAddress: `127.0.0.1:${nobody}`, deadlineSeconds: 2 }, worklist: { maxWaitSeconds: MAX_WAIT_S } } },
  });
  const studies: string[] = [];
  let srStudy: string | null = null;
  for (const file of dicomFiles([samplesDir])) {
    try {
      const id = (await uploadFile(orthanc, file)).ParentStudy;
      if (studies.includes(id)) continue;
      if (path.basename(file).includes('SR')) srStudy = id;
      else studies.push(id);
    } catch {
      // a sample Orthanc refuses is not this test's subject
    }
  }
  uploadedAt = Date.now();
  if (studies.length < 5 || !srStudy) throw new Error(`need 5 image studies and the SR among the samples, got ${studies.length}`);
  [ids.routine, ids.queued, ids.running, ids.parked, ids.emergency] = studies;
  ids.skipped = srStudy;
  allStudies = [...studies, srStudy];
  // What the sidecar leaves: a routine result, one running, one given up before classification, one with nothing
  // to analyse; the others were never seen (no metadata: queued).
  await setMetadata(ids.routine, { 4701: 'done', 4702: 'routine', 4710: 'no', 4711: 'No finding 91.0%', 4712: 'No finding 91.0%', 4714: new Date().toISOString() });
  await setMetadata(ids.running, { 4701: 'running' });
  await setMetadata(ids.parked, { 4701: 'parked', 4705: 'no decodable image (unsupported transfer syntax)' });
  await setMetadata(ids.skipped, { 4701: 'skipped', 4705: 'nothing to analyse: no image in the study' });
  chromium = await launchChromium({ httpCredentials: USER });
  context = chromium.context;
});

afterAll(async () => {
  await chromium?.close();
  await orthanc?.stop({ removeWorkDir: true });
  removeTempDirs();
});

test('with the sidecar down the worklist still lists every study, says the AI is not working, and puts the untriaged ones above routine', async () => {
  // Past maxWaitSeconds for the studies uploaded above.
  await new Promise((r) => setTimeout(r, Math.max(0, uploadedAt + (MAX_WAIT_S + 1.5) * 1000 - Date.now())));
  const started = Date.now();
  const data = await getJson(orthanc, '/t3/worklist');
  const waiting = allStudies.filter((id) => id !== ids.routine && id !== ids.skipped);
  // A refused connection is answered at once; the list never waits for a sidecar that is not there.
  expect(Date.now() - started).toBeLessThan(3000);
  expect(data.aiStatus).toMatchObject({ ok: false, sidecar: 'unreachable', maxWaitSeconds: MAX_WAIT_S, waitingCount: waiting.length });
  expect(data.aiStatus.oldestWaitingSeconds).toBeGreaterThan(MAX_WAIT_S);
  expect(data.aiStatus.problems.map((p: { kind: string }) => p.kind)).toEqual(['sidecar-unreachable', 'waiting-too-long']);

  const { page, rows, errors } = await openWorklist();
  expect(await page.isVisible('#ai-banner')).toBe(true);
  const problems = await page.$$eval('#ai-problems li', (lis) => lis.map((li) => ({ kind: li.getAttribute('data-kind'), text: li.textContent ?? '' })));
  expect(problems.map((p) => p.kind)).toEqual(['sidecar-unreachable', 'waiting-too-long']);
  expect(problems[0].text).toMatch(/^The AI service cannot be reached: /);
  expect(problems[1].text).toMatch(new RegExp(`^${waiting.length} studies have waited more than 3 s for AI triage \\(the oldest \\d+ s\\)$`));

  const byId = new Map(rows.map((r) => [r.id, r]));
  expect(rows.map((r) => r.id).sort()).toEqual([...allStudies].sort());
  for (const id of waiting) {
    const row = byId.get(id)!;
    expect(row).toMatchObject({ group: 'waiting', priority: 'none' });
    expect(row.text).toContain('not yet triaged');
    expect(row.waited).toMatch(/^waiting \d+ s$/);
  }
  expect(byId.get(ids.queued)!.status).toBe('queued');
  expect(byId.get(ids.parked)!.status).toBe('parked');
  expect(byId.get(ids.routine)).toMatchObject({ group: 'routine', priority: 'routine', waited: null });
  expect(byId.get(ids.skipped)).toMatchObject({ group: 'skipped', status: 'skipped' });
  // Every untriaged study stands above the routine one; what had nothing to analyse is last.
  const position = (id: string) => rows.findIndex((r) => r.id === id);
  for (const id of waiting) expect(position(id)).toBeLessThan(position(ids.routine));
  expect(position(ids.skipped)).toBe(rows.length - 1);
  const headers = await page.$$eval('#worklist tbody tr[data-group-header]', (trs) => trs.map((tr) => tr.getAttribute('data-group-header')));
  expect(headers).toEqual(['waiting', 'routine', 'skipped']);
  // The late ones are marked so.
  expect(await page.$$eval('#worklist .waited.late', (els) => els.length)).toBe(waiting.length);

  fs.mkdirSync(testOutputDir, { recursive: true });
  await page.screenshot({ path: path.join(testOutputDir, 'worklist-sidecar-down.png'), fullPage: true });
  expect(errors).toEqual([]);
  await page.close();
});

test('a study whose SR could not be written keeps its emergency priority at the top with "report failed" and why', async () => {
  // The state the sidecar leaves when it classified the study but gave up writing its SR.
  await setMetadata(ids.emergency, {
    4702: 'emergency', 4710: 'no', 4711: 'Pneumothorax 88.0%', 4712: 'Pneumothorax 88.0%; No finding 9.0%',
    4715: REPORT_ERROR, 4705: REPORT_ERROR, 4701: 'parked',
  });
  const { page, rows, errors } = await openWorklist();
  expect(rows[0]).toMatchObject({ id: ids.emergency, group: 'emergency', priority: 'emergency', status: 'parked', reportFailed: REPORT_ERROR });
  expect(await page.textContent(`tr[data-study-id="${ids.emergency}"] .report-error`)).toBe(REPORT_ERROR);
  expect(await page.textContent(`tr[data-study-id="${ids.emergency}"] .badge.priority`)).toBe('emergency');
  expect(await page.textContent(`tr[data-study-id="${ids.emergency}"] .badge.report-failed`)).toBe('report failed');
  const ranks = rows.map((r) => GROUP_RANK[r.group]);
  expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  expect(rows.findIndex((r) => r.group === 'routine')).toBeGreaterThan(0);
  expect(await page.$('.t3-injected')).toBeNull();
  await page.screenshot({ path: path.join(testOutputDir, 'worklist-report-failed.png'), fullPage: true });

  // Filtering on the emergency group keeps it.
  await page.selectOption('#filter-priority', 'emergency');
  expect(await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => tr.getAttribute('data-study-id')))).toEqual([ids.emergency]);
  expect(errors).toEqual([]);
  await page.close();
});

test('Orthanc Explorer shows the emergency priority with "report failed", its reason escaped for the title attribute', async () => {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const study = await getJson<{ ParentPatient: string }>(orthanc, `/studies/${ids.emergency}`);
  await page.goto(`${orthanc.url}/app/explorer.html#patient?uuid=${study.ParentPatient}`);
  const link = `a[href="#study?uuid=${ids.emergency}"]`;
  await waitFor('the badge', () => page.$(`${link}[data-t3="triaged"] .t3-report-failed`));
  expect(await page.textContent(`${link} .t3-priority`)).toBe('emergency');
  expect(await page.getAttribute(`${link} .t3-report-failed`, 'title')).toBe(`AI report failed: ${REPORT_ERROR}`);
  expect(await page.textContent(`${link} .t3-report-failed`)).toBe('report failed');
  // Nothing of the reason became markup or an attribute.
  expect(await page.$('.t3-injected')).toBeNull();
  expect(await page.$eval(`${link} .t3-report-failed`, (e) => e.getAttributeNames().sort())).toEqual(['class', 'style', 'title']);

  await page.goto(`${orthanc.url}/app/explorer.html#study?uuid=${ids.emergency}`);
  await page.waitForSelector('#t3-triage .t3-report-error');
  expect(await page.textContent('#t3-triage .t3-priority')).toBe('emergency');
  expect(await page.textContent('#t3-triage .t3-report-error')).toBe(`report failed: ${REPORT_ERROR}`);
  expect(await page.$('.t3-injected')).toBeNull();
  expect(await page.evaluate(() => (globalThis as unknown as { t3Injected?: number }).t3Injected)).toBeUndefined();
  expect(errors).toEqual([]);
  await page.close();
});
