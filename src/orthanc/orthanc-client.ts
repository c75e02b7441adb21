import http from 'node:http';
import https from 'node:https';
import { CategorizedError, type ErrorCategory } from '../errors';
import axios, { AxiosError, type AxiosInstance, type AxiosRequestConfig } from 'axios';

/** Connection settings (the `orthanc` part of the sidecar configuration). */
export interface OrthancConnection {
  url: string;
  username: string | null;
  password: string | null;
  timeoutMs: number;
}

/** `not-orthanc`: something answered, but not with Orthanc's REST API (a web server, a proxy's login page). */
export type OrthancErrorKind = 'unreachable' | 'timeout' | 'http' | 'not-orthanc';

/** A failed Orthanc request: `status` is the HTTP status (null when Orthanc could not be reached). */
export class OrthancError extends CategorizedError {
  readonly kind: OrthancErrorKind;
  readonly status: number | null;
  readonly method: string;
  readonly path: string;
  /** The network error code when Orthanc could not be reached (ECONNREFUSED, ENOTFOUND, EAI_AGAIN, …). */
  readonly networkCode: string | null;
  constructor(kind: OrthancErrorKind, method: string, path: string, status: number | null, detail: string, networkCode: string | null = null) {
    super(orthancErrorCategory(kind, status), `Orthanc ${method} ${path}: ${status !== null ? `HTTP ${status} ` : ''}${detail}`);
    this.kind = kind;
    this.status = status;
    this.method = method;
    this.path = path;
    this.networkCode = networkCode;
  }
  get notFound(): boolean {
    return this.status === 404;
  }
  /** Worth retrying later: Orthanc down, slow, or failing on its side. */
  get transient(): boolean {
    return this.kind === 'unreachable' || this.kind === 'timeout' || (this.status !== null && this.status >= 500);
  }
}

/**
 * Orthanc down, slow or failing on its side is "unavailable" (retry later); a missing resource is "not-found"; a
 * refused login is a configuration problem of this server ("failed-precondition"); any other refusal is this
 * program's fault.
 */
function orthancErrorCategory(kind: OrthancErrorKind, status: number | null): ErrorCategory {
  if (kind === 'not-orthanc') return 'failed-precondition';
  if (kind !== 'http' || (status !== null && status >= 500)) return 'unavailable';
  if (status === 404) return 'not-found';
  if (status === 401 || status === 403) return 'failed-precondition';
  return 'internal';
}

export interface ChangeEntry {
  ChangeType: string;
  ID: string;
  Path: string;
  ResourceType: string;
  Seq: number;
  Date: string;
}

export interface ChangesPage {
  Changes: ChangeEntry[];
  Done: boolean;
  Last: number;
}

export interface StoreResult {
  ID: string;
  ParentStudy: string;
  ParentSeries: string;
  Status: string;
}

/**
 * Orthanc's REST API over axios: Basic auth header (URLs with user:pass are refused by some clients), keep-alive,
 * a timeout per request, and no `Expect: 100-continue` (it costs Orthanc a second per large upload).
 */
export class OrthancClient {
  private readonly http: AxiosInstance;
  readonly baseUrl: string;
  /** Whether requests carry a Basic login (a 401 then means wrong credentials, not missing ones). */
  readonly hasCredentials: boolean;

