/**
 * The triage worklist, the Explorer badges and the readable report, in headless Chromium against a real Orthanc 1.10.1
 * with HTTP authentication, triaged by the real sidecar (demo bundle). Leaves a screenshot in test-output/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { BrowserContext } from 'playwright-core';
import { loadSidecarConfig } from '../../src/config';
import { closeSharedFramePool } from '../../src/dicom';
import { startServeRuntime, type ServeRuntime } from '../../src/cli/serve';
import { launchChromium, testOutputDir } from '../helpers/chromium';
import { dicomFiles, freePort, repoRoot, sampleFolders, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { makeTempDir, removeTempDirs, studyMetadata, waitFor } from './harness';

jest.setTimeout(240000);

const TOKEN = 'worklist-test-token-0123456789';
const USER = { username: 'radiologist', password: 'worklist-pass' };
// Triage rules that give the sample studies all three priorities with the demo model (its findings on these
// non-chest images are meaningless, which is why every result also says "demo model").
const RULES = [
  { code: '36118008', threshold: 0.5, priority: 'emergency' },
  { code: '60046008', threshold: 0.5, priority: 'urgent' },
];
// Worklist groups top to bottom: a study without a priority is not known to be routine (issue 21).
const RANK: Record<string, number> = { emergency: 0, urgent: 1, waiting: 2, routine: 3, skipped: 4 };

let orthanc: OrthancServer;
let runtime: ServeRuntime;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let context: BrowserContext;
const studies = new Set<string>();

beforeAll(async () => {
  const gen = spawnSync(path.join(repoRoot, 'orthanc-config', 'generate-stubs.sh'), [], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`generate-stubs.sh failed: ${gen.stderr}`);
  // Orthanc needs its HTTP port in its configuration before it starts, so that one is probed; the sidecar binds
  // port 0 first and Orthanc's plugin is pointed at the port it got (no window for another suite to take it).
  const httpPort = await freePort();
  const work = makeTempDir('t3-worklist-');
  const { config } = loadSidecarConfig({
    overrides: {
      orthanc: { url: `http://127.0.0.1:${httpPort}`, username: USER.username, password: USER.password, timeoutMs: 10000 },
      follower: { checkpointPath: path.join(work, 'checkpoint.json'), pollIntervalMs: 150, maxBackoffMs: 500 },
      inference: { executionProviders: ['cpu'] },
      triage: { rules: RULES },
      grpc: { listen: '127.0.0.1:0', tokens: [{ token: TOKEN, roles: ['admin', 'triage'] }] },
    },
  });
  runtime = await startServeRuntime(config, { log: () => undefined });
  orthanc = await startOrthanc({
    configDir: path.join(repoRoot, 'orthanc-config'),
    httpPort,
    stableAge: 1,
    credentials: USER,
    // The test's login is an administrator: it may re-run (without the list no one may).
    overrides: { T3: { plugin: { sidecarAddress: `127.0.0.1:${runtime.grpc!.port}`, token: TOKEN, deadlineSeconds: 5 }, worklist: { administrators: [USER.username] } } },
  });
  for (const file of dicomFiles(sampleFolders())) {
    try {
      studies.add((await uploadFile(orthanc, file)).ParentStudy);
    } catch {
      // a sample Orthanc refuses is not this test's subject
    }
  }
  await waitFor('every sample study to be triaged', async () => {
    for (const id of studies) {
      const status = (await studyMetadata(orthanc, id)).T3Status;
      if (!['done', 'skipped', 'parked'].includes(status)) return false;
    }
    return true;
  }, 180000, 500);
  chromium = await launchChromium({ httpCredentials: USER });
  context = chromium.context;
});

afterAll(async () => {
  await chromium?.close();
  await runtime?.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

test('without credentials Orthanc refuses the worklist (it is behind Orthanc\'s own authentication)', async () => {
  expect((await fetch(`${orthanc.url}/t3/app/`)).status).toBe(401);
  expect((await fetch(`${orthanc.url}/t3/worklist`)).status).toBe(401);
});

test('the worklist lists the studies emergency → urgent → routine with findings, review flags, demo badges and links', async () => {
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${orthanc.url}/t3/app/`);
  await page.waitForSelector('body[data-loaded]');
  fs.mkdirSync(testOutputDir, { recursive: true });
  await page.screenshot({ path: path.join(testOutputDir, 'worklist.png'), fullPage: true });

  const rows = await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => ({
    id: tr.getAttribute('data-study-id')!,
    priority: tr.getAttribute('data-priority')!,
    group: tr.getAttribute('data-group')!,
    status: tr.getAttribute('data-status')!,
    findings: [...tr.querySelectorAll('.findings li')].map((li) => li.textContent ?? ''),
    review: tr.querySelector('.badge.review')?.textContent ?? null,
    demo: tr.querySelector('.badge.demo') !== null,
    studyLink: tr.querySelector('a.study-link')?.getAttribute('href') ?? null,
    reportLink: tr.querySelector('a.report-link')?.getAttribute('href') ?? null,
    finished: tr.querySelector('.finished')?.textContent ?? '',
    rerun: tr.querySelector('button.rerun') !== null,
  })));
  expect(new Set(rows.map((r) => r.id))).toEqual(studies);
  const ranks = rows.map((r) => RANK[r.group]);
  expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  // The demo samples give every priority with these rules.
  expect(new Set(rows.map((r) => r.priority))).toEqual(new Set(['emergency', 'urgent', 'routine', ...rows.filter((r) => r.priority === 'none').map(() => 'none')]));
  for (const row of rows.filter((r) => r.status === 'done' && r.priority !== 'none')) {
    expect(row.findings.length).toBeGreaterThan(0);
    expect(row.findings[0]).toMatch(/^.+ \d{1,3}\.\d%$/);
    expect(row.demo).toBe(true);
    expect(row.finished).not.toBe('');
    expect(row.studyLink).toBe(`../../app/explorer.html#study?uuid=${row.id}`);
    expect(row.reportLink).toBe(`../studies/${row.id}/report`);
    expect(row.rerun).toBe(true);
    const meta = await studyMetadata(orthanc, row.id);
    expect(row.review !== null).toBe(meta.T3Review.startsWith('yes'));
    // The reasons as the sidecar worded them (src/report/triage.ts), shown as written.
    if (meta.T3Review.startsWith('yes')) {
      expect(meta.T3Review).toMatch(/^yes: the two models disagree on this study \(divergence \d+\.\d\d+, limit \d+\.\d\d+\): read with care$/);
      expect(await page.textContent(`tr[data-study-id="${row.id}"] .review-reason`)).toBe(meta.T3Review.slice('yes: '.length));
    }
    if (row.priority === 'emergency' || row.priority === 'urgent') {
      expect(meta.T3PriorityReason).toMatch(new RegExp(`^.+ \\d+(\\.\\d)? % \\(rule: ≥ 50 % → ${row.priority}\\)$`));
      expect(await page.textContent(`tr[data-study-id="${row.id}"] .priority-reason`)).toBe(meta.T3PriorityReason);
    } else {
      expect(meta.T3PriorityReason).toBeUndefined();
    }
  }
  expect(await page.isVisible('#demo-banner')).toBe(true);
  // The sidecar is up and following Orthanc: no "AI not working" banner.
  expect(await page.isVisible('#ai-banner')).toBe(false);

  // Filters work in the page, and a refresh does not reload it.
  await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
  await page.selectOption('#filter-priority', 'urgent');
  const urgent = await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => tr.getAttribute('data-priority')));
  expect(urgent.length).toBeGreaterThan(0);
  expect(new Set(urgent)).toEqual(new Set(['urgent']));
  await page.selectOption('#filter-priority', '');
  await page.selectOption('#filter-status', 'done');
  const done = await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => tr.getAttribute('data-status')));
  expect(new Set(done)).toEqual(new Set(['done']));
  const before = await page.getAttribute('body', 'data-loaded');
  await page.click('#refresh');
  // Runs in the page: its document, not Node's.
  await page.waitForFunction((b) => (globalThis as unknown as { document: { body: { getAttribute(n: string): string | null } } }).document.body.getAttribute('data-loaded') !== b, before);
  expect(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(42);

  // The report opens from the worklist and reads like a report.
  await page.selectOption('#filter-status', '');
  const first = rows.find((r) => r.reportLink !== null)!;
  await page.click(`tr[data-study-id="${first.id}"] a.report-link`);
  await page.waitForSelector('#t3-algorithm');
  const report = await page.textContent('body');
  expect(await page.textContent('#t3-demo-notice')).toMatch(/^DEMONSTRATION MODEL trained on synthetic images, not a medical device/);
  expect(report).toMatch(/Finding\s*Probability\s*Code/);
  expect(report).toMatch(/\d+\.\d %/);
  expect(report).toMatch(/SCT \d+/);
  expect(report).toContain('t3-demo-chest-trained');
  expect(report).toMatch(/method\s*t3b/);
  expect(await page.textContent('#t3-priority')).toBe(first.priority === 'urgent' ? 'Urgent' : first.priority === 'emergency' ? 'Emergency' : 'Routine');
  expect(await page.getAttribute('#t3-priority', 'class')).toBe(`badge p-${first.priority}`);
  // Issue 24: a title naming the patient, study and date; times with their zone; rounded numbers; images named by
  // series and number; the λ range in words; one per-image line per image.
  const firstMeta = await studyMetadata(orthanc, first.id);
  expect(await page.title()).toMatch(/^AI triage report: [^^]+ · .+/);
  expect(await page.textContent('#t3-report-time')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \(written in the SR as \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC[+-]?[\d:]*\)/);
  if (first.priority !== 'routine') expect(await page.textContent('#t3-priority-reason')).toBe(firstMeta.T3PriorityReason);
  expect(await page.textContent('#t3-lambda-direction')).toMatch(/0 is the generalist model, 1 the fine-tuned expert/);
  for (const lambda of await page.$$eval('#t3-batch-lambdas code', (cs) => cs.map((c) => c.textContent ?? ''))) expect(lambda).toMatch(/^-?\d+(\.\d{1,3})?$/);
  const imageTitles = await page.$$eval('h3.t3-image', (hs) => hs.map((h) => h.textContent ?? ''));
  expect(imageTitles.length).toBeGreaterThan(0);
  for (const t of imageTitles) expect(t).toMatch(/^(Series \S+.*|Whole study)/);
  const perImage = await page.$$eval('#t3-per-image tr', (trs) => trs.length - 1);
  expect(await page.textContent('#t3-per-image summary')).toBe(`Per-image coefficients (${perImage} ${perImage === 1 ? 'image' : 'images'})`);
  await page.screenshot({ path: path.join(testOutputDir, 'report.png'), fullPage: true });
  expect(pageErrors).toEqual([]);
  await page.close();
});

test('re-run from the worklist goes through Orthanc (its plugin route) to the sidecar', async () => {
  const page = await context.newPage();
  await page.goto(`${orthanc.url}/t3/app/`);
  await page.waitForSelector('body[data-loaded]');
  const id = await page.getAttribute('#worklist tbody tr[data-status="done"]', 'data-study-id');
  const answer = page.waitForResponse((res) => res.url().endsWith(`/t3/worklist/rerun/${id}`));
  await page.click(`tr[data-study-id="${id}"] button.rerun`);
  const res = await answer;
  expect(res.status()).toBe(200);
  expect(((await res.json()) as { result: { orthanc_study_id: string } }).result.orthanc_study_id).toBe(id);
  await page.close();
  // The user is in T3.worklist.administrators: the page offers the re-run (roles: plugin-access.test.ts).
  const data = await fetch(`${orthanc.url}/t3/worklist`, { headers: { Authorization: orthanc.authorization! } });
  expect(await data.json()).toMatchObject({ canRerun: true, user: USER.username, aiStatus: { ok: true, sidecar: 'ready', problems: [] } });
});

test('Orthanc Explorer shows the triage on the study page and badges in the patient\'s study list', async () => {
  const page = await context.newPage();
  const emergency = await waitFor('an emergency study', async () => {
    for (const id of studies) if ((await studyMetadata(orthanc, id)).T3Priority === 'emergency') return id;
    return null;
  });
  const meta = await studyMetadata(orthanc, emergency);
  await page.goto(`${orthanc.url}/app/explorer.html#study?uuid=${emergency}`);
  await page.waitForSelector('#t3-triage .t3-priority');
  expect(await page.textContent('#t3-triage .t3-priority')).toBe('emergency');
  expect(await page.textContent('#t3-triage .t3-top-finding')).toBe(meta.T3TopFinding);
  expect(await page.isVisible('#t3-triage .t3-demo')).toBe(true);
  expect(await page.textContent('#t3-triage .t3-priority-reason')).toBe(meta.T3PriorityReason);
  // Re-run is in the AI box at the top of the right column, not above "Delete this study".
  const rerun = await page.$eval('#t3-triage .t3-rerun', (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y }; });
  const del = await page.$eval('#study-delete', (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y }; });
  expect(rerun.x - del.x).toBeGreaterThan(200);
  for (const [width, height] of [[1920, 1080], [1024, 768]]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: path.join(testOutputDir, `explorer-study-${width}.png`), fullPage: true });
  }
  expect(await page.getAttribute('#t3-triage a.t3-report-link', 'href')).toBe(`../t3/studies/${emergency}/report`);
  expect(await page.$('#t3-triage .t3-review') !== null).toBe(meta.T3Review.startsWith('yes'));

  const study = await (await fetch(`${orthanc.url}/studies/${emergency}`, { headers: { Authorization: orthanc.authorization! } })).json() as { ParentPatient: string };
  await page.goto(`${orthanc.url}/app/explorer.html#patient?uuid=${study.ParentPatient}`);
  await page.waitForSelector(`a[href="#study?uuid=${emergency}"][data-t3="triaged"] .t3-priority`);
  expect(await page.textContent(`a[href="#study?uuid=${emergency}"] .t3-priority`)).toBe('emergency');
  expect(await page.textContent(`a[href="#study?uuid=${emergency}"] .t3-top-finding`)).toBe(meta.T3TopFinding);
  await page.screenshot({ path: path.join(testOutputDir, 'explorer-patient.png'), fullPage: true });
  await page.close();
});
