/**
 * AnalyzeStudy, GetStudyResult, WatchTriage and the AdminService against a real Orthanc (Debian package) and the
 * real Sidecar, through a real gRPC server and client. The change-feed follower is off, so every analysis here is
 * one the gRPC client asked for.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSidecarConfig, mergeConfig, validateSidecarConfig, type SidecarConfig } from '../../src/config';
import { closeSharedFramePool } from '../../src/dicom';
import { startSidecarGrpcServer, type RunningGrpcServer } from '../../src/grpc';
import type { FailedJob__Output } from '../../src/grpc/generated/t3/v1/FailedJob';
import type { TriageEvent__Output } from '../../src/grpc/generated/t3/v1/TriageEvent';
import type { WatchTriageRequest } from '../../src/grpc/generated/t3/v1/WatchTriageRequest';
import { tokenIdOf } from '../../src/grpc/token-table';
import { startOrthancSidecar, type OrthancSidecar } from '../../src/orthanc/sidecar-service';
import { startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import {
  ADMIN_TOKEN,
  bearer,
  codeOf,
  connect,
  samplesDir,
  TRIAGE_TOKEN,
  unary,
  type Answer,
  type TestClients,
} from './grpc-test-helpers';

jest.setTimeout(120000);

let orthanc: OrthancServer;
let service: OrthancSidecar<SidecarConfig>;
let server: RunningGrpcServer;
let clients: TestClients;
let ctStudy: string;
let ctStudyUid: string;
const SECRET_TOKEN = 'config-secret-token-0123456789';

async function resultSrIds(studyId: string): Promise<string[]> {
  const series = (await (await fetch(`${orthanc.url}/studies/${studyId}/series`)).json()) as any[];
  return series.filter((s) => s.MainDicomTags.Manufacturer === 'orthanc-t3').flatMap((s) => s.Instances as string[]).sort();
}

beforeAll(async () => {
  orthanc = await startOrthanc({ stableAge: 1 });
  const checkpointDir = fs.mkdtempSync(path.join(os.tmpdir(), 't3-grpc-cp-'));
  const { config } = loadSidecarConfig({
    overrides: {
      orthanc: { url: orthanc.url, timeoutMs: 5000 },
      follower: { checkpointPath: path.join(checkpointDir, 'checkpoint.json'), pollIntervalMs: 150, maxBackoffMs: 1000 },
      inference: { executionProviders: ['cpu'] },
      retry: { maxAttempts: 2, initialDelayMs: 200, maxDelayMs: 500 },
      grpc: { listen: '', tls: null, tokens: [{ token: SECRET_TOKEN, role: 'admin' }] },
    },
  });
  service = await startOrthancSidecar({ config, validateConfig: validateSidecarConfig, mergeConfig, version: 'test', follow: false });
  // The wiring `serve` uses: Classify shares the Sidecar's engines.
  server = await startSidecarGrpcServer({
    sidecar: service.sidecar,
    grpc: {
      listen: '127.0.0.1:0',
      tls: null,
      tokens: [
        { token: TRIAGE_TOKEN, role: 'triage' },
        { token: ADMIN_TOKEN, role: 'admin' },
        ...config.grpc.tokens,
      ],
    },
    onInternalError: (method, err) => console.error(`INTERNAL in ${method}:`, err),
  });
  clients = connect(server.port);
  const uploaded = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_CT_small.dcm'));
  ctStudy = uploaded.ParentStudy;
  ctStudyUid = ((await (await fetch(`${orthanc.url}/studies/${ctStudy}`)).json()) as any).MainDicomTags.StudyInstanceUID;
});

afterAll(async () => {
  clients?.close();
  await server?.close(1000);
  await service?.stop();
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
});

/** Opens WatchTriage and collects its events until `stop()`. */
function watch(request: WatchTriageRequest) {
  const events: Answer<TriageEvent__Output>[] = [];
  const call = clients.triage.WatchTriage(request, bearer(TRIAGE_TOKEN));
  let ended: grpc.StatusObject | null = null;
  call.on('data', (e: Answer<TriageEvent__Output>) => events.push(e));
  call.on('error', () => undefined);
  call.on('status', (s: grpc.StatusObject) => { ended = s; });
  return {
    events,
    ended: () => ended,
    stop: () => call.cancel(),
  };
}