  constructor(connection: OrthancConnection) {
    this.baseUrl = connection.url.replace(/\/+$/, '');
    this.hasCredentials = connection.username !== null && connection.password !== null;
    const headers: Record<string, string> = {};
    if (connection.username !== null && connection.password !== null) {
      headers.Authorization = 'Basic ' + Buffer.from(`${connection.username}:${connection.password}`).toString('base64');
    }
    this.http = axios.create({
      baseURL: this.baseUrl,
      timeout: connection.timeoutMs,
      headers,
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 16 }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 16 }),
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      // Errors are mapped below; every non-2xx is an OrthancError.
      validateStatus: (s) => s >= 200 && s < 300,
      proxy: false,
    });
  }

  private async request<T>(config: AxiosRequestConfig & { url: string; method: string }): Promise<T> {
    try {
      const res = await this.http.request<T>(config);
      return res.data;
    } catch (err) {
      throw toOrthancError(err, config.method.toUpperCase(), config.url);
    }
  }

  getJson<T>(path: string): Promise<T> {
    return this.request<T>({ method: 'get', url: path, responseType: 'json' });
  }

  async getBytes(path: string, accept?: string): Promise<Uint8Array> {
    const data = await this.request<ArrayBuffer>({
      method: 'get',
      url: path,
      responseType: 'arraybuffer',
      headers: accept ? { Accept: accept } : {},
    });
    return new Uint8Array(data);
  }

  postJson<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>({ method: 'post', url: path, data: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  }

  async postJsonForBytes(path: string, body: unknown): Promise<Uint8Array> {
    const data = await this.request<ArrayBuffer>({
      method: 'post',
      url: path,
      data: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
      responseType: 'arraybuffer',
    });
    return new Uint8Array(data);
  }

  async putText(path: string, text: string): Promise<void> {
    await this.request<unknown>({ method: 'put', url: path, data: text, headers: { 'Content-Type': 'text/plain' } });
  }

  async delete(path: string): Promise<void> {
    await this.request<unknown>({ method: 'delete', url: path });
  }

  /**
   * GET a text resource with its ETag (Orthanc's `"<revision>-<md5>"` on metadata when `CheckRevisions` is on);
   * null when it does not exist.
   */
  async getTextWithEtag(path: string): Promise<{ text: string; etag: string | null } | null> {
    try {
      const res = await this.http.request<string>({ method: 'get', url: path, responseType: 'text', transformResponse: (d: unknown) => d });
      return { text: String(res.data), etag: etagOf(res.headers) };
    } catch (err) {
      const mapped = toOrthancError(err, 'GET', path);
      if (mapped.notFound) return null;
      throw mapped;
    }
  }

  /**
   * Compare-and-set PUT of a text value. `ifMatch` null: create only if absent (Orthanc answers 409 when a value
   * exists); a string: replace only that revision. Returns the new ETag, or 'conflict' when another writer won.
   */
  async putTextConditional(path: string, text: string, ifMatch: string | null): Promise<{ etag: string | null } | 'conflict'> {
    try {
      const res = await this.http.request({
        method: 'put',
        url: path,
        data: text,
        headers: { 'Content-Type': 'text/plain', ...(ifMatch !== null ? { 'If-Match': ifMatch } : {}) },
      });
      return { etag: etagOf(res.headers) };
    } catch (err) {
      const mapped = toOrthancError(err, 'PUT', path);
      if (mapped.status === 409) return 'conflict';
      throw mapped;
    }
  }

  /** DELETE of one revision; false when the value changed meanwhile (409) or is gone (404). */
  async deleteConditional(path: string, ifMatch: string): Promise<boolean> {
    try {
      await this.http.request({ method: 'delete', url: path, headers: { 'If-Match': ifMatch } });
      return true;
    } catch (err) {
      const mapped = toOrthancError(err, 'DELETE', path);
      if (mapped.status === 409 || mapped.status === 404) return false;
      throw mapped;
    }
  }

  /**
   * PUT that replaces whatever revision is there. Without revisions (SQLite, or `CheckRevisions` off) it is one plain
   * PUT; with them Orthanc refuses a PUT over an existing value without If-Match (409), so the current ETag is read
   * and sent. Callers that need exclusion hold a claim; this only satisfies the revision check.
   */
  async putTextReplacing(path: string, text: string): Promise<void> {
    let ifMatch: string | null = null;
    for (let round = 0; round < 5; round++) {
      const written = await this.putTextConditional(path, text, ifMatch);
      if (written !== 'conflict') return;
      const current = await this.getTextWithEtag(path);
      ifMatch = current?.etag ?? null;
    }
    throw new OrthancError('http', 'PUT', path, 409, 'kept conflicting with other writers after 5 attempts');
  }

  /** DELETE of whatever revision is there (see putTextReplacing); absent already is fine. */
  async deleteReplacing(path: string): Promise<void> {
    for (let round = 0; round < 5; round++) {
      try {
        await this.http.request({ method: 'delete', url: path });
        return;
      } catch (err) {
        const mapped = toOrthancError(err, 'DELETE', path);
        if (mapped.status === 404) return;
        if (mapped.status !== 409) throw mapped;
      }
      const current = await this.getTextWithEtag(path);
      if (!current) return;
      if (current.etag === null || (await this.deleteConditional(path, current.etag))) return;
    }
    throw new OrthancError('http', 'DELETE', path, 409, 'kept conflicting with other writers after 5 attempts');
  }

  /** Orthanc's /system; throws OrthancError kind `not-orthanc` when the server answers something else. */
  async system(): Promise<{ Version: string; ApiVersion: number; Name: string }> {
    const body = await this.getJson<unknown>('/system');
    const system = body as { Version?: unknown; ApiVersion?: unknown };
    if (typeof body !== 'object' || body === null || typeof system.Version !== 'string' || typeof system.ApiVersion !== 'number') {
      throw notOrthanc('GET', '/system', body);
    }
    return body as { Version: string; ApiVersion: number; Name: string };
  }

  async changes(since: number, limit: number): Promise<ChangesPage> {
    const path = `/changes?since=${since}&limit=${limit}`;
    const page = await this.getJson<unknown>(path);
    if (typeof page !== 'object' || page === null || !Array.isArray((page as ChangesPage).Changes) || typeof (page as ChangesPage).Last !== 'number') {
      throw notOrthanc('GET', path, page);
    }
    return page as ChangesPage;
  }

  /** Stores a Part 10 object (the SR); Status is "Success" or "AlreadyStored". */
  storeInstance(bytes: Uint8Array): Promise<StoreResult> {
    return this.request<StoreResult>({
      method: 'post',
      url: '/instances',
      data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      headers: { 'Content-Type': 'application/dicom' },
      responseType: 'json',
    });
  }

  instanceFile(instanceId: string): Promise<Uint8Array> {
    return this.getBytes(`/instances/${encodeURIComponent(instanceId)}/file`);
  }

  /** Orthanc ids of studies with this StudyInstanceUID (several when PatientIDs differ). */
  async findStudies(studyInstanceUid: string): Promise<string[]> {
    return this.postJson<string[]>('/tools/find', { Level: 'Study', Query: { StudyInstanceUID: studyInstanceUid } });
  }
}

