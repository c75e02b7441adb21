/**
 * The repository's orthanc-config/ started exactly as orthanc-config/README.md and docs/ADMIN.md say: prepared with
 * generate-stubs.sh, then `Orthanc orthanc-config/` from the repository root, `Orthanc /abs/orthanc-config` from
 * another working directory, and the folder's three files dropped into a copy of Debian's /etc/orthanc (Debian's own
 * files copied from the real one). Each time the plugin answers /t3/status with the real sidecar's status. The folder
 * is a copy (with the repository's proto/ beside it) so that only the settings the guide says to edit are edited:
 * ports and storage, a user, the plugin's token file and the sidecar's address.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadSidecarConfig, parseJsonWithComments } from '../../src/config';
import { startServeRuntime, type ServeRuntime } from '../../src/cli/serve';
import { closeSharedFramePool } from '../../src/dicom';
import { freePort, repoRoot } from '../helpers/orthanc-server';
import { makeTempDir, removeTempDirs } from '../orthanc/harness';
import { basic, getThrough, startOrthancAsIs, type PlainOrthanc } from './install-helpers';

jest.setTimeout(180000);

const TOKEN = 'folder-test-plugin-token-0123456789';
const USER = { username: 'folder-test', password: 'folder-test-password-42' };
const AUTH = basic(USER.username, USER.password);
const DEBIAN_ETC = '/etc/orthanc';

let work: string;
let clone: string;
let runtime: ServeRuntime;
let httpPort: number;
let dicomPort: number;
const running: PlainOrthanc[] = [];

/** Replaces one JSON value in a commented configuration file, keeping everything else (as an editor would). */
function edit(file: string, pattern: RegExp, replacement: string): void {
  const text = fs.readFileSync(file, 'utf8');
  if (!pattern.test(text)) throw new Error(`${file}: ${pattern} not found`);
  fs.writeFileSync(file, text.replace(pattern, replacement));
}

function copyFolder(from: string, to: string, skip: (name: string) => boolean): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (skip(entry.name)) continue;
    if (entry.isDirectory()) copyFolder(path.join(from, entry.name), path.join(to, entry.name), skip);
    else fs.copyFileSync(path.join(from, entry.name), path.join(to, entry.name));
  }
}

beforeAll(async () => {
  work = makeTempDir('t3-config-folder-');
  clone = path.join(work, 'repo');
  // What a clone holds: the folder without anything generated, and proto/ beside it (generate-stubs.sh reads it).
  copyFolder(path.join(repoRoot, 'orthanc-config'), path.join(clone, 'orthanc-config'), (n) => ['t3', '__pycache__', 'python.json'].includes(n) || n.startsWith('.python.json'));
  fs.copyFileSync(path.join(repoRoot, 'orthanc-config', 'generate-stubs.sh'), path.join(clone, 'orthanc-config', 'generate-stubs.sh'));
  fs.chmodSync(path.join(clone, 'orthanc-config', 'generate-stubs.sh'), 0o755);
  copyFolder(path.join(repoRoot, 'proto'), path.join(clone, 'proto'), () => false);
  httpPort = await freePort();
  dicomPort = await freePort();
  fs.writeFileSync(path.join(work, 'plugin-token'), TOKEN + '\n');

  // The sidecar, with the folder's T3 section (the demo model allowed), a token for the plugin, on a loopback port.
  const folder = path.join(clone, 'orthanc-config');
  const { config } = loadSidecarConfig({
    configPath: folder,
    env: { T3_ALLOW_DEMONSTRATION_MODELS: 'true' },
    overrides: {
      orthanc: { url: `http://127.0.0.1:${httpPort}`, username: USER.username, password: USER.password, timeoutMs: 5000 },
      follower: { checkpointPath: path.join(work, 'checkpoint.json'), pollIntervalMs: 200 },
      inference: { executionProviders: ['cpu'] },
      grpc: { listen: '127.0.0.1:0', tokens: [{ token: TOKEN, roles: ['admin', 'triage'] }] },
      metrics: { listen: '' },
    },
  });
  runtime = await startServeRuntime(config, { log: () => undefined, follow: false });
  const grpcPort = runtime.grpc!.port;

  // The edits the guide names: ports and storage (orthanc.json), a user (credentials.json), the plugin's token file
  // and the sidecar's address (t3.json). Then the guide's preparation step.
  const core = path.join(folder, 'orthanc.json');
  edit(core, /"HttpPort": \d+/, `"HttpPort": ${httpPort}`);
  edit(core, /"DicomPort": \d+/, `"DicomPort": ${dicomPort}`);
  edit(core, /"StorageDirectory": "[^"]*"/, `"StorageDirectory": "${path.join(work, 'db')}"`);
  edit(core, /"IndexDirectory": "[^"]*"/, `"IndexDirectory": "${path.join(work, 'db')}"`);
  fs.writeFileSync(path.join(folder, 'credentials.json'), JSON.stringify({ RegisteredUsers: { [USER.username]: USER.password } }));
  edit(path.join(folder, 't3.json'), /"plugin": \{[^}]*\}/, `"plugin": { "sidecarAddress": "127.0.0.1:${grpcPort}", "token": null, "tokenFile": "${path.join(work, 'plugin-token')}", "deadlineSeconds": 5, "tls": null }`);
  const gen = spawnSync(path.join('orthanc-config', 'generate-stubs.sh'), [], { cwd: clone, encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`generate-stubs.sh: ${gen.stderr}`);
});

