import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { inWorklistOrder } from './demo-row-order';
import { optionNumber, optionString, parseArgs } from './parse-args';
import { jsonLog, startServeRuntime, type ServeRuntime } from './serve';
import { loadSidecarConfig, parseJsonWithComments } from '../config';
import { closeSharedFramePool } from '../dicom';
import { OrthancClient } from '../orthanc';
import type { StudyResult } from '../pipeline';
import { DEMONSTRATION_NOTICE } from '../pipeline/registry/demonstration-model';
import { summarizeTriage } from '../pipeline/results/triage-summary';

const ORTHANC_BINARY = '/usr/sbin/Orthanc';
const PYTHON_PLUGIN = '/usr/share/orthanc/plugins/libOrthancPython.so';
const APT_COMMAND = 'apt-get install -y orthanc orthanc-gdcm orthanc-dicomweb orthanc-python python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc dcmtk';

const HELP = `usage: orthanc-t3 demo [options]

Starts a local Orthanc (Debian package) with orthanc-config/ on free loopback ports and a temporary storage folder,
runs the sidecar against it with the demo bundle, uploads the sample DICOM files, waits until every study has its
triage result and SR, prints them, then keeps serving until Ctrl-C.

options:
  --samples DIR        DICOM files to upload (default: the package's samples/dicom)
  --exit-when-done     stop everything once the table is printed
  --timeout S          give up waiting for results after S seconds (default 180)
  --http-port N        Orthanc HTTP port (default: a free port)
  --dicom-port N       Orthanc DICOM port (default: a free port)
  --verbose            print the sidecar's structured log lines
`;

