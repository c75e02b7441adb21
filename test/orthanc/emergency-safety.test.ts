/**
 * What a hospital needs on a bad day, end to end: a real Orthanc 1.10.1 with the shipped plugin, fed by C-STORE, and
 * the sidecar as `serve` runs it (gRPC on loopback, the plugin as its client).
 *  - Studies whose headers break their VRs (over-long values, control characters, a bidi override) are triaged and
 *    get exactly one SR that dciodvfy accepts.
 *  - A study whose SR the archive refuses keeps its emergency priority, with the reason, and is not retried for ever.
 *  - An explicit re-run (plugin route, gRPC) after a rule change changes the priority and writes a new SR that names
 *    its predecessor; a replay of the change feed writes nothing new.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { closeSharedFramePool } from '../../src/dicom';
import type { ServeRuntime } from '../../src/cli/serve';
import { loadT3Protos } from '../../src/grpc';
import { parseAiResultSr } from '../../src/report';
import type { AnalyzeStudyResponse__Output } from '../../src/grpc/generated/t3/v1/AnalyzeStudyResponse';
import { bearer, unary, type Answer } from '../grpc/grpc-test-helpers';
import { samplesDir, storescu, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { makeTempDir, removeTempDirs, resultSrs, studyMetadata, waitFor } from './harness';
import { startPluginPair, type PluginPair } from './plugin-pair';
import { dciodvfy } from '../report/validators';
import { pluginRequest } from '../helpers/http-request';
import { rleBomb } from '../dicom/generated-images';
import { launchChromium } from '../helpers/chromium';

jest.setTimeout(240000);

const TOKEN = 'emergency-safety-token-0123456789';
const CREDENTIALS = { username: 't3-safety-admin', password: 'safety-password-0123' };
/** The Lua filter below refuses the SRs of this patient: a site's filter, a real refusal by Orthanc. */
const REFUSED_PATIENT = 'SR-REFUSED-0001';
const EMERGENCY_FOR_ALL = [{ code: '60046008', threshold: 0, priority: 'emergency' }];

let orthanc: OrthancServer;
let runtime: ServeRuntime;
let logs: PluginPair['logs'] = [];

const call = (method: string, p: string, body?: string) => pluginRequest(orthanc.url, orthanc.authorization, method, p, body);

async function srFile(instanceId: string): Promise<Uint8Array> {
  const res = await fetch(`${orthanc.url}/instances/${instanceId}/file`, { headers: { Authorization: orthanc.authorization! } });
  return new Uint8Array(await res.arrayBuffer());
}

/** Orthanc's study id of a StudyInstanceUID (after it arrived). */
async function studyIdOf(studyInstanceUid: string): Promise<string> {
  return waitFor(`study ${studyInstanceUid}`, async () => {
    const found = await call('POST', '/tools/lookup', studyInstanceUid);
    return (found.json as { Type: string; ID: string }[] | null)?.find((r) => r.Type === 'Study')?.ID ?? null;
  });
}

async function doneWithOneSr(studyId: string): Promise<{ meta: Record<string, string>; sr: string }> {
  return waitFor(`study ${studyId} done with its SR`, async () => {
    const meta = await studyMetadata(orthanc, studyId);
    const srs = await resultSrs(orthanc, studyId);
    return meta.T3Status === 'done' && srs.length === 1 ? { meta, sr: srs[0] } : null;
  }, 90000);
}

