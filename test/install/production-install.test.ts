/**
 * The production path of docs/ADMIN.md, with real processes: `orthanc-t3 make-config` writes a configuration, `orthanc-t3
 * install --root ROOT` puts it, the plugin, the unit and the state directory under a temporary root whose etc/orthanc
 * holds a copy of Debian's own /etc/orthanc; `systemd-analyze verify` accepts the unit; Orthanc starts from
 * ROOT/etc/orthanc as Debian's unit starts it (working directory /), the sidecar starts with the installed unit's own
 * command line (its /etc/orthanc-t3 paths taken under ROOT) and working directory; the plugin answers /t3/status over
 * mutual TLS with its generated token, and the middleware's token and certificate are accepted for triage calls only.
 * The configuration's absolute paths (storage, state, plugin, the plugin's files) point into ROOT via make-config's
 * options, so nothing is written outside the temporary folders.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { clientTokenOf, loadT3Protos } from '../../src/grpc';
import { parseJsonWithComments } from '../../src/config';
import { bearer, codeOf, unary } from '../grpc/grpc-test-helpers';
import { freePort, repoRoot } from '../helpers/orthanc-server';
import { makeTempDir, removeTempDirs, waitFor } from '../orthanc/harness';
import { basic, cleanEnv, getThrough, runBin, startOrthancAsIs, type PlainOrthanc } from './install-helpers';

jest.setTimeout(240000);

const DEBIAN_ETC = '/etc/orthanc';
let work: string;
let root: string;
let cfg: string;
let ports: { http: number; dicom: number; grpc: number; metrics: number };
let orthanc: PlainOrthanc | null = null;
let sidecar: ChildProcess | null = null;
let sidecarLog = '';
let makeConfig: ReturnType<typeof runBin>;
let install: ReturnType<typeof runBin>;

const under = (p: string) => path.join(root, p);
const readJsonc = (file: string) => parseJsonWithComments(fs.readFileSync(file, 'utf8'), file) as Record<string, any>;

beforeAll(async () => {
  work = makeTempDir('t3-install-');
  root = path.join(work, 'root');
  cfg = path.join(work, 'config');
  if (!fs.existsSync(path.join(DEBIAN_ETC, 'orthanc.json'))) throw new Error(`${DEBIAN_ETC} is missing: install Debian's orthanc package`);
  fs.mkdirSync(under('etc'), { recursive: true });
  fs.cpSync(DEBIAN_ETC, under('etc/orthanc'), { recursive: true });
  ports = { http: await freePort(), dicom: await freePort(), grpc: await freePort(), metrics: await freePort() };
  makeConfig = runBin([
    'make-config', '--out', cfg, '--http-port', String(ports.http), '--dicom-port', String(ports.dicom),
    '--grpc-listen', `127.0.0.1:${ports.grpc}`, '--metrics-listen', `127.0.0.1:${ports.metrics}`,
    '--storage-dir', under('var/lib/orthanc/db-v6'), '--state-dir', under('var/lib/orthanc-t3'),
    '--orthanc-dir', under('etc/orthanc'), '--plugin-dir', under('usr/share/orthanc-t3/plugin'),
    '--debian-dir', DEBIAN_ETC, '--allow-demonstration-models',
  ]);
  install = runBin(['install', '--root', root, '--config', cfg], { cwd: '/' });
});

afterAll(async () => {
  if (sidecar && sidecar.exitCode === null) {
    const exited = new Promise((r) => sidecar!.once('exit', r));
    sidecar.kill('SIGTERM');
    await exited;
  }
  await orthanc?.stop();
  removeTempDirs();
});

test('make-config writes the layout, checks it (beside Debian\'s files too) and says so', () => {
  expect({ code: makeConfig.code, stderr: makeConfig.stderr }).toEqual({ code: 0, stderr: '' });
  expect(makeConfig.stdout).toContain(`beside Debian's files in ${DEBIAN_ETC}`);
  expect(makeConfig.stdout).not.toContain('problem:');
  for (const f of ['orthanc/orthanc.json', 'orthanc/python.json', 'orthanc/credentials.json', 'orthanc/t3.json', 'orthanc/t3-plugin/token',
    'orthanc-t3/t3.json', 'orthanc-t3/grpc-tokens.json', 'orthanc-t3/tls/server.key', 'middleware/token', 'middleware/tls.crt', 'ca/ca.key']) {
    expect(fs.existsSync(path.join(cfg, f)) ? f : `missing ${f}`).toBe(f);
  }
  // One token-file format (docs/ADMIN.md): the plugin's and the middleware's files hold their own entry of the
  // sidecar's table, in the same JSON form.
  const ownEntry = (file: string) => JSON.parse(fs.readFileSync(path.join(cfg, file), 'utf8')).tokens;
  const [pluginEntry] = ownEntry('orthanc/t3-plugin/token');
  const [middlewareEntry] = ownEntry('middleware/token');
  expect(pluginEntry.token).toMatch(/^[0-9a-f]{64}$/);
  expect(JSON.parse(fs.readFileSync(path.join(cfg, 'orthanc-t3/grpc-tokens.json'), 'utf8')).tokens).toEqual([
    { token: pluginEntry.token, roles: ['admin', 'triage'] },
    { token: middlewareEntry.token, roles: ['triage'] },
  ]);
  // Secrets are for their owner only.
  for (const f of ['orthanc/credentials.json', 'orthanc-t3/t3.json', 'orthanc-t3/grpc-tokens.json', 'orthanc-t3/tls/server.key', 'ca/ca.key']) {
    expect([f, fs.statSync(path.join(cfg, f)).mode & 0o077]).toEqual([f, 0]);
  }
});

test('make-config --check finds a plugin token the sidecar does not know', () => {
  const copy = path.join(work, 'tampered');
  fs.cpSync(cfg, copy, { recursive: true });
  fs.writeFileSync(path.join(copy, 'orthanc/t3-plugin/token'), 'not-the-generated-token-0123456789\n', { mode: 0o600 });
  expect(runBin(['make-config', '--check', cfg, '--debian-dir', '']).code).toBe(0);
  const bad = runBin(['make-config', '--check', copy, '--debian-dir', '']);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("problem: the plugin's token");
});

test('install puts the unit, the user, the state directory, the plugin and the configuration under the root', () => {
  expect({ code: install.code, stderr: install.stderr }).toEqual({ code: 0, stderr: '' });
  expect(install.stdout).not.toContain('problem:');
  const unit = fs.readFileSync(under('etc/systemd/system/orthanc-t3.service'), 'utf8');
  for (const line of ['User=orthanc-t3', 'StateDirectory=orthanc-t3', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes',
    `ExecStart=${repoRoot}/bin/orthanc-t3 serve --config /etc/orthanc-t3/ --grpc-token-file /etc/orthanc-t3/grpc-tokens.json`]) {
    expect(unit.split('\n')).toContain(line);
  }
  expect(unit).not.toContain('@PACKAGE_DIR@');
  expect(fs.readFileSync(under('etc/sysusers.d/orthanc-t3.conf'), 'utf8')).toMatch(/^u orthanc-t3 /m);
  expect(fs.statSync(under('var/lib/orthanc-t3')).isDirectory()).toBe(true);
  expect(fs.existsSync(under('usr/share/orthanc-t3/plugin/t3_plugin.py'))).toBe(true);
  expect(fs.existsSync(under('usr/share/orthanc-t3/plugin/t3/v1/admin_pb2_grpc.py'))).toBe(true);
  // Debian's replaced files are kept aside; its other files stay; its users stay.
  for (const f of ['orthanc.json', 'python.json', 'credentials.json']) expect(fs.existsSync(under(`etc/orthanc/${f}.before-orthanc-t3`))).toBe(true);
  for (const f of fs.readdirSync(DEBIAN_ETC)) expect(fs.existsSync(under(`etc/orthanc/${f}`)) ? f : `missing ${f}`).toBe(f);
  const users = readJsonc(under('etc/orthanc/credentials.json')).RegisteredUsers;
  expect(Object.keys(users).sort()).toEqual(['admin', 'orthanc-t3']);
  for (const f of ['etc/orthanc-t3/t3.json', 'etc/orthanc-t3/grpc-tokens.json', 'etc/orthanc-t3/tls/server.key', 'etc/orthanc/t3-plugin/token', 'etc/orthanc/t3-plugin/tls.key']) {
    expect([f, fs.statSync(under(f)).mode & 0o007]).toEqual([f, 0]);
  }
});

test('systemd-analyze verify accepts the installed unit', () => {
  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  if (which.status !== 0) {
    console.log('systemd-analyze is not installed here: the unit was not verified (the other assertions ran)');
    return;
  }
  const r = spawnSync('systemd-analyze', ['verify', under('etc/systemd/system/orthanc-t3.service')], { encoding: 'utf8' });
  // verify exits 0 on unknown keys and bad values too: it only warns, so its output must be empty.
  expect({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, output: '' });
});

test('Orthanc from ROOT/etc/orthanc and the sidecar from the installed unit: the plugin answers /t3/status over mutual TLS', async () => {
  const users = readJsonc(under('etc/orthanc/credentials.json')).RegisteredUsers as Record<string, string>;
  const admin = basic('admin', users.admin);
  // As Debian's orthanc.service: `Orthanc --logdir=… /etc/orthanc`, working directory /.
  orthanc = await startOrthancAsIs(under('etc/orthanc'), { cwd: '/', httpPort: ports.http, authorization: admin, logFile: path.join(work, 'orthanc.log') });

  // The unit's ExecStart and WorkingDirectory, with its absolute paths taken under the root.
  const unit = fs.readFileSync(under('etc/systemd/system/orthanc-t3.service'), 'utf8');
  const execStart = /^ExecStart=(.*)$/m.exec(unit)![1].split(' ').map((a) => a.replace(/^\/etc\/orthanc-t3/, under('etc/orthanc-t3')));
  const workingDirectory = under(/^WorkingDirectory=(.*)$/m.exec(unit)![1]);
  sidecar = spawn(execStart[0], execStart.slice(1), { cwd: workingDirectory, env: cleanEnv({ TMPDIR: work }), stdio: ['ignore', 'ignore', 'pipe'] });
  sidecar.stderr!.on('data', (d: Buffer) => (sidecarLog += d.toString()));
  await waitFor('the sidecar serving gRPC', () => sidecarLog.includes('"grpc-listening"') || sidecar!.exitCode !== null, 90000);
  expect(sidecar.exitCode === null ? 'running' : sidecarLog).toBe('running');

  const status = await waitFor('/t3/status', async () => {
    const r = await getThrough(orthanc!, '/t3/status', admin);
    return r.status === 200 ? r : null;
  }, 30000);
  expect(status.json.version).toBe(require('../../package.json').version);
  expect(status.json.sidecarAddress).toBe(`127.0.0.1:${ports.grpc}`);
  // The sidecar logs in to Orthanc with its generated user and follows the change feed: ready.
  await waitFor('/readyz', async () => (await fetch(`http://127.0.0.1:${ports.metrics}/readyz`)).status === 200, 30000);
  expect(fs.readFileSync(path.join(orthanc.logFile), 'utf8')).toContain('(mTLS, token set)');

  // The middleware's files: triage calls go through (NOT_FOUND for an unknown study), admin calls do not.
  const protos = loadT3Protos();
  const credentials = grpc.credentials.createSsl(
    fs.readFileSync(path.join(cfg, 'middleware/ca.crt')), fs.readFileSync(path.join(cfg, 'middleware/tls.key')), fs.readFileSync(path.join(cfg, 'middleware/tls.crt')));
  const token = clientTokenOf(fs.readFileSync(path.join(cfg, 'middleware/token'), 'utf8'), 'middleware/token');
  const triage = new protos.triageService(`127.0.0.1:${ports.grpc}`, credentials);
  const adminClient = new protos.adminService(`127.0.0.1:${ports.grpc}`, credentials);
  try {
    expect((await codeOf(unary(triage, 'GetStudyResult', { study: { orthancStudyId: '00000000-00000000-00000000-00000000-00000000' } }, bearer(token)))).code).toBe(grpc.status.NOT_FOUND);
    expect((await codeOf(unary(adminClient, 'GetStatus', {}, bearer(token)))).code).toBe(grpc.status.PERMISSION_DENIED);
  } finally {
    triage.close();
    adminClient.close();
  }
});