/** The repository root: the nearest folder above this file holding orthanc-config/ and package.json. */
export function findRepoRoot(start = __dirname): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'orthanc-config'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the orthanc-t3 repository above ${start}`);
    dir = parent;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function dicomFilesIn(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (fs.statSync(full).isDirectory()) out.push(...dicomFilesIn(full));
    else if (/\.dcm$/i.test(name)) out.push(full);
  }
  return out;
}

/** Makes sure Orthanc is installed: installs it when running as root, else explains the exact command. */
function ensureOrthanc(io: CliIo): boolean {
  if (fs.existsSync(ORTHANC_BINARY)) return true;
  if (process.getuid?.() === 0) {
    io.stderr.write(`Orthanc is not installed; running: ${APT_COMMAND}\n`);
    const r = spawnSync('sh', ['-c', `apt-get update && ${APT_COMMAND}`], { stdio: 'inherit' });
    if (r.status === 0 && fs.existsSync(ORTHANC_BINARY)) return true;
  }
  io.stderr.write(`Orthanc (Debian package) is needed. Install it with:\n  sudo ${APT_COMMAND}\n`);
  return false;
}

/** Generates the plugin's Python gRPC modules (generate-stubs.sh) when missing; false when that is not possible here. */
function ensurePluginGrpcModules(repoRoot: string, io: CliIo): boolean {
  if (!fs.existsSync(PYTHON_PLUGIN)) return false;
  const generated = path.join(repoRoot, 'orthanc-config', 'plugin', 't3', 'v1', 'admin_pb2_grpc.py');
  if (fs.existsSync(generated)) return true;
  const r = spawnSync(path.join(repoRoot, 'orthanc-config', 'generate-stubs.sh'), [], { encoding: 'utf8' });
  if (r.status !== 0) io.stderr.write(`the Orthanc plugin is left out: ${(r.stderr || r.stdout || '').trim()}\n`);
  return r.status === 0;
}

interface DemoOrthanc {
  url: string;
  httpPort: number;
  dicomPort: number;
  configDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Credentials made for one demo run: orthanc-config/orthanc.json asks for HTTP Basic and ships no user. */
export interface DemoCredentials {
  username: string;
  password: string;
}

export function throwAwayCredentials(): DemoCredentials {
  return { username: 't3-demo', password: randomBytes(18).toString('base64url') };
}

function basicAuthorization(credentials: DemoCredentials): string {
  return 'Basic ' + Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
}

async function startDemoOrthanc(
  repoRoot: string,
  workDir: string,
  ports: { http: number; dicom: number },
  t3: Record<string, unknown>,
  withPlugin: boolean,
  credentials: DemoCredentials,
): Promise<DemoOrthanc> {
  const source = path.join(repoRoot, 'orthanc-config');
  const configDir = path.join(workDir, 'config');
  fs.mkdirSync(configDir, { recursive: true });
  const storage = path.join(workDir, 'storage');
  const core = parseJsonWithComments(fs.readFileSync(path.join(source, 'orthanc.json'), 'utf8'), 'orthanc.json') as Record<string, unknown>;
  Object.assign(core, { StorageDirectory: storage, IndexDirectory: storage, HttpPort: ports.http, DicomPort: ports.dicom, StableAge: 1 });
  // Authentication stays on, as shipped; the user exists for this run only (the folder is deleted at the end).
  Object.assign(core, { AuthenticationEnabled: true, RegisteredUsers: { [credentials.username]: credentials.password } });
  core.Plugins = (core.Plugins as string[]).filter((p) => fs.existsSync(p) && (withPlugin || p !== PYTHON_PLUGIN));
  if (withPlugin) core.PythonScript = path.join(source, 'plugin', 't3_plugin.py');
  else delete core.PythonScript;
  fs.writeFileSync(path.join(configDir, 'orthanc.json'), JSON.stringify(core, null, 2));
  fs.writeFileSync(path.join(configDir, 't3.json'), JSON.stringify({ T3: t3 }, null, 2));
  const logFile = path.join(workDir, 'orthanc.log');
  const child = spawn(ORTHANC_BINARY, [`--logfile=${logFile}`, configDir], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: 'ignore' });
  const url = `http://127.0.0.1:${ports.http}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Orthanc exited with ${child.exitCode}; see ${logFile}`);
    try {
      if ((await fetch(`${url}/system`, { headers: { Authorization: basicAuthorization(credentials) } })).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Orthanc did not answer within 30 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url,
    httpPort: ports.http,
    dicomPort: ports.dicom,
    configDir,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 20000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** A fixed-width text table. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

function resultRow(r: StudyResult, description: string): string[] {
  // The study's most probable finding over all its images (what the worklist and the badge show).
  const top = r.triage ? summarizeTriage(r.images, r.triage).topFinding : null;
  return [
    description.slice(0, 28) || '(no description)',
    r.modalities.join(',') || '-',
    String(r.images.length),
    String(r.failedImages.length),
    r.status === 'done' && r.sr ? (r.triage?.priority ?? '-') : r.status === 'done' && r.images.length === 0 ? 'skipped (no images)' : `${r.status}: ${(r.error ?? '').slice(0, 40)}`,
    r.triage?.needsHumanReview ? 'yes' : 'no',
    top ?? '-',
    r.batchLambdas.length ? r.batchLambdas.map((l) => l.toFixed(3)).join(',') : '-',
    r.sr?.orthancInstanceId ?? '-',
  ];
}

/** A study is finished once parked, or done with its SR written (or with no image to classify). */
function isFinished(r: StudyResult | undefined): boolean {
  return r !== undefined && (r.status === 'parked' || (r.status === 'done' && (r.sr !== null || r.images.length === 0)));
}

/** One table row per uploaded study (its description from Orthanc), in worklist order, and how many have no finished result. */
async function resultRows(client: OrthancClient, studies: Set<string>, results: Map<string, StudyResult>): Promise<{ rows: string[][]; incomplete: number }> {
  const rows: string[][] = [];
  let incomplete = 0;
  for (const id of inWorklistOrder([...studies], (study) => results.get(study))) {
    const study = await client.getJson<{ MainDicomTags: Record<string, string> }>(`/studies/${id}`);
    const r = results.get(id);
    if (!isFinished(r)) incomplete++;
    rows.push(r ? resultRow(r, study.MainDicomTags.StudyDescription ?? '') : [study.MainDicomTags.StudyDescription ?? id, '-', '-', '-', 'no result yet', '-', '-', '-', '-']);
  }
  return { rows, incomplete };
}

/** Stores each file in Orthanc; a file Orthanc refuses is reported and counted, not fatal. */
async function uploadFiles(client: OrthancClient, files: string[], io: CliIo): Promise<{ studies: Set<string>; refused: number }> {
  const studies = new Set<string>();
  let refused = 0;
  for (const file of files) {
    try {
      studies.add((await client.storeInstance(new Uint8Array(fs.readFileSync(file)))).ParentStudy);
    } catch (err) {
      refused++;
      io.stderr.write(`could not upload ${path.basename(file)}: ${(err as Error).message}\n`);
    }
  }
  return { studies, refused };
}

interface ServingHints {
  credentials: { username: string; password: string };
  orthancUrl: string;
  configDir: string;
  withPlugin: boolean;
  ports: { http: number; dicom: number };
  grpcPort: number;
  metricsPort: number;
}

/** What a user can open or run against the demo while it serves. */
function printServingHints(io: CliIo, o: ServingHints): void {
  // Every hint below works as printed (checked by hand against a running demo): Orthanc asks for the login on
  // every HTTP route, browser pages included.
  const login = `${o.credentials.username}:${o.credentials.password}`;
  io.stdout.write(
    `\nOrthanc login for this run only (the browser pages below ask for it): user ${o.credentials.username}, password ${o.credentials.password}\n` +
      (o.withPlugin ? `triage worklist (urgent first): ${o.orthancUrl}/t3/app/\n` : '') +
      `Orthanc Explorer: ${o.orthancUrl}/app/explorer.html  (study pages and lists show the AI triage)\n` +
      (o.withPlugin ? `sidecar status through Orthanc: curl -u '${login}' ${o.orthancUrl}/t3/status\n` : '') +
      // dcmsend proposes each file's own transfer syntax (JPEG 2000, RLE, … included) and its SOP class; storescu
      // proposes uncompressed syntaxes only unless told which compressed one, so it fails on compressed files.
      `send more studies (C-STORE, any transfer syntax): dcmsend -aec ORTHANC 127.0.0.1 ${o.ports.dicom} FILE.dcm  (several files: list them)\n` +
      `  a folder: dcmsend -aec ORTHANC +sd +r +sp '*.dcm' 127.0.0.1 ${o.ports.dicom} DIR\n` +
      `  over HTTP: curl -u '${login}' --data-binary @FILE.dcm ${o.orthancUrl}/instances\n` +
      `gRPC: 127.0.0.1:${o.grpcPort} (token in ${path.join(o.configDir, 't3.json')})\n` +
      `metrics: http://127.0.0.1:${o.metricsPort}/metrics\n` +
      'serving; Ctrl-C to stop\n',
  );
}

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'start a local Orthanc with the demo bundle, send the sample studies, print their triage',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['samples', 'timeout', 'http-port', 'dicom-port'], flags: ['help', 'exit-when-done', 'verbose'] });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    const repoRoot = findRepoRoot();
    const samples = path.resolve(optionString(args, 'samples') ?? path.join(repoRoot, 'samples', 'dicom'));
    if (!fs.existsSync(samples)) throw new UsageError(`no sample folder at ${samples} (use --samples DIR)`);
    const files = dicomFilesIn(samples);
    if (files.length === 0) throw new UsageError(`no .dcm files in ${samples}`);
    const timeoutS = optionNumber(args, 'timeout', (n) => n > 0, 'a positive number of seconds') ?? 180;
    const port = (name: string) => optionNumber(args, name, (n) => Number.isInteger(n) && n > 0 && n < 65536, 'a port number');
    if (!ensureOrthanc(io)) return ExitCode.usage;
    const withPlugin = ensurePluginGrpcModules(repoRoot, io);

    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orthanc-t3-demo-'));
    const ports = { http: port('http-port') ?? (await freePort()), dicom: port('dicom-port') ?? (await freePort()) };
    const grpcPort = await freePort();
    const metricsPort = await freePort();
    const token = randomBytes(24).toString('hex');
    const credentials = throwAwayCredentials();
    const t3 = {
      orthanc: { url: `http://127.0.0.1:${ports.http}`, username: credentials.username, password: credentials.password },
      follower: { checkpointPath: path.join(workDir, 'checkpoint.json'), pollIntervalMs: 200 },
      grpc: { listen: `127.0.0.1:${grpcPort}`, tls: null, tokens: [{ token, roles: ['admin', 'triage'] }] },
      plugin: { sidecarAddress: `127.0.0.1:${grpcPort}`, token, deadlineSeconds: 5 },
      metrics: { listen: `127.0.0.1:${metricsPort}` },
      // The run's login may change settings and re-run studies from the worklist: without a list, no one could
      // (t3_access.py).
      worklist: { administrators: [credentials.username] },
    };
    const verbose = args.options.has('verbose');
    const log = verbose ? jsonLog(io.stderr) : () => undefined;
    let orthanc: DemoOrthanc | null = null;
    let runtime: ServeRuntime | null = null;
    const cleanup = async () => {
      await runtime?.stop();
      await orthanc?.stop();
      await closeSharedFramePool();
      // The storage is the demo's own scratch space.
      fs.rmSync(workDir, { recursive: true, force: true });
    };
    try {
      io.stdout.write(`starting Orthanc on http://127.0.0.1:${ports.http} (DICOM port ${ports.dicom}), storage in ${workDir}\n`);
      orthanc = await startDemoOrthanc(repoRoot, workDir, ports, t3, withPlugin, credentials);
      // The sidecar reads the same T3 section Orthanc was given, plus the environment.
      const { config, layers } = loadSidecarConfig({ configPath: path.join(orthanc.configDir, 't3.json'), env: process.env });
      runtime = await startServeRuntime(config, { log, layers });
      const results = new Map<string, StudyResult>();
      runtime.service.sidecar.feed.subscribe((e) => results.set(e.result.orthancStudyId, e.result));

      const client = new OrthancClient(config.orthanc);
      const { studies, refused } = await uploadFiles(client, files, io);
      // Counts what Orthanc took, not what was tried.
      io.stdout.write(`uploaded ${files.length - refused} of ${files.length} file(s) from ${samples} into ${studies.size} studies` +
        `${refused ? ` (${refused} refused, see above)` : ''}; waiting for the triage…\n`);
      const deadline = Date.now() + timeoutS * 1000;
      while (![...studies].every((id) => isFinished(results.get(id))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      const { rows, incomplete } = await resultRows(client, studies, results);
      if (config.bundles.some((b) => b.dir === 'demo')) {
        io.stdout.write(`\nThese results come from the ${DEMONSTRATION_NOTICE}. The sample images are not chest radiographs.\n`);
      }
      io.stdout.write('\n' + formatTable(['study', 'modality', 'images', 'unusable', 'priority', 'review', 'top finding', 'λ_B', 'SR instance (Orthanc id)'], rows));
      if (args.options.has('exit-when-done')) {
        // The URLs are not printed: everything is stopped in the next line.
        await cleanup();
        return incomplete === 0 ? ExitCode.ok : ExitCode.partialFailure;
      }
      printServingHints(io, { credentials, orthancUrl: orthanc.url, configDir: orthanc.configDir, withPlugin, ports, grpcPort, metricsPort });
      await new Promise<void>((resolve) => {
        const onSignal = () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      await cleanup();
      return ExitCode.ok;
    } catch (err) {
      await cleanup();
      throw err;
    }
  },
};