async function until(what: string, condition: () => boolean, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('AnalyzeStudy and WatchTriage', () => {
  test('AnalyzeStudy with write-back writes the SR once, and WatchTriage streams it', async () => {
    const live = watch({});
    try {
      const first = await unary(clients.triage, 'AnalyzeStudy', {
        study: { orthancStudyId: ctStudy }, priority: 'RUN_PRIORITY_STAT', writeBack: true,
      }, bearer(TRIAGE_TOKEN));
      const result = first.result;
      expect(result.state).toBe('JOB_STATE_DONE');
      expect(result.orthancStudyId).toBe(ctStudy);
      expect(result.studyInstanceUid).toBe(ctStudyUid);
      expect(result.images).toHaveLength(1);
      const engine = [...service.sidecar.engines().values()][0];
      expect(result.images[0].predictions).toHaveLength(engine.bundle.manifest.classes.length);
      expect(result.batchLambdas).toHaveLength(1);
      expect(result.images[0].batchLambda).toBe(result.batchLambdas[0]);
      expect(result.triage.priority).toMatch(/^PRIORITY_/);
      expect(result.policy).toBe('POLICY_T3B');
      expect(result.srOrthancInstanceId).not.toBe('');
      expect(await resultSrIds(ctStudy)).toEqual([result.srOrthancInstanceId]);

      await until('the streamed result', () => live.events.some((e) => e.result.srOrthancInstanceId === result.srOrthancInstanceId));
      const event = live.events.find((e) => e.result.orthancStudyId === ctStudy)!;
      expect(event.eventId).toBeGreaterThan(0);
      expect(event.historyGap).toBe(false);
      expect(event.result.triage.priority).toBe(result.triage.priority);

      // Asking again with the same inputs returns the same SR; nothing new is written.
      const again = await unary(clients.triage, 'AnalyzeStudy', { study: { studyInstanceUid: ctStudyUid }, writeBack: true }, bearer(TRIAGE_TOKEN));
      expect(again.result.state).toBe('JOB_STATE_DONE');
      expect(again.result.srOrthancInstanceId).toBe(result.srOrthancInstanceId);
      expect(await resultSrIds(ctStudy)).toEqual([result.srOrthancInstanceId]);
    } finally {
      live.stop();
    }
  });

  test('GetStudyResult by Orthanc id and by StudyInstanceUID', async () => {
    const byId = await unary(clients.triage, 'GetStudyResult', { study: { orthancStudyId: ctStudy } }, bearer(TRIAGE_TOKEN));
    expect(byId.result.state).toBe('JOB_STATE_DONE');
    const byUid = await unary(clients.triage, 'GetStudyResult', { study: { studyInstanceUid: ctStudyUid } }, bearer(TRIAGE_TOKEN));
    expect(byUid.result.orthancStudyId).toBe(ctStudy);
    const unknown = await codeOf(unary(clients.triage, 'GetStudyResult', { study: { studyInstanceUid: '1.2.3.4.5' } }, bearer(TRIAGE_TOKEN)));
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
  });

  test('a reconnecting client resumes from its last event id and misses nothing held; filters apply', async () => {
    // A forced re-run publishes a second event for the study.
    const rerun = await unary(clients.triage, 'AnalyzeStudy', { study: { orthancStudyId: ctStudy }, writeBack: true, force: true }, bearer(TRIAGE_TOKEN));
    expect(rerun.result.state).toBe('JOB_STATE_DONE');
    // An explicit re-run is an analysis of its own: a new SR that supersedes the first (one more in the study).
    const srs = await resultSrIds(ctStudy);
    expect(srs).toHaveLength(2);
    expect(srs).toContain(rerun.result.srOrthancInstanceId);
    const all = watch({ resumeAfterEventId: 0 });
    await until('the replayed events', () => all.events.length >= 2);
    all.stop();
    const ids = all.events.map((e) => e.eventId);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    // Resume after the first: exactly the later ones come back.
    const resumed = watch({ resumeAfterEventId: ids[0] });
    await until('the resumed replay', () => resumed.events.length >= ids.length - 1);
    expect(resumed.events.map((e) => e.eventId)).toEqual(ids.slice(1));

    // A new analysis while the resumed stream is open arrives live, after the replay.
    const forced = await unary(clients.triage, 'AnalyzeStudy', { study: { orthancStudyId: ctStudy }, writeBack: true, force: true }, bearer(TRIAGE_TOKEN));
    expect(forced.result.state).toBe('JOB_STATE_DONE');
    await until('the live event', () => resumed.events.length === ids.length);
    expect(resumed.events[resumed.events.length - 1].eventId).toBeGreaterThan(ids[ids.length - 1]);
    resumed.stop();

    const ct = watch({ resumeAfterEventId: 0, modalities: ['ct'] });
    const mr = watch({ resumeAfterEventId: 0, modalities: ['MR'] });
    await until('the CT replay', () => ct.events.length >= ids.length);
    await new Promise((r) => setTimeout(r, 300));
    expect(ct.events.every((e) => e.result.modalities.includes('CT'))).toBe(true);
    expect(mr.events).toHaveLength(0);
    ct.stop();
    mr.stop();
  });

  test('return_immediately answers before the job is done; unknown studies are NOT_FOUND', async () => {
    const quick = await unary(clients.triage, 'AnalyzeStudy', {
      study: { orthancStudyId: ctStudy }, writeBack: false, force: true, returnImmediately: true,
    }, bearer(TRIAGE_TOKEN));
    expect(['JOB_STATE_QUEUED', 'JOB_STATE_DONE']).toContain(quick.result.state);
    const missing = await codeOf(unary(clients.triage, 'AnalyzeStudy', {
      study: { orthancStudyId: '00000000-00000000-00000000-00000000-00000000' },
    }, bearer(TRIAGE_TOKEN)));
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('Classify on the Sidecar\'s engines', () => {
  test('Classify by the configured bundle name answers with the Sidecar\'s defaults', async () => {
    const response = await unary(clients.triage, 'Classify', {
      images: [{ name: 'mr', dicom: fs.readFileSync(path.join(samplesDir, 'pydicom_MR_small.dcm')) }], bundle: 'demo',
    }, bearer(TRIAGE_TOKEN));
    expect(response.policy).toBe('POLICY_T3B');
    expect(response.images).toHaveLength(1);
    expect(response.bundle.name).toBe([...service.sidecar.engines().values()][0].bundle.manifest.name);
  });
});

describe('AdminService over the Sidecar', () => {
  test('GetConfig redacts secrets; UpdateConfig validates, dry-runs and applies', async () => {
    const config = JSON.parse((await unary(clients.admin, 'GetConfig', {}, bearer(ADMIN_TOKEN))).json);
    expect(config.grpc.tokens).toEqual([{ token: '***', tokenId: tokenIdOf(SECRET_TOKEN), role: 'admin' }]);
    expect(JSON.stringify(config)).not.toContain(SECRET_TOKEN);

    const rules = [{ code: '36118008', threshold: 0.2, priority: 'emergency' }];
    const dry = await unary(clients.admin, 'UpdateConfig', { json: JSON.stringify({ triage: { rules } }), dryRun: true }, bearer(ADMIN_TOKEN));
    expect(dry.applied).toBe(false);
    expect(dry.changedKeys).toEqual(['triage.rules']);
    expect(dry.restartRequired).toEqual([]);
    const later = await unary(clients.admin, 'UpdateConfig', { json: JSON.stringify({ follower: { pollIntervalMs: 300 } }), dryRun: true }, bearer(ADMIN_TOKEN));
    // The follower is not reconfigured while running: nothing effective changes, and the key is named.
    expect(later).toMatchObject({ applied: false, changedKeys: [], restartRequired: ['follower.pollIntervalMs'] });
    expect(service.sidecar.getConfig().triage.rules).not.toEqual(rules);

    const bad = await codeOf(unary(clients.admin, 'UpdateConfig', {
      json: JSON.stringify({ triage: { rules: [{ code: '36118008', threshold: 7, priority: 'emergency' }] } }),
    }, bearer(ADMIN_TOKEN)));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/triage\.rules\[0\]\.threshold/);

    // Sending back the redacted configuration does not overwrite the secret.
    const applied = await unary(clients.admin, 'UpdateConfig', { json: JSON.stringify({ ...config, triage: { ...config.triage, rules } }) }, bearer(ADMIN_TOKEN));
    expect(applied.applied).toBe(true);
    expect(service.sidecar.getConfig().triage.rules).toEqual(rules);
    expect(service.sidecar.getConfig().grpc.tokens[0].token).toBe(SECRET_TOKEN);

    const notJson = await codeOf(unary(clients.admin, 'UpdateConfig', { json: '{"triage":' }, bearer(ADMIN_TOKEN)));
    expect(notJson.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  test('GetStatus reports queues, jobs, throughput, models and version', async () => {
    const status = await unary(clients.admin, 'GetStatus', {}, bearer(ADMIN_TOKEN));
    expect(status.version).toBe('test');
    expect(status.executionProvider).toBe('cpu');
    expect(status.queues.map((q) => q.lane)).toEqual(expect.arrayContaining(['stat', 'routine', 'classify']));
    expect(status.jobs).toBeTruthy();
    expect(status.throughput.studiesTotal).toBeGreaterThan(0);
    expect(status.models[0].bundle.generalist.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  test('ReloadModels swaps the engines; Classify runs on the new ones', async () => {
    const before = [...service.sidecar.engines().values()][0];
    const unknown = await codeOf(unary(clients.admin, 'ReloadModels', { bundles: ['no-such-bundle'] }, bearer(ADMIN_TOKEN)));
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    const reloaded = await unary(clients.admin, 'ReloadModels', { bundles: ['demo'] }, bearer(ADMIN_TOKEN));
    expect(reloaded.models).toHaveLength(1);
    expect(reloaded.models[0].bundle.expert.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(reloaded.models[0].loadedAtUnixMs).toBeGreaterThan(0);
    expect([...service.sidecar.engines().values()][0]).not.toBe(before);
    const response = await unary(clients.triage, 'Classify', {
      images: [{ name: 'mr', dicom: fs.readFileSync(path.join(samplesDir, 'pydicom_MR_small.dcm')) }],
    }, bearer(TRIAGE_TOKEN));
    expect(response.images).toHaveLength(1);
  });

  test('a study whose only image is broken is parked at once with its reason (the same file fails again), listed, and retried on request', async () => {
    expect((await unary(clients.admin, 'ListFailedJobs', {}, bearer(ADMIN_TOKEN))).jobs).toEqual([]);
    expect((await codeOf(unary(clients.admin, 'RetryJob', { jobId: 'no-such-job' }, bearer(ADMIN_TOKEN)))).code).toBe(grpc.status.NOT_FOUND);

    // A study whose only image claims more rows than its pixel data holds.
    const mr = await uploadFile(orthanc, path.join(samplesDir, 'pydicom_MR_small.dcm'));
    const response = await fetch(`${orthanc.url}/instances/${mr.ID}/modify`, {
      method: 'POST',
      body: JSON.stringify({ Replace: { Rows: '300', StudyInstanceUID: '1.2.826.0.1.3680043.8.498.1.42', SeriesInstanceUID: '1.2.826.0.1.3680043.8.498.1.43', SOPInstanceUID: '1.2.826.0.1.3680043.8.498.1.44' }, Force: true }),
    });
    const broken = await uploadFile(orthanc, new Uint8Array(await response.arrayBuffer()));
    const first = await unary(clients.triage, 'AnalyzeStudy', { study: { orthancStudyId: broken.ParentStudy }, writeBack: true }, bearer(TRIAGE_TOKEN));
    expect(first.result.state).toBe('JOB_STATE_PARKED');
    expect(first.result.error).toMatch(/no image of the study could be classified/);

    let jobs: Answer<FailedJob__Output>[] = [];
    await until('the job to be parked', () => {
      void unary(clients.admin, 'ListFailedJobs', {}, bearer(ADMIN_TOKEN)).then((r) => { jobs = r.jobs; });
      return jobs.some((j) => j.orthancStudyId === broken.ParentStudy && j.state === 'JOB_STATE_PARKED');
    });
    const parked = jobs.find((j) => j.orthancStudyId === broken.ParentStudy)!;
    expect(parked.attempts).toBe(1);
    expect(parked.reason).toMatch(/no image of the study could be classified: .* pixel-length/);
    expect(parked.nextAttemptAtUnixMs).toBe(0);

    const retried = await unary(clients.admin, 'RetryJob', { jobId: parked.jobId }, bearer(ADMIN_TOKEN));
    expect(retried).toEqual({ jobId: parked.jobId, state: 'JOB_STATE_QUEUED' });
  });
});
