/**
 * Starts a real Orthanc (the Debian package's /usr/sbin/Orthanc) for tests: free loopback ports, a fresh storage
 * folder in a temp dir, a given configuration; waits for /system; stops it with SIGTERM (SIGKILL as a last resort).
 * Reused by the gRPC helper's tests and by `orthanc-t3 demo`-style scripts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseJsonWithComments } from '../../src/config/json-with-comments';

export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
export const ORTHANC_PLUGIN_DIR = '/usr/share/orthanc/plugins';
export const repoRoot = path.resolve(__dirname, '..', '..');
export { samplesDir, samplePath, sampleFolders } from './samples';

export interface StartOrthancOptions {
  /**
   * A configuration folder to start from (e.g. the repository's orthanc-config/). Every *.json in it is copied,
   * with relative paths of known path keys (PythonScript, Plugins) made absolute against that folder.
   */
  configDir?: string;
  /** Top-level keys set on top of the folder (placed in the file that already has the key, so none is duplicated). */
  overrides?: Record<string, unknown>;
  /** Default 1 s; tests keep it small. */
  stableAge?: number;
  /** Credentials: enables HTTP Basic authentication. */
  credentials?: { username: string; password: string };
  /** Extra environment for the Orthanc process (TCP_NODELAY=1 is always set). */
  env?: Record<string, string>;
  /** Use an existing storage folder (to restart on the same data); default: a fresh temp folder. */
  workDir?: string;
  /** Fixed ports (to restart on the same ports); default: free ports. */
  httpPort?: number;
  dicomPort?: number;
}

export interface OrthancServer {
  url: string;
  httpPort: number;
  dicomPort: number;
  aet: string;
  workDir: string;
  configDir: string;
  logFile: string;
  /** Authorization header value when credentials are set. */
  authorization: string | null;
  process: ChildProcess;
  /** SIGTERM and wait (SIGKILL after 20 s). Keeps the work folder unless `removeWorkDir` is true. */
  stop(options?: { removeWorkDir?: boolean }): Promise<void>;
  /** Captured stderr (plugin thread errors land there, not in the log file). */
  stderr(): string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function absolutize(key: string, value: unknown, baseDir: string): unknown {
  const abs = (p: unknown) => (typeof p === 'string' && !path.isAbsolute(p) ? path.resolve(baseDir, p) : p);
  if (key === 'PythonScript') return abs(value);
  if (key === 'Plugins' && Array.isArray(value)) return value.map(abs);
  return value;
}

/** Writes the configuration folder Orthanc will read; returns its path. */
function writeConfigFolder(target: string, options: StartOrthancOptions, core: Record<string, unknown>): void {
  fs.mkdirSync(target, { recursive: true });
  const files = new Map<string, Record<string, unknown>>();
  if (options.configDir) {
    for (const name of fs.readdirSync(options.configDir).filter((f) => f.endsWith('.json')).sort()) {
      const full = path.join(options.configDir, name);
      const parsed = parseJsonWithComments(fs.readFileSync(full, 'utf8'), full) as Record<string, unknown>;
      const fixed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(parsed)) fixed[k] = absolutize(k, v, options.configDir);
      files.set(name, fixed);
    }
  }
  const all = { ...core, ...(options.overrides ?? {}) };
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) {
    const owner = [...files.values()].find((f) => k in f);
    if (owner) owner[k] = v;
    else extra[k] = v;
  }
  files.set('zz-test-overrides.json', extra);
  for (const [name, content] of files) fs.writeFileSync(path.join(target, name), JSON.stringify(content, null, 2));
}