let seedId: string;
/** A copy of the MR sample with these attributes replaced (Orthanc writes what it is given, over-long or not). */
async function variant(replace: Record<string, string>): Promise<Uint8Array> {
  const res = await fetch(`${orthanc.url}/instances/${seedId}/modify`, {
    // Non-ASCII as \u escapes; Orthanc writes a new value in the instance's character set, so a non-ASCII value
    // needs SpecificCharacterSet ISO_IR 192 in the same Replace.
    method: 'POST', body: JSON.stringify({ Replace: replace, Force: true }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    headers: { Authorization: orthanc.authorization! },
  });
  if (!res.ok) throw new Error(`modify: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

beforeAll(async () => {
  const pair = await startPluginPair({
    credentials: CREDENTIALS,
    token: TOKEN,
    sidecar: { retry: { maxAttempts: 2, initialDelayMs: 200, maxDelayMs: 400 } },
    orthanc: (dir) => {
      fs.writeFileSync(path.join(dir, 'refuse-sr.lua'), [
        'function ReceivedInstanceFilter(dicom, origin, info)',
        `  if dicom.Modality == 'SR' and dicom.PatientID == '${REFUSED_PATIENT}' then return false end`,
        '  return true',
        'end',
      ].join('\n'));
      return { LuaScripts: [path.join(dir, 'refuse-sr.lua')] };
    },
  });
  ({ orthanc, runtime, logs } = pair);
  seedId = (await uploadFile(orthanc, path.join(samplesDir, 'pydicom_MR_small.dcm'))).ID;
});

afterAll(async () => {
  await runtime?.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

const HEADER_CASES: { name: string; replace: Record<string, string>; adjusted?: string }[] = [
  { name: 'AccessionNumber of 17 characters', replace: { AccessionNumber: 'RIS-2026-00012345X' }, adjusted: 'AccessionNumber' },
  { name: 'StudyID of 21 characters', replace: { StudyID: 'STUDY-ID-000000000042' }, adjusted: 'StudyID' },
  { name: 'StudyDescription of 77 characters', replace: { StudyDescription: `CT THORAX ABDOMEN PELVIS WITH CONTRAST ${'X'.repeat(38)}` }, adjusted: 'StudyDescription' },
  // InstitutionName is not copied into the SR (its equipment is the sidecar's): the study must still be triaged.
  { name: 'InstitutionName of 70 characters', replace: { InstitutionName: `UNIVERSITY HOSPITAL ${'X'.repeat(50)}` } },
  { name: 'PatientName component of 70 characters', replace: { PatientName: `${'X'.repeat(70)}^JOHN` }, adjusted: 'PatientName' },
  { name: 'ReferringPhysicianName of 92 characters', replace: { ReferringPhysicianName: `DR ${'R'.repeat(86)}^ANN` }, adjusted: 'ReferringPhysicianName' },
  { name: 'ESC and BEL in the PatientID', replace: { PatientID: 'ID\u001b\u0007X' } },
  { name: 'U+202E override in a UTF-8 PatientName', replace: { SpecificCharacterSet: 'ISO_IR 192', PatientName: 'DOE^\u202eNHOJ' }, adjusted: 'PatientName' },
];

test('studies with non-conformant headers, sent by C-STORE, each end done with one SR that dciodvfy accepts', async () => {
  const dir = makeTempDir('t3-headers-');
  const uids = HEADER_CASES.map((_, i) => `1.2.826.0.1.3680043.10.2121.${i + 1}`);
  for (const [i, c] of HEADER_CASES.entries()) {
    const bytes = await variant({ ...c.replace, StudyInstanceUID: uids[i], SeriesInstanceUID: `${uids[i]}.1`, SOPInstanceUID: `${uids[i]}.1.1` });
    fs.writeFileSync(path.join(dir, `case-${i}.dcm`), bytes);
  }
  await storescu(orthanc, [dir]);
  for (const [i, c] of HEADER_CASES.entries()) {
    const studyId = await studyIdOf(uids[i]);
    const { meta, sr } = await doneWithOneSr(studyId);
    expect(['routine', 'urgent', 'emergency']).toContain(meta.T3Priority);
    expect(meta.T3ReportError).toBeUndefined();
    const bytes = await srFile(sr);
    const parsed = parseAiResultSr(bytes);
    if (c.adjusted) expect({ case: c.name, adjusted: parsed.parameters.sourceAttributesAdjusted?.split(',') }).toEqual({ case: c.name, adjusted: expect.arrayContaining([c.adjusted]) });
    const file = path.join(dir, `sr-${i}.dcm`);
    fs.writeFileSync(file, bytes);
    const errors = (await dciodvfy(file)).findings.filter((l) => l.startsWith('Error'));
    if (c.replace.PatientID) {
      // The PatientID is the study's identity in Orthanc (and in every system that files the SR): it is kept as the
      // modality sent it, so the SR lands in this study; the SR says it is non-conformant. Only its own line may remain.
      expect(parsed.parameters.sourceAttributesNonConformant).toBe('PatientID');
      expect(parsed.patientId).toBe(c.replace.PatientID);
      expect(errors.filter((l) => !l.includes('(0x0010,0x0020)')
        && l !== 'Error - Dicom dataset contains invalid data values for Value Representations')).toEqual([]);
    } else {
      expect({ case: c.name, errors }).toEqual({ case: c.name, errors: [] });
    }
  }
  // Logged by attribute name; the values (patient data) never appear in the log.
  const adjustedLogs = logs.filter((l) => l.event === 'source-header-adjusted');
  expect(adjustedLogs.length).toBeGreaterThanOrEqual(HEADER_CASES.filter((c) => c.adjusted).length);
  const logText = JSON.stringify(adjustedLogs);
  for (const value of ['RIS-2026-00012345X', 'NHOJ', 'STUDY-ID-000000000042']) expect(logText).not.toContain(value);
});

test('a study whose SR the archive refuses keeps its emergency priority with the reason, and is parked after its retries', async () => {
  const sidecar = runtime.service.sidecar;
  const before = sidecar.getConfig().triage;
  await sidecar.updateConfig({ triage: { rules: EMERGENCY_FOR_ALL } }, { dryRun: false });
  try {
    const uid = '1.2.826.0.1.3680043.10.2121.100';
    const dir = makeTempDir('t3-refused-');
    fs.writeFileSync(path.join(dir, 'refused.dcm'), await variant({ PatientID: REFUSED_PATIENT, StudyInstanceUID: uid, SeriesInstanceUID: `${uid}.1`, SOPInstanceUID: `${uid}.1.1` }));
    await storescu(orthanc, [dir]);
    const studyId = await studyIdOf(uid);
    const meta = await waitFor('the study to be parked', async () => {
      const m = await studyMetadata(orthanc, studyId);
      return m.T3Status === 'parked' ? m : null;
    }, 90000);
    expect(meta.T3Priority).toBe('emergency');
    expect(meta.T3ReportError).toMatch(/did not store the SR \(status FilteredOut\)/);
    expect(meta.T3Attempts).toBe('2');
    expect(await resultSrs(orthanc, studyId)).toEqual([]);
    // The worklist, in a real browser: the study stands with the emergencies, marked "report failed" with the reason,
    // and no emergency is listed below a routine study.
    const browser = await launchChromium({ httpCredentials: CREDENTIALS });
    try {
      const page = await browser.context.newPage();
      await page.goto(`${orthanc.url}/t3/app/`);
      await page.waitForSelector('body[data-loaded]');
      const rows = await page.$$eval('#worklist tbody tr[data-study-id]', (trs) => trs.map((tr) => ({
        id: tr.getAttribute('data-study-id')!, group: tr.getAttribute('data-group')!,
        reportFailed: tr.querySelector('.badge.report-failed')?.getAttribute('title') ?? null,
      })));
      const refused = rows.findIndex((r) => r.id === studyId);
      expect(rows[refused]).toMatchObject({ group: 'emergency' });
      expect(rows[refused].reportFailed).toMatch(/FilteredOut/);
      const firstRoutine = rows.findIndex((r) => r.group === 'routine');
      if (firstRoutine >= 0) expect(refused).toBeLessThan(firstRoutine);
      expect(rows.slice(0, refused).every((r) => r.group === 'emergency')).toBe(true);
    } finally {
      await browser.close();
    }
    // gRPC says the same: the priority with the failure.
    const protos = loadT3Protos();
    const triage = new protos.triageService(`127.0.0.1:${runtime.grpc!.port}`, grpc.credentials.createInsecure());
    try {
      const result = await unary(triage, 'GetStudyResult', { study: { orthancStudyId: studyId } }, bearer(TOKEN));
      expect(result.result.state).toBe('JOB_STATE_PARKED');
      expect(result.result.triage.priority).toBe('PRIORITY_EMERGENCY');
      expect(result.result.error).toMatch(/the SR could not be written/);
    } finally {
      triage.close();
    }
  } finally {
    await sidecar.updateConfig({ triage: before }, { dryRun: false });
  }
});

test('after a rule change, Re-run through the plugin route and through gRPC writes new SRs that supersede; a replay writes nothing', async () => {
  const sidecar = runtime.service.sidecar;
  const uid = '1.2.826.0.1.3680043.10.2121.200';
  const dir = makeTempDir('t3-rerun-');
  fs.writeFileSync(path.join(dir, 'rerun.dcm'), await variant({ StudyInstanceUID: uid, SeriesInstanceUID: `${uid}.1`, SOPInstanceUID: `${uid}.1.1` }));
  await storescu(orthanc, [dir]);
  const studyId = await studyIdOf(uid);
  const first = await doneWithOneSr(studyId);
  const firstSr = parseAiResultSr(await srFile(first.sr));
  const changed = firstSr.priority === 'emergency' ? 'urgent' : 'emergency';
  const before = sidecar.getConfig().triage;

  // A rule change through Orthanc (as an administrator would), then Re-run through the plugin route.
  const put = await call('PUT', '/t3/config', JSON.stringify({ triage: { rules: [{ code: '60046008', threshold: 0, priority: changed }] } }));
  expect(put.status).toBe(200);
  try {
    const rerun = await call('POST', `/t3/studies/${studyId}/analyze`, '{}');
    expect(rerun.status).toBe(200);
    const second = await waitFor('the re-run SR', async () => {
      const m = await studyMetadata(orthanc, studyId);
      return m.T3Status === 'done' && m.T3Priority === changed && m.T3Sr !== first.sr ? m : null;
    }, 90000);
    const srs = await resultSrs(orthanc, studyId);
    expect(srs).toHaveLength(2);
    const secondSr = parseAiResultSr(await srFile(second.T3Sr));
    expect(secondSr.priority).toBe(changed);
    expect(secondSr.predecessor?.sopInstanceUid).toBe(firstSr.sopInstanceUid);
    expect(secondSr.parameters.rerun).toBeDefined();
    expect(Date.parse(second.T3Finished)).toBeGreaterThan(Date.parse(first.meta.T3Finished));
    const secondFile = path.join(dir, 'second-sr.dcm');
    fs.writeFileSync(secondFile, await srFile(second.T3Sr));
    expect((await dciodvfy(secondFile)).findings.filter((l) => l.startsWith('Error'))).toEqual([]);

    // gRPC: an explicit re-run (force) with the same rules still writes a new SR, naming the second as predecessor.
    const protos = loadT3Protos();
    const triage = new protos.triageService(`127.0.0.1:${runtime.grpc!.port}`, grpc.credentials.createInsecure());
    let third: Answer<AnalyzeStudyResponse__Output>;
    try {
      third = await unary(triage, 'AnalyzeStudy',
        { study: { orthancStudyId: studyId }, priority: 'RUN_PRIORITY_STAT', writeBack: true, force: true }, bearer(TOKEN));
    } finally {
      triage.close();
    }
    expect(third.result.triage.priority).toBe(changed === 'emergency' ? 'PRIORITY_EMERGENCY' : 'PRIORITY_URGENT');
    expect(third.result.srOrthancInstanceId).not.toBe(second.T3Sr);
    const thirdSr = parseAiResultSr(await srFile(third.result.srOrthancInstanceId));
    expect(thirdSr.predecessor?.sopInstanceUid).toBe(secondSr.sopInstanceUid);
    expect((await studyMetadata(orthanc, studyId)).T3Sr).toBe(third.result.srOrthancInstanceId);
    const afterGrpc = await resultSrs(orthanc, studyId);
    expect(afterGrpc).toHaveLength(3);

    // A replay of the change feed (a restart, the SR's own change) reuses the stored result: nothing new is written.
    const unchangedBefore = logs.filter((l) => l.event === 'study-unchanged' && l.fields.orthancStudyId === studyId).length;
    await sidecar.handleStableStudy(studyId);
    expect(logs.filter((l) => l.event === 'study-unchanged' && l.fields.orthancStudyId === studyId).length).toBeGreaterThan(unchangedBefore);
    expect(await resultSrs(orthanc, studyId)).toEqual(afterGrpc);
  } finally {
    await sidecar.updateConfig({ triage: before }, { dryRun: false });
  }
});

test('a decompression bomb and a backtracking-prone routing rule: named refusal, the rest triaged, /livez answering throughout', async () => {
  const sidecar = runtime.service.sidecar;
  const routing = sidecar.getConfig().routing;
  // Under JavaScript's RegExp this rule held the event loop for about 37 s against the description below.
  await sidecar.updateConfig({ routing: { rules: [{ bundle: routing.defaultBundle ?? 'demo', studyDescription: '^(a+)+$' }] } }, { dryRun: false });
  const livez = `http://127.0.0.1:${runtime.metrics!.port}/livez`;
  const probes: { ok: boolean; ms: number }[] = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const t0 = Date.now();
      const ok = await fetch(livez, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
      probes.push({ ok, ms: Date.now() - t0 });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const uid = '1.2.826.0.1.3680043.10.2121.300';
    const dir = makeTempDir('t3-hostile-');
    fs.writeFileSync(path.join(dir, 'description.dcm'), await variant({
      StudyDescription: `${'a'.repeat(31)}!`, StudyInstanceUID: uid, SeriesInstanceUID: `${uid}.1`, SOPInstanceUID: `${uid}.1.1`,
    }));
    fs.writeFileSync(path.join(dir, 'bomb.dcm'), rleBomb());
    await storescu(orthanc, [dir]);
    const described = await studyIdOf(uid);
    const bomb = await studyIdOf('2.25.40000.1');
    await doneWithOneSr(described);
    const parked = await waitFor('the bomb to be refused', async () => {
      const m = await studyMetadata(orthanc, bomb);
      return m.T3Status === 'parked' ? m : null;
    }, 60000);
    // Refused by its declared size before decoding, named, and not retried (the same file fails the same way).
    expect(parked.T3Error).toMatch(/image-too-large/);
    expect(parked.T3Attempts).toBe('1');
    expect(await resultSrs(orthanc, bomb)).toEqual([]);
  } finally {
    probing = false;
    await prober;
    await sidecar.updateConfig({ routing }, { dryRun: false });
  }
  expect(probes.length).toBeGreaterThan(5);
  expect(probes.filter((p) => !p.ok)).toEqual([]);
});

test('a hostile PhotometricInterpretation with fail-study: the refusal is shown, and nothing of it runs in Explorer, the worklist or the report', async () => {
  const sidecar = runtime.service.sidecar;
  const inference = sidecar.getConfig().inference;
  await sidecar.updateConfig({ inference: { onBadImage: 'fail-study' } }, { dryRun: false });
  // The value lands in the study's error text, which the pages show (the badge's title="…" among them).
  const payload = `"onmouseover="window.t3Pwned=1" x='<img src=x onerror=window.t3Pwned=2>`;
  const shown: string[] = [];
  try {
    const uid = '1.2.826.0.1.3680043.10.2121.400';
    const dir = makeTempDir('t3-hostile-pi-');
    // One good image and the hostile one: fail-study fails the study, naming the bad image and why.
    fs.writeFileSync(path.join(dir, 'good.dcm'), await variant({ StudyInstanceUID: uid, SeriesInstanceUID: `${uid}.1`, SOPInstanceUID: `${uid}.1.1` }));
    fs.writeFileSync(path.join(dir, 'hostile.dcm'), await variant({
      PhotometricInterpretation: payload, StudyInstanceUID: uid, SeriesInstanceUID: `${uid}.1`, SOPInstanceUID: `${uid}.1.2`,
    }));
    await storescu(orthanc, [dir]);
    const studyId = await studyIdOf(uid);
    const parked = await waitFor('the hostile study to be refused', async () => {
      const m = await studyMetadata(orthanc, studyId);
      return m.T3Status === 'parked' ? m : null;
    }, 60000);
    expect(parked.T3Error).toMatch(/unsupported-photometric/);
    // The reader upper-cases a CS value (as modalities' JSFuck payloads expect: HTML attribute names are not case
    // sensitive), so what would run is an ONMOUSEOVER= or ONERROR= attribute: none may appear in any page.
    expect(parked.T3Error).toMatch(/onmouseover=/i);

    const browser = await launchChromium({ httpCredentials: CREDENTIALS });
    try {
      const page = await browser.context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      const pwned = () => page.evaluate(() => (globalThis as unknown as { t3Pwned?: number }).t3Pwned);
      const study = await (await fetch(`${orthanc.url}/studies/${studyId}`, { headers: { Authorization: orthanc.authorization! } })).json() as { ParentPatient: string };
      const pages = [
        `${orthanc.url}/app/explorer.html#patient?uuid=${study.ParentPatient}`,
        `${orthanc.url}/app/explorer.html#study?uuid=${studyId}`,
        `${orthanc.url}/t3/app/`,
        `${orthanc.url}/t3/studies/${studyId}/report`,
      ];
      for (const url of pages) {
        await page.goto(url);
        await page.waitForLoadState('networkidle');
        // Hover everything the study's state was written into: an injected handler would fire.
        for (const el of await page.$$('[title], .t3-badge, tr[data-study-id], #t3-triage *')) await el.hover({ force: true, timeout: 1000 }).catch(() => undefined);
        expect({ url, pwned: await pwned() }).toEqual({ url, pwned: undefined });
        if ((await page.content()).includes('ONMOUSEOVER')) shown.push(url);
        expect({ url, handlers: await page.$$eval('[onmouseover], [onerror], img[src="X" i]', (els) => els.length) }).toEqual({ url, handlers: 0 });
      }
      expect(pageErrors).toEqual([]);
      // The hostile text did reach the pages (as text, escaped), so the checks above exercised the escaping.
      expect(shown.length).toBeGreaterThan(0);
    } finally {
      await browser.close();
    }
  } finally {
    await sidecar.updateConfig({ inference }, { dryRun: false });
  }
});
