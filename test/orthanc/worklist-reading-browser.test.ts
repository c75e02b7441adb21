/**
 * The worklist as a radiologist reads from it (issue 24), in headless Chromium against a real Orthanc 1.10.1 with the
 * plugin, many studies and no sidecar (the triage state is the metadata the sidecar leaves, written here through
 * Orthanc's REST API, with the reasons worded as src/report/triage.ts words them):
 *  - one compact line per study: at least 20 on a 1080-pixel screen at 1920 px, no horizontal overflow at 1024 px
 *    (Re-run and the times on one line), names without carets, dates formatted, age, sex, accession, body part;
 *  - the reasons in clinical words; a count, paging, search and sorting;
 *  - seen / acknowledged / dismissed and agree / disagree stored in Orthanc with user and time, seen by a second
 *    reader after a reload and after an Orthanc restart; acknowledged studies leave the default view;
 *  - a new emergency while the page is open: the alert, the title and the tab's icon; the notification opt-in.
 * Leaves full-page screenshots at 1920 and 1024 px in test-output/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { describeDisagreement, describeFiredRule } from '../../src/report';
import { launchChromium, testOutputDir } from '../helpers/chromium';
import { freePort, repoRoot, restartOrthanc, startOrthanc, type OrthancServer, type StartOrthancOptions } from '../helpers/orthanc-server';
import { getJson, removeTempDirs, studyMetadata } from './harness';

// The page's globals as the callbacks below use them (this project compiles without the DOM library).
interface PageDocument {
  body: { getAttribute(name: string): string | null };
  querySelector(selector: string): unknown;
  documentElement: { scrollWidth: number; clientWidth: number };
}
type PageGlobals = { document: PageDocument; localStorage: { getItem(key: string): string | null } };

jest.setTimeout(240000);

const READER = { username: 'radiologist', password: 'reading-pass-1' };
const SECOND = { username: 'second-reader', password: 'reading-pass-2' };
const STUDIES = 80;
// The words the sidecar writes (one definition, src/report/triage.ts), for a pneumothorax rule at 50 %.
const EMERGENCY_REASON = describeFiredRule('Pneumothorax', 0.991, { code: '36118008', threshold: 0.5, priority: 'emergency' });
const URGENT_REASON = describeFiredRule('Pleural effusion', 0.62, { code: '60046008', threshold: 0.5, priority: 'urgent' });
const REVIEW_REASON = describeDisagreement({ value: 0.6765, limit: 0.3 }, null)!;

let options: StartOrthancOptions;
let orthanc: OrthancServer;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let second: Awaited<ReturnType<typeof launchChromium>>;
const ids: string[] = [];

function auth(user: { username: string; password: string }): string {
  return 'Basic ' + Buffer.from(`${user.username}:${user.password}`).toString('base64');
}

async function setMetadata(studyId: string, entries: Record<number, string>): Promise<void> {
  for (const [index, value] of Object.entries(entries)) {
    const res = await fetch(`${orthanc.url}/studies/${studyId}/metadata/${index}`, {
      method: 'PUT', body: value, headers: { Authorization: orthanc.authorization! },
    });
    if (!res.ok) throw new Error(`PUT metadata ${index}: ${res.status} ${await res.text()}`);
  }
}

async function createStudy(i: number): Promise<string> {
  const res = await fetch(`${orthanc.url}/tools/create-dicom`, {
    method: 'POST',
    headers: { Authorization: orthanc.authorization!, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      Tags: {
        // Made-up people: no patient data.
        PatientName: `TESTPATIENT${String(i).padStart(3, '0')}^Jane^Q`, PatientID: `T3-${1000 + i}`, PatientSex: i % 2 ? 'F' : 'M',
        PatientBirthDate: `19${50 + (i % 40)}0315`, StudyDate: '20240826', StudyTime: '101500', AccessionNumber: `ACC${5000 + i}`,
        StudyDescription: i % 3 ? 'CT chest with contrast' : 'Chest radiograph PA and lateral', Modality: i % 3 ? 'CT' : 'CR',
        BodyPartExamined: 'CHEST', SeriesNumber: '2', InstanceNumber: '1',
      },
    }),
  });
  if (!res.ok) throw new Error(`create-dicom: ${res.status} ${await res.text()}`);
  const instance = (await res.json()) as { ID: string };
  return (await getJson<{ ID: string }>(orthanc, `/instances/${instance.ID}/study`)).ID;
}

// The triage state of study i: a few emergencies and urgents, the rest routine (done).
function triageOf(i: number): Record<number, string> {
  // An SR id (made up: nothing here opens the report) so that rows carry their Report link, as real ones do.
  // Every third one finished days ago: rows of earlier days must fit the narrow columns as well as today's (a full
  // date there overflowed at 1024 px, seen when this test ran just after midnight).
  const finished = new Date(Date.now() - (i % 3 === 0 ? 3 * 86400_000 : 0) - i * 60000).toISOString();
  const done = { 4701: 'done', 4713: 'true', 4714: finished, 4704: `sr-${i}` };
  if (i % 20 === 0) {
    return { ...done, 4702: 'emergency', 4716: EMERGENCY_REASON, 4710: `yes: ${REVIEW_REASON}`, 4711: 'Pneumothorax 99.1%',
      4712: 'Pneumothorax 99.1%; Pleural effusion 31.0%; No finding 0.4%' };
  }
  if (i % 7 === 0) return { ...done, 4702: 'urgent', 4716: URGENT_REASON, 4710: 'no', 4711: 'Pleural effusion 62.0%', 4712: 'Pleural effusion 62.0%; No finding 30.0%; Pneumothorax 2.0%' };
  return { ...done, 4702: 'routine', 4710: 'no', 4711: 'No finding 91.0%', 4712: 'No finding 91.0%; Pleural effusion 5.0%; Pneumothorax 4.0%' };
}

async function open(user = chromium, width = 1920, height = 1080): Promise<{ page: Page; errors: string[] }> {
  const page = await user.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width, height });
  await page.goto(`${orthanc.url}/t3/app/`);
  await page.waitForSelector('body[data-loaded]');
  return { page, errors };
}

async function reload(page: Page): Promise<void> {
  const before = await page.getAttribute('body', 'data-loaded');
  await page.click('#refresh');
  await page.waitForFunction((b) => (globalThis as unknown as PageGlobals).document.body.getAttribute('data-loaded') !== b, before);
}

beforeAll(async () => {
  const gen = spawnSync(path.join(repoRoot, 'orthanc-config', 'generate-stubs.sh'), [], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`generate-stubs.sh failed: ${gen.stderr}`);
  const nobody = await freePort();
  options = {
    configDir: path.join(repoRoot, 'orthanc-config'),
    stableAge: 1,
    credentials: READER,
    overrides: {
      RegisteredUsers: { [READER.username]: READER.password, [SECOND.username]: SECOND.password },
      T3: { plugin: { sidecarAddress: `127.0.0.1:${nobody}`, deadlineSeconds: 1 }, worklist: { administrators: [READER.username] } },
    },
  };
  orthanc = await startOrthanc(options);
  for (let i = 0; i < STUDIES; i++) ids.push(await createStudy(i));
  for (let i = 0; i < STUDIES; i++) await setMetadata(ids[i], triageOf(i));
  chromium = await launchChromium({ httpCredentials: READER });
  second = await launchChromium({ httpCredentials: SECOND });
  fs.mkdirSync(testOutputDir, { recursive: true });
});

afterAll(async () => {
  await chromium?.close();
  await second?.close();
  await orthanc?.stop({ removeWorkDir: true });
  removeTempDirs();
});

test('at 1920 × 1080 at least 20 studies fit on a screen, each one line with the reading facts formatted', async () => {
  const { page, errors } = await open();
  const boxes = await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => {
    const r = tr.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom };
  }));
  const onFirstScreen = boxes.filter((b) => b.bottom <= 1080).length;
  const firstTop = boxes[0].top;
  const perScreen = boxes.filter((b) => b.top >= firstTop && b.bottom <= firstTop + 1080).length;
  expect(onFirstScreen).toBeGreaterThanOrEqual(20);
  expect(perScreen).toBeGreaterThanOrEqual(20);
  await page.screenshot({ path: path.join(testOutputDir, 'worklist-reading-1920.png'), fullPage: true });

  // A count, and paging: 80 studies in pages of 50.
  expect(await page.textContent('#counts')).toMatch(/^80 studies · 4 emergency · \d+ urgent · \d+ routine$/);
  expect(boxes.length).toBe(50);
  expect(await page.textContent('#page-info')).toBe('1–50 of 80 (page 1 of 2)');
  await page.click('#page-next');
  expect(await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.length)).toBe(30);
  expect(await page.textContent('#page-info')).toBe('51–80 of 80 (page 2 of 2)');
  await page.click('#page-prev');

  // The emergency row: the reasons in clinical words, the name without carets, the date formatted, age and sex.
  const row = `tr[data-study-id="${ids[20]}"]`;
  expect(await page.textContent(`${row} .priority-reason`)).toBe('Pneumothorax 99 % (rule: ≥ 50 % → emergency)');
  expect(await page.textContent(`${row} .review-reason`))
    .toBe('the two models disagree on this study (divergence 0.68, limit 0.30): read with care');
  expect(await page.textContent(`${row} .patient .name`)).toBe('TESTPATIENT020, Jane Q');
  expect(await page.textContent(`${row} .patient .age-sex`)).toBe(' · 54 Y M');
  expect(await page.textContent(`${row} .study-date`)).toBe('2024-08-26');
  expect(await page.textContent(`${row} .accession`)).toBe('ACC5020');
  expect(await page.textContent(`${row} .modality`)).toBe('CT · CHEST');
  expect(await page.textContent(`${row} .arrived`)).toMatch(/^\d+ (s|min)$/);
  // Only findings above the floor (10 %): "No finding 0.4%" is left out.
  expect(await page.$$eval(`${row} .findings li`, (lis) => lis.map((li) => li.textContent))).toEqual(['Pneumothorax 99.1%', 'Pleural effusion 31.0%']);
  expect(await page.textContent('body')).not.toContain('^');

  // Emergencies first; sorting by patient name orders the rows by name.
  expect(await page.getAttribute('#worklist tbody tr[data-study-id]', 'data-priority')).toBe('emergency');
  await page.click('th[data-sort="patient"]');
  const names = await page.$$eval('#worklist tbody tr[data-study-id] .patient .name', (els) => els.map((e) => e.textContent ?? ''));
  expect(names).toEqual([...names].sort());
  expect(names[0]).toBe('TESTPATIENT000, Jane Q');
  expect(await page.$('tr[data-group-header]')).toBeNull();
  await page.click('th[data-sort="priority"]');

  // Search by accession number, by patient ID, by name.
  await page.fill('#search', 'ACC5033');
  expect(await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => tr.getAttribute('data-study-id')))).toEqual([ids[33]]);
  await page.fill('#search', 'T3-1047');
  expect(await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => tr.getAttribute('data-study-id')))).toEqual([ids[47]]);
  await page.fill('#search', 'testpatient07');
  expect(await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.length)).toBe(10);
  await page.fill('#search', '');
  expect(errors).toEqual([]);
  await page.close();
});

test('at 1024 px nothing overflows sideways and Re-run and the times stay on one line', async () => {
  const { page, errors } = await open(chromium, 1024, 768);
  const overflow = await page.evaluate(() => {
    const d = (globalThis as unknown as PageGlobals).document;
    return { scroll: d.documentElement.scrollWidth, client: d.documentElement.clientWidth };
  });
  expect(overflow.scroll).toBeLessThanOrEqual(overflow.client);
  // One line each: a single client rect no taller than a line.
  expect(await page.$$eval('a.report-link', (els) => els.length)).toBe(50);
  const heights = await page.$$eval('button.rerun, .finished, .arrived, a.report-link, a.study-link', (els) => els.map((e) => ({
    height: e.getBoundingClientRect().height, text: e.textContent,
  })));
  expect(heights.length).toBeGreaterThan(100);
  expect(heights.filter((h) => h.height >= 24)).toEqual([]);
  // …and not cut off: the cells that hold them have room for all of it.
  const clipped = await page.$$eval('td.links, td.status, td.when', (tds) => tds.filter((td) => td.scrollWidth > td.clientWidth)
    .map((td) => td.textContent));
  expect(clipped).toEqual([]);
  expect(await page.$$eval('button.rerun', (els) => els.length)).toBe(50);
  await page.screenshot({ path: path.join(testOutputDir, 'worklist-reading-1024.png'), fullPage: true });
  expect(errors).toEqual([]);
  await page.close();
});

test('acknowledgement and feedback are kept in Orthanc with user and time, and another reader sees them after a reload and an Orthanc restart', async () => {
  const { page, errors } = await open();
  const emergency = ids[40];
  const routine = (await page.getAttribute('#worklist tbody tr[data-group="routine"]', 'data-study-id'))!;
  const row = (id: string) => `tr[data-study-id="${id}"]`;
  // A state-changing request without a JSON body is refused (cross-site request forgery).
  const form = await fetch(`${orthanc.url}/t3/worklist/studies/${emergency}/workflow`, {
    method: 'POST', body: 'state=acknowledged', headers: { Authorization: auth(SECOND), 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  expect(form.status).toBe(403);

  page.once('dialog', (dialog) => void dialog.accept('Pleural effusion'));
  await page.click(`${row(emergency)} button.verdict-disagree`);
  await page.waitForSelector(`${row(emergency)}[data-feedback="disagree"]`);
  await page.selectOption(`${row(emergency)} select.workflow-state`, 'acknowledged');
  await page.waitForFunction((id) => (globalThis as unknown as PageGlobals).document
    .querySelector(`tr[data-study-id="${id}"]`) === null, emergency);  // acknowledged: out of the default view
  await page.click(`${row(routine)} button.verdict-agree`);
  await page.selectOption(`${row(routine)} select.workflow-state`, 'seen');
  await page.waitForSelector(`${row(routine)}[data-workflow="seen"][data-feedback="agree"]`);

  const meta = await studyMetadata(orthanc, emergency);
  const ack = JSON.parse(meta.T3Ack);
  const feedback = JSON.parse(meta.T3Feedback);
  expect(ack).toMatchObject({ state: 'acknowledged', user: READER.username });
  expect(Date.now() - Date.parse(ack.at)).toBeLessThan(120000);
  expect(feedback).toMatchObject({ verdict: 'disagree', finding: 'Pleural effusion', user: READER.username,
    ai: { priority: 'emergency', priorityReason: EMERGENCY_REASON, topFinding: 'Pneumothorax 99.1%' } });
  expect(JSON.parse((await studyMetadata(orthanc, routine)).T3Feedback)).toMatchObject({ verdict: 'agree', user: READER.username });
  expect(await page.textContent('#counts')).toContain('1 acknowledged or dismissed (hidden)');
  expect(errors).toEqual([]);
  await page.close();

  const check = async (): Promise<void> => {
    const other = await open(second);
    // The reader's choice to show them is kept in the browser: off again for this check.
    await other.page.uncheck('#show-closed');
    expect(await other.page.$(row(emergency))).toBeNull();
    await other.page.check('#show-closed');
    await other.page.waitForSelector(`${row(emergency)}[data-workflow="acknowledged"][data-feedback="disagree"]`);
    expect(await other.page.$eval(`${row(emergency)} select.workflow-state`, (s) => (s as unknown as { value: string }).value)).toBe('acknowledged');
    expect(await other.page.getAttribute(`${row(emergency)} select.workflow-state`, 'title')).toMatch(new RegExp(`^acknowledged by ${READER.username}, `));
    expect(await other.page.getAttribute(`${row(emergency)} button.verdict-disagree`, 'aria-pressed')).toBe('true');
    expect(await other.page.getAttribute(`${row(emergency)} button.verdict-disagree`, 'title')).toContain('(right finding: Pleural effusion)');
    expect(await other.page.getAttribute(`${row(routine)} button.verdict-agree`, 'aria-pressed')).toBe('true');
    expect(await other.page.textContent(`${row(routine)} .workflow-who`)).toContain(READER.username);
    expect(other.errors).toEqual([]);
    await other.page.close();
  };
  await check();
  orthanc = await restartOrthanc(orthanc, options);
  await check();
});

test('a new emergency while the page is open raises an alert, the title and the tab icon; notifications are opt-in', async () => {
  const { page, errors } = await open();
  expect(await page.isVisible('#new-emergency')).toBe(false);
  const titleBefore = await page.title();
  expect(titleBefore).toMatch(/^\d+ emergency · AI triage worklist/);
  const fresh = await createStudy(STUDIES);
  await setMetadata(fresh, { 4701: 'done', 4702: 'emergency', 4716: EMERGENCY_REASON, 4710: 'no', 4711: 'Pneumothorax 99.1%' });
  await reload(page);
  expect(await page.isVisible('#new-emergency')).toBe(true);
  expect(await page.textContent('#new-emergency-text')).toBe(`New emergency: ${EMERGENCY_REASON} · TESTPATIENT080, Jane Q`);
  expect(await page.title()).toMatch(/^\(1 new\) \d+ emergency · AI triage worklist/);
  expect(await page.getAttribute('#favicon', 'href')).toMatch(/^data:image\/svg\+xml,/);
  await page.screenshot({ path: path.join(testOutputDir, 'worklist-new-emergency.png'), fullPage: false });
  await page.click('#new-emergency-show');
  expect(await page.isVisible('#new-emergency')).toBe(false);
  expect(new Set(await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => tr.getAttribute('data-group'))))).toEqual(new Set(['emergency']));

  // Notifications: the reader asks; the browser's answer decides (granted here).
  await chromium.context.grantPermissions(['notifications'], { origin: orthanc.url });
  await page.check('#notify');
  expect(await page.isChecked('#notify')).toBe(true);
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).localStorage.getItem('t3-worklist-notify'))).toBe('true');
  expect(errors).toEqual([]);
  await page.close();
});