function etagOf(headers: unknown): string | null {
  const value = (headers as Record<string, unknown>)['etag'];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function notOrthanc(method: string, path: string, body: unknown): OrthancError {
  const text = typeof body === 'string' ? body : JSON.stringify(body) ?? String(body);
  return new OrthancError('not-orthanc', method, path, null, `the answer is not Orthanc's REST API: ${text.replace(/\s+/g, ' ').slice(0, 80)}`);
}

function toOrthancError(err: unknown, method: string, path: string): OrthancError {
  if (err instanceof AxiosError) {
    if (err.response) {
      let detail = '';
      const data = err.response.data as unknown;
      try {
        const text = data instanceof ArrayBuffer ? Buffer.from(data).toString('utf8') : typeof data === 'string' ? data : JSON.stringify(data);
        const parsed = JSON.parse(text) as { Message?: string; Details?: string };
        detail = [parsed.Message, parsed.Details].filter(Boolean).join(': ');
      } catch {
        detail = err.response.statusText ?? '';
      }
      return new OrthancError('http', method, path, err.response.status, detail || 'request failed');
    }
    if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT') return new OrthancError('timeout', method, path, null, 'timed out', err.code);
    return new OrthancError('unreachable', method, path, null, err.code ?? err.message, err.code ?? null);
  }
  return new OrthancError('unreachable', method, path, null, err instanceof Error ? err.message : String(err));
}