async function waitForSystem(url: string, authorization: string | null, child: ChildProcess, logFile: string, errText: () => string): Promise<void> {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
      throw new Error(`Orthanc exited (code ${child.exitCode}, signal ${child.signalCode}) before answering:\n${log}\n${errText()}`);
    }
    try {
      const res = await fetch(`${url}/system`, { headers: authorization ? { Authorization: authorization } : {} });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Orthanc did not answer ${url}/system within 30 s`);
}

/** Orthanc's message when a port it was told to use is taken (it then exits). */
const PORT_TAKEN = /already in use/i;

export async function startOrthanc(options: StartOrthancOptions = {}): Promise<OrthancServer> {
  // Orthanc cannot bind port 0 and report it, so free ports are probed first. Another process (a second suite on
  // the same machine) can take one before Orthanc binds it: when this helper chose the ports, it tries fresh ones.
  const portsChosenHere = options.httpPort === undefined && options.dicomPort === undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOrthancOnce(options);
    } catch (err) {
      if (!portsChosenHere || attempt >= 3 || !PORT_TAKEN.test(String(err))) throw err;
    }
  }
}

async function startOrthancOnce(options: StartOrthancOptions): Promise<OrthancServer> {
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 't3-orthanc-'));
  const httpPort = options.httpPort ?? (await freePort());
  let dicomPort = options.dicomPort ?? (await freePort());
  while (dicomPort === httpPort) dicomPort = await freePort();
  const storage = path.join(workDir, 'storage');
  fs.mkdirSync(storage, { recursive: true });
  const configDir = path.join(workDir, 'config');
  fs.rmSync(configDir, { recursive: true, force: true });
  const aet = 'ORTHANC';
  const core: Record<string, unknown> = {
    Name: 't3-test',
    StorageDirectory: storage,
    IndexDirectory: storage,
    HttpPort: httpPort,
    DicomPort: dicomPort,
    DicomAet: aet,
    RemoteAccessAllowed: false,
    StableAge: options.stableAge ?? 1,
    DicomCheckCalledAet: false,
    // Tests send from storescu with any calling AET.
    DicomAlwaysAllowStore: true,
    AuthenticationEnabled: options.credentials !== undefined,
  };
  if (options.credentials) core.RegisteredUsers = { [options.credentials.username]: options.credentials.password };
  writeConfigFolder(configDir, options, core);
  const logDir = path.join(workDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'orthanc.log');
  const child = spawn(ORTHANC_BINARY, [`--logfile=${logFile}`, configDir], {
    env: { ...process.env, TCP_NODELAY: '1', ...(options.env ?? {}) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderrText = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderrText += d.toString();
    if (stderrText.length > 200000) stderrText = stderrText.slice(-100000);
  });
  const url = `http://127.0.0.1:${httpPort}`;
  const authorization = options.credentials
    ? 'Basic ' + Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64')
    : null;
  try {
    await waitForSystem(url, authorization, child, logFile, () => stderrText);
  } catch (err) {
    child.kill('SIGKILL');
    // A work folder this helper made is of no use to anyone (startOrthanc may try again with a fresh one).
    if (options.workDir === undefined) fs.rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    httpPort,
    dicomPort,
    aet,
    workDir,
    configDir,
    logFile,
    authorization,
    process: child,
    stderr: () => stderrText,
    async stop(stopOptions = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
        await exited;
        clearTimeout(timer);
      }
      if (stopOptions.removeWorkDir) fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Restarts a stopped server on the same ports and storage (Orthanc "down then up"). */
export async function restartOrthanc(previous: OrthancServer, options: StartOrthancOptions = {}): Promise<OrthancServer> {
  await previous.stop();
  return startOrthanc({ ...options, workDir: previous.workDir, httpPort: previous.httpPort, dicomPort: previous.dicomPort });
}

/** The *.dcm files under the given files or folders (folders are walked; other files such as README are left out). */
export function dicomFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (fs.statSync(p).isDirectory()) out.push(...dicomFiles(fs.readdirSync(p).sort().map((f) => path.join(p, f))));
    else if (p.endsWith('.dcm')) out.push(p);
  }
  return out;
}

/** storescu's option proposing a compressed transfer syntax (by default it proposes only uncompressed ones). */
const STORESCU_PROPOSAL: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': '-xy',
  '1.2.840.10008.1.2.4.51': '-xx',
  '1.2.840.10008.1.2.4.57': '-xs',
  '1.2.840.10008.1.2.4.70': '-xs',
  '1.2.840.10008.1.2.4.80': '-xt',
  '1.2.840.10008.1.2.4.81': '-xu',
  '1.2.840.10008.1.2.4.90': '-xv',
  '1.2.840.10008.1.2.4.91': '-xw',
  '1.2.840.10008.1.2.5': '-xr',
};

/** Transfer syntax UID from a Part 10 file's meta header (0002,0010), read without a DICOM library. */
export function fileTransferSyntax(file: string): string {
  const buf = fs.readFileSync(file);
  const at = buf.indexOf(Buffer.from([0x02, 0x00, 0x10, 0x00]), 132);
  if (at < 0) return '';
  const len = buf.readUInt16LE(at + 6);
  return buf.subarray(at + 8, at + 8 + len).toString('ascii').replace(/[\0 ]+$/, '');
}

function runStorescu(args: string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('storescu', args, { env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`storescu exited ${code}: ${out}`))));
  });
}

/**
 * Sends files (or the *.dcm files of folders) with dcmtk's storescu, like a modality (C-STORE): one association per
 * transfer syntax, proposing that syntax (-R: only the SOP classes of the files, 3D SR included).
 */
export async function storescu(server: OrthancServer, paths: string[], callingAet = 'MODALITY'): Promise<void> {
  const groups = new Map<string, string[]>();
  for (const f of dicomFiles(paths)) {
    const option = STORESCU_PROPOSAL[fileTransferSyntax(f)] ?? '';
    groups.set(option, [...(groups.get(option) ?? []), f]);
  }
  for (const [option, files] of groups) {
    await runStorescu(['-aet', callingAet, '-aec', server.aet, '-R', ...(option ? [option] : []), '127.0.0.1', String(server.dicomPort), ...files]);
  }
}

/** Uploads one Part 10 file over REST (POST /instances). */
export async function uploadFile(server: OrthancServer, file: string | Uint8Array): Promise<{ ID: string; ParentStudy: string; Status: string }> {
  const body = typeof file === 'string' ? fs.readFileSync(file) : Buffer.from(file);
  const headers: Record<string, string> = { 'Content-Type': 'application/dicom' };
  if (server.authorization) headers.Authorization = server.authorization;
  const res = await fetch(`${server.url}/instances`, { method: 'POST', body, headers });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST /instances answered ${res.status}: ${text}`);
  return JSON.parse(text);
}