afterAll(async () => {
  for (const o of running) await o.stop();
  await runtime?.stop();
  await closeSharedFramePool();
  removeTempDirs();
});

async function expectPluginStatus(configArg: string, cwd: string, logName: string): Promise<void> {
  const orthanc = await startOrthancAsIs(configArg, { cwd, httpPort, authorization: AUTH, logFile: path.join(work, logName) });
  running.push(orthanc);
  try {
    const status = await getThrough(orthanc, '/t3/status', AUTH);
    expect({ status: status.status, body: status.status === 200 ? 'ok' : status.text }).toEqual({ status: 200, body: 'ok' });
    expect(status.json.version).toBe(require('../../package.json').version);
    // Authentication is on as shipped: no login, no answer.
    expect((await fetch(`${orthanc.url}/t3/status`)).status).toBe(401);
  } finally {
    await orthanc.stop();
    running.splice(running.indexOf(orthanc), 1);
  }
}

test('generate-stubs.sh writes python.json with the folder\'s own absolute PythonScript; orthanc.json has none', () => {
  const python = fs.readFileSync(path.join(clone, 'orthanc-config', 'python.json'), 'utf8');
  expect(python).toContain(`"PythonScript": "${path.join(clone, 'orthanc-config', 'plugin', 't3_plugin.py')}"`);
  const core = path.join(clone, 'orthanc-config', 'orthanc.json');
  expect(Object.keys(parseJsonWithComments(fs.readFileSync(core, 'utf8'), core) as object)).not.toContain('PythonScript');
});

test('`Orthanc orthanc-config/` from the repository root: the plugin answers /t3/status', async () => {
  await expectPluginStatus('orthanc-config/', clone, 'root.log');
});

test('`Orthanc /abs/orthanc-config` from another working directory: the plugin answers /t3/status', async () => {
  await expectPluginStatus(path.join(clone, 'orthanc-config'), '/', 'elsewhere.log');
});

test("the folder's orthanc.json, python.json and t3.json dropped into a copy of Debian's /etc/orthanc: no key twice, the plugin answers", async () => {
  if (!fs.existsSync(path.join(DEBIAN_ETC, 'orthanc.json'))) throw new Error(`${DEBIAN_ETC} is missing: install Debian's orthanc package`);
  const etc = path.join(work, 'etc-orthanc');
  copyFolder(DEBIAN_ETC, etc, () => false);
  for (const f of ['orthanc.json', 'python.json', 't3.json']) fs.copyFileSync(path.join(clone, 'orthanc-config', f), path.join(etc, f));
  // Users go into Debian's own credentials.json (the only key of that file).
  const credentials = path.join(etc, 'credentials.json');
  edit(credentials, /"RegisteredUsers"\s*:\s*\{/, `"RegisteredUsers" : { "${USER.username}": "${USER.password}",`);
  // Debian's files that stay beside ours: none defines a key of ours.
  const keysOf = (f: string) => Object.keys(parseJsonWithComments(fs.readFileSync(f, 'utf8'), f) as object);
  const seen = new Map<string, string>();
  for (const f of fs.readdirSync(etc).filter((n) => n.endsWith('.json'))) {
    for (const k of keysOf(path.join(etc, f))) {
      expect(seen.has(k) ? `${k} in ${seen.get(k)} and ${f}` : k).toBe(k);
      seen.set(k, f);
    }
  }
  expect([...fs.readdirSync(DEBIAN_ETC)].filter((n) => n.endsWith('.json')).every((n) => fs.existsSync(path.join(etc, n)))).toBe(true);
  await expectPluginStatus(etc, '/', 'debian.log');
});
