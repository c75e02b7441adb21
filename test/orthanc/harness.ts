/** Shared set-up for the Orthanc integration tests: a real Orthanc, the real sidecar with the demo bundle. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSidecarConfig, mergeConfig, validateSidecarConfig, type SidecarConfig } from '../../src/config';
import { startOrthancSidecar, type OrthancSidecar } from '../../src/orthanc/sidecar-service';
import type { StudyResultEvent } from '../../src/pipeline';
import type { OrthancServer } from '../helpers/orthanc-server';

const tempDirs: string[] = [];

/** A fresh temp folder, removed by removeTempDirs() (call it in afterAll). */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 30000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

export async function getJson<T = any>(server: OrthancServer, p: string): Promise<T> {
  const res = await fetch(server.url + p, { headers: server.authorization ? { Authorization: server.authorization } : {} });
  if (!res.ok) throw new Error(`GET ${p}: ${res.status}`);
  return (await res.json()) as T;
}

export async function postJsonForBytes(server: OrthancServer, p: string, body: unknown): Promise<Uint8Array> {
  const res = await fetch(server.url + p, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${p}: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Orthanc ids of the AI-result SR instances (3D SR, Manufacturer orthanc-t3) in a study. */
export async function resultSrs(server: OrthancServer, studyId: string): Promise<string[]> {
  const series = await getJson<any[]>(server, `/studies/${studyId}/series`);
  return series.filter((s) => s.MainDicomTags.Manufacturer === 'orthanc-t3').flatMap((s) => s.Instances as string[]).sort();
}

export async function studyMetadata(server: OrthancServer, studyId: string): Promise<Record<string, string>> {
  return getJson(server, `/studies/${studyId}/metadata?expand`);
}

export interface RunningSidecar {
  service: OrthancSidecar<SidecarConfig>;
  events: StudyResultEvent[];
  logs: { event: string; fields: Record<string, unknown> }[];
  checkpointPath: string;
}

export async function startSidecar(
  server: OrthancServer,
  overrides: Record<string, unknown> = {},
  checkpointPath?: string,
  options: { follow?: boolean } = {},
): Promise<RunningSidecar> {
  const cp = checkpointPath ?? path.join(makeTempDir('t3-cp-'), 'checkpoint.json');
  const base = {
    orthanc: { url: server.url, timeoutMs: 5000 },
    follower: { checkpointPath: cp, pollIntervalMs: 150, maxBackoffMs: 1000 },
    inference: { executionProviders: ['cpu'] },
    retry: { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 1000 },
    grpc: { listen: '' },
  };
  const { config } = loadSidecarConfig({ overrides: mergeDeep(base, overrides) as Record<string, unknown> });
  const logs: RunningSidecar['logs'] = [];
  const service = await startOrthancSidecar({
    config,
    validateConfig: validateSidecarConfig,
    mergeConfig,
    version: 'test',
    log: (event, fields) => logs.push({ event, fields }),
    follow: options.follow,
  });
  const events: StudyResultEvent[] = [];
  service.sidecar.feed.subscribe((e) => events.push(e));
  return { service, events, logs, checkpointPath: cp };
}

function mergeDeep(a: unknown, b: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return b === undefined ? a : b;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = mergeDeep(a[k], v);
  return out;
}
