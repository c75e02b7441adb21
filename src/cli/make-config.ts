import { spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { optionNumber, optionString, parseArgs } from './parse-args';
import { ConfigError, loadSidecarConfig, parseJsonWithComments } from '../config';
import { clientTokenOf, resolveGrpcSettings } from '../grpc';
import { TRIAGE_METADATA } from '../orthanc/triage-metadata';
import { isRecord } from '../util/json-value';

/**
 * `orthanc-t3 make-config`: a ready production configuration for one Orthanc host, in the layout `orthanc-t3 install`
 * puts in place (docs/ADMIN.md), and the check of such a layout that both commands run.
 *
 *   OUT/orthanc/      → /etc/orthanc/ beside Debian's own files: orthanc.json and python.json replace Debian's files of
 *                       the same name (the same keys), credentials.json replaces Debian's (install keeps the users
 *                       already there), t3.json (the plugin's T3 part) and t3-plugin/ (its token and certificates) are new
 *   OUT/orthanc-t3/   → /etc/orthanc-t3/: the sidecar's t3.json, grpc-tokens.json, tls/
 *   OUT/middleware/   for the hospital middleware: its token and client certificate
 *   OUT/ca/           the CA that signed the three certificates: keep its key offline
 */

/** Where the package's own files are: two folders above this one in src/cli and in dist/cli alike. */
export const PACKAGE_DIR = path.resolve(__dirname, '..', '..');

export const DEFAULTS = {
  orthancDir: '/etc/orthanc',
  sidecarDir: '/etc/orthanc-t3',
  pluginDir: '/usr/share/orthanc-t3/plugin',
  stateDir: '/var/lib/orthanc-t3',
  storageDir: '/var/lib/orthanc/db-v6',
  httpPort: 8042,
  dicomPort: 4242,
  grpcListen: '0.0.0.0:50051',
  metricsListen: '127.0.0.1:9464',
  orthancUser: 'orthanc-t3',
  adminUser: 'admin',
  days: 825,
};

/** Files of the Orthanc part that replace a Debian file of the same name (the rest of Debian's folder stays). */
export const REPLACED_DEBIAN_FILES = ['orthanc.json', 'python.json', 'credentials.json'];
/** Where the sidecar's gRPC token file is, relative to its configuration folder (the unit names it). */
export const SIDECAR_TOKEN_FILE = 'grpc-tokens.json';

const HELP = `usage: orthanc-t3 make-config --out DIR [options]
       orthanc-t3 make-config --check DIR [--debian-dir /etc/orthanc]

Writes a ready production configuration for one Orthanc host, then checks it (docs/ADMIN.md):
  DIR/orthanc/     for /etc/orthanc/ beside Debian's files: orthanc.json and python.json replace Debian's files of the
                   same name, credentials.json replaces Debian's (orthanc-t3 install keeps the users already in it),
                   t3.json (how the plugin reaches the sidecar) and t3-plugin/ (its token, CA, client certificate)
  DIR/orthanc-t3/  for /etc/orthanc-t3/: the sidecar's t3.json (Orthanc URL and login, checkpoint, gRPC over mutual
                   TLS), grpc-tokens.json (the plugin's token: admin+triage; the middleware's: triage), tls/
  DIR/middleware/  for the hospital middleware: token, ca.crt, tls.crt, tls.key (mutual TLS)
  DIR/ca/          the CA that signed the certificates (ca.key: keep it offline; it signs renewed certificates)
Tokens and passwords are random; certificates come from openssl. Then: orthanc-t3 install --config DIR.
--check DIR checks a folder written by this command (after hand edits too): every file parses, no key is defined
twice (also beside the Debian files of --debian-dir, default /etc/orthanc when it exists), the sidecar's
configuration validates, every token and certificate file is there, the certificates chain to the CA and name the
address the plugin uses, and the plugin's token has the admin and triage roles. Exit status 1 when something is wrong.

options:
  --out DIR             where to write (must be empty or absent unless --force)
  --http-port N         Orthanc's HTTP port (default ${DEFAULTS.httpPort}); the sidecar's Orthanc URL follows it
  --dicom-port N        Orthanc's DICOM port (default ${DEFAULTS.dicomPort})
  --storage-dir DIR     Orthanc's storage and index (default ${DEFAULTS.storageDir}, Debian's own)
  --grpc-listen ADDR    the sidecar's gRPC address (default ${DEFAULTS.grpcListen}: middleware on other hosts; TLS always)
  --metrics-listen ADDR /metrics, /livez, /readyz (default ${DEFAULTS.metricsListen})
  --server-names LIST   extra DNS names or IPs in the sidecar's certificate, comma-separated (always: this host's
                        name, localhost, 127.0.0.1, ::1)
  --bundle DIR          your model bundle (absolute path); without it the demonstration model is configured and a
                        production sidecar refuses it
  --allow-demonstration-models  let the sidecar run the demonstration model (every result then says so)
  --orthanc-user NAME   the Orthanc user the sidecar logs in as (default ${DEFAULTS.orthancUser})
  --admin-user NAME     an Orthanc user for people: browser pages, PUT /t3/config, re-runs (default ${DEFAULTS.adminUser})
  --orthanc-dir DIR     where the orthanc/ part will be installed (default ${DEFAULTS.orthancDir}); the plugin's files are
                        named by absolute path below it
  --plugin-dir DIR      where the plugin will be installed (default ${DEFAULTS.pluginDir}, where install puts it)
  --state-dir DIR       the sidecar's state directory (default ${DEFAULTS.stateDir}, the unit's StateDirectory)
  --days N              certificate lifetime (default ${DEFAULTS.days})
  --force               write into a folder that is not empty (files of the same name are replaced)
`;

function fail(message: string): never {
  throw new UsageError(message);
}

function writeFile(file: string, content: string, secret: boolean): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode: secret ? 0o600 : 0o644 });
  // writeFileSync keeps the mode of a file that already exists.
  fs.chmodSync(file, secret ? 0o600 : 0o644);
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) fail(`openssl: ${r.error.message} (install Debian's openssl package)`);
  if (r.status !== 0) fail(`openssl ${args[0]} failed: ${r.stderr.trim()}`);
}

/** Private keys: ECDSA P-256 (both gRPC stacks accept it; generated in milliseconds where RSA-3072 takes seconds). */
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, days: number): void {
  openssl(['req', '-x509', ...KEY_ARGS, '-days', String(days), '-subj', '/CN=orthanc-t3 gRPC CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
}

/** A leaf certificate signed by the CA in caDir, written as NAME.crt / NAME.key in caDir. */
function makeLeaf(caDir: string, name: string, commonName: string, extensions: string[], days: number): void {
  fs.writeFileSync(path.join(caDir, `${name}.ext`), extensions.join('\n') + '\n');
  openssl(['req', '-new', ...KEY_ARGS, '-subj', `/CN=${commonName}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], caDir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '0x' + randomBytes(16).toString('hex'),
    '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.crt`], caDir);
  fs.rmSync(path.join(caDir, `${name}.csr`));
  fs.rmSync(path.join(caDir, `${name}.ext`));
}

function isIp(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
}

function hostPort(address: string, what: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) fail(`${what} must be host:port, got "${address}"`);
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port };
}

export interface MakeConfigOptions {
  out: string;
  httpPort: number;
  dicomPort: number;
  storageDir: string;
  grpcListen: string;
  metricsListen: string;
  serverNames: string[];
  bundle: string | null;
  allowDemonstrationModels: boolean;
  orthancUser: string;
  adminUser: string;
  orthancDir: string;
  pluginDir: string;
  stateDir: string;
  days: number;
}

/**
 * One CA in `caDir`, the sidecar's server certificate (named for this host, localhost and `serverNames`), and client
 * certificates for the plugin and the middleware; keys readable by the owner only.
 */
function makeCertificates(caDir: string, serverNames: readonly string[], days: number): void {
  fs.mkdirSync(caDir, { recursive: true, mode: 0o700 });
  makeCa(caDir, days);
  const names = [...new Set([os.hostname(), 'localhost', '127.0.0.1', '::1', ...serverNames].filter((n) => n !== ''))];
  const san = 'subjectAltName=' + names.map((n) => (isIp(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const leaf = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment'];
  makeLeaf(caDir, 'sidecar', 'orthanc-t3 sidecar', [...leaf, san, 'extendedKeyUsage=serverAuth'], days);
  makeLeaf(caDir, 'plugin', 'orthanc-t3 plugin', [...leaf, 'extendedKeyUsage=clientAuth'], days);
  makeLeaf(caDir, 'middleware', 'orthanc-t3 middleware', [...leaf, 'extendedKeyUsage=clientAuth'], days);
  for (const f of fs.readdirSync(caDir)) fs.chmodSync(path.join(caDir, f), f.endsWith('.key') ? 0o600 : 0o644);
}

/** The sidecar's T3 section: the shipped one without the plugin's keys, with this host's login, paths and TLS. */
function sidecarT3Section(shippedT3: Record<string, unknown>, o: MakeConfigOptions, orthancPassword: string): Record<string, unknown> {
  const t3 = structuredClone(shippedT3);
  const section = (key: string): Record<string, unknown> => (isRecord(t3[key]) ? t3[key] : {});
  delete t3.plugin;
  delete t3.worklist;
  t3.orthanc = { ...section('orthanc'), url: `http://127.0.0.1:${o.httpPort}`, username: o.orthancUser, password: orthancPassword };
  t3.follower = { ...section('follower'), checkpointPath: path.posix.join(o.stateDir, 'checkpoint.json') };
  t3.grpc = { listen: o.grpcListen, tls: { certFile: 'tls/server.crt', keyFile: 'tls/server.key', clientCaFile: 'tls/ca.crt' }, tokens: [] };
  t3.metrics = { listen: o.metricsListen };
  t3.deployment = { production: true, allowDemonstrationModels: o.allowDemonstrationModels };
  if (o.bundle) {
    const name = path.basename(o.bundle);
    t3.bundles = [{ name, dir: o.bundle }];
    t3.routing = { ...section('routing'), rules: [], defaultBundle: name };
  }
  return t3;
}

/** Writes the layout described at the top of this file. */
export function writeProductionConfig(o: MakeConfigOptions): void {
  const shippedCore = parseJsonWithComments(fs.readFileSync(path.join(PACKAGE_DIR, 'orthanc-config', 'orthanc.json'), 'utf8'), 'orthanc-config/orthanc.json') as Record<string, unknown>;
  const shippedT3 = (parseJsonWithComments(fs.readFileSync(path.join(PACKAGE_DIR, 'orthanc-config', 't3.json'), 'utf8'), 'orthanc-config/t3.json') as { T3: Record<string, unknown> }).T3;
  const grpcPort = hostPort(o.grpcListen, '--grpc-listen').port;
  const sidecarAddress = `127.0.0.1:${grpcPort}`;
  const pluginToken = randomBytes(32).toString('hex');
  const middlewareToken = randomBytes(32).toString('hex');
  const orthancPassword = randomBytes(24).toString('base64url');
  const adminPassword = randomBytes(18).toString('base64url');
  const stamp = `Written by orthanc-t3 make-config on ${new Date().toISOString().slice(0, 10)}`;

  const caDir = path.join(o.out, 'ca');
  makeCertificates(caDir, o.serverNames, o.days);
  const read = (name: string) => fs.readFileSync(path.join(caDir, name), 'utf8');

  // The Orthanc part.
  const orthanc = path.join(o.out, 'orthanc');
  const core = { ...shippedCore, StorageDirectory: o.storageDir, IndexDirectory: o.storageDir, HttpPort: o.httpPort, DicomPort: o.dicomPort };
  writeFile(path.join(orthanc, 'orthanc.json'),
    `// ${stamp}, from orthanc-config/orthanc.json.\n// Replaces Debian's /etc/orthanc/orthanc.json (core options).\n` + json(core), false);
  writeFile(path.join(orthanc, 'python.json'),
    `// ${stamp}.\n// Replaces Debian's /etc/orthanc/python.json. Absolute: Orthanc 1.10.1 resolves PythonScript against its\n` +
    `// working directory.\n` + json({ PythonScript: path.posix.join(o.pluginDir, 't3_plugin.py'), PythonVerbose: false }), false);
  writeFile(path.join(orthanc, 'credentials.json'),
    `// ${stamp}.\n// Replaces Debian's /etc/orthanc/credentials.json (orthanc-t3 install keeps the users already there).\n` +
    `// ${o.orthancUser}: the sidecar's login (also in /etc/orthanc-t3/t3.json); ${o.adminUser}: for people.\n` +
    json({ RegisteredUsers: { [o.orthancUser]: orthancPassword, [o.adminUser]: adminPassword } }), true);
  const pluginFiles = path.posix.join(o.orthancDir, 't3-plugin');
  writeFile(path.join(orthanc, 't3.json'),
    `// ${stamp}.\n// The plugin's part of the T3 section: how it reaches the sidecar (mutual TLS and a token file, read at\n` +
    `// every call, so a rotated token applies without restarting Orthanc) and who may re-run studies.\n` +
    json({
      T3: {
        plugin: {
          sidecarAddress,
          token: null,
          tokenFile: path.posix.join(pluginFiles, 'token'),
          deadlineSeconds: 5,
          tls: { caFile: path.posix.join(pluginFiles, 'ca.crt'), certFile: path.posix.join(pluginFiles, 'tls.crt'), keyFile: path.posix.join(pluginFiles, 'tls.key'), serverName: null },
        },
        worklist: { administrators: [o.adminUser] },
      },
    }), false);
  // The one token-file format (docs/ADMIN.md): the plugin's file holds its own entry of the sidecar's table.
  writeFile(path.join(orthanc, 't3-plugin', 'token'), json({ tokens: [{ token: pluginToken, roles: ['admin', 'triage'] }] }), true);
  writeFile(path.join(orthanc, 't3-plugin', 'ca.crt'), read('ca.crt'), false);
  writeFile(path.join(orthanc, 't3-plugin', 'tls.crt'), read('plugin.crt'), false);
  writeFile(path.join(orthanc, 't3-plugin', 'tls.key'), read('plugin.key'), true);

  // The sidecar part. Its paths are relative: the sidecar resolves them against this folder wherever it is.
  const sidecar = path.join(o.out, 'orthanc-t3');
  const t3 = sidecarT3Section(shippedT3, o, orthancPassword);
  writeFile(path.join(sidecar, 't3.json'),
    `// ${stamp}.\n// The sidecar's configuration (orthanc-t3 serve --config /etc/orthanc-t3/): the T3 section of\n` +
    `// orthanc-config/t3.json with this host's Orthanc login, checkpoint and gRPC over mutual TLS. Relative paths are\n` +
    `// taken against this folder. Holds the Orthanc password: readable by root and the orthanc-t3 group only.\n` +
    json({ T3: t3 }), true);
  writeFile(path.join(sidecar, SIDECAR_TOKEN_FILE), json({ tokens: [
    { token: pluginToken, roles: ['admin', 'triage'] },
    { token: middlewareToken, roles: ['triage'] },
  ] }), true);
  writeFile(path.join(sidecar, 'tls', 'ca.crt'), read('ca.crt'), false);
  writeFile(path.join(sidecar, 'tls', 'server.crt'), read('sidecar.crt'), false);
  writeFile(path.join(sidecar, 'tls', 'server.key'), read('sidecar.key'), true);

  const middleware = path.join(o.out, 'middleware');
  writeFile(path.join(middleware, 'token'), json({ tokens: [{ token: middlewareToken, roles: ['triage'] }] }), true);
  writeFile(path.join(middleware, 'ca.crt'), read('ca.crt'), false);
  writeFile(path.join(middleware, 'tls.crt'), read('middleware.crt'), false);
  writeFile(path.join(middleware, 'tls.key'), read('middleware.key'), true);
  // The leaf keys now live where they are used; the CA keeps its own key and the three certificates.
  for (const name of ['sidecar', 'plugin', 'middleware']) fs.rmSync(path.join(caDir, `${name}.key`));
}

// ---------------------------------------------------------------------------------------------------------------
// The check.

export interface CheckTarget {
  /** The Orthanc configuration folder as it is on this machine now. */
  orthancDir: string;
  /** The sidecar's configuration folder as it is now. */
  sidecarDir: string;
  /** An absolute path written in the files (the final location) → where that file is now. */
  locate: (finalPath: string) => string;
  /** A folder of Debian's own files that the Orthanc part is dropped into (checked for keys defined twice), or null. */
  debianDir: string | null;
  /** Whether the plugin (python.json's PythonScript) must already be in place. */
  pluginInstalled: boolean;
}

export interface CheckResult {
  ok: string[];
  problems: string[];
  notes: string[];
}

function readJsonc(file: string): Record<string, unknown> {
  return parseJsonWithComments(fs.readFileSync(file, 'utf8'), file) as Record<string, unknown>;
}

function jsonFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
}

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

type Attempt = (what: string, fn: () => void) => void;

/** Runs one check; an exception becomes a problem of the result, prefixed with what was being checked. */
function attemptInto(r: CheckResult): Attempt {
  return (what, fn) => {
    try {
      fn();
    } catch (err) {
      r.problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
}

/**
 * Orthanc's folder: every file parses, no top-level key is in two files (Orthanc refuses to start then), and the
 * settings the plugin needs are there. Returns the folder's files merged.
 */
function checkOrthancFolder(t: CheckTarget, r: CheckResult, attempt: Attempt): Record<string, unknown> {
  const orthancFiles = new Map<string, Record<string, unknown>>();
  attempt('Orthanc configuration', () => {
    for (const f of jsonFiles(t.orthancDir)) orthancFiles.set(f, readJsonc(path.join(t.orthancDir, f)));
  });
  const owners = (files: Map<string, Record<string, unknown>>) => {
    const byKey = new Map<string, string[]>();
    for (const [f, content] of files) for (const k of Object.keys(content)) byKey.set(k, [...(byKey.get(k) ?? []), f]);
    return [...byKey].filter(([, fs_]) => fs_.length > 1).map(([k, fs_]) => `"${k}" in ${fs_.join(' and ')}`);
  };
  const twice = owners(orthancFiles);
  if (twice.length) r.problems.push(`${t.orthancDir}: keys defined twice (Orthanc would not start): ${twice.join('; ')}`);
  else r.ok.push(`${t.orthancDir}: ${orthancFiles.size} files, no key defined twice`);
  if (t.debianDir) {
    const combined = new Map<string, Record<string, unknown>>();
    attempt(`Debian's files in ${t.debianDir}`, () => {
      for (const f of jsonFiles(t.debianDir!)) if (!orthancFiles.has(f)) combined.set(`${t.debianDir}/${f}`, readJsonc(path.join(t.debianDir!, f)));
    });
    for (const [f, c] of orthancFiles) combined.set(f, c);
    const clash = owners(combined);
    if (clash.length) r.problems.push(`beside Debian's files in ${t.debianDir}: keys defined twice: ${clash.join('; ')}`);
    else r.ok.push(`beside Debian's files in ${t.debianDir} (${REPLACED_DEBIAN_FILES.join(', ')} replaced): no key defined twice`);
  }
  const all: Record<string, unknown> = {};
  for (const c of orthancFiles.values()) Object.assign(all, c);
  if (all.AuthenticationEnabled !== true) r.problems.push('Orthanc: AuthenticationEnabled is not true (every local process could change the triage rules)');
  const missingMetadata = Object.values(TRIAGE_METADATA).filter((m) => (isRecord(all.UserMetadata) ? all.UserMetadata[m.name] : undefined) !== m.index).map((m) => m.name);
  if (missingMetadata.length) r.problems.push(`Orthanc: UserMetadata lacks ${missingMetadata.join(', ')}`);
  const script = typeof all.PythonScript === 'string' ? all.PythonScript : null;
  if (!script) r.problems.push('Orthanc: no PythonScript (the plugin would not load)');
  else if (!path.isAbsolute(script)) r.problems.push(`Orthanc: PythonScript "${script}" is relative: Orthanc 1.10.1 takes it against its working directory`);
  else if (!fs.existsSync(t.locate(script))) {
    (t.pluginInstalled ? r.problems : r.notes).push(`the plugin is not at ${script} yet${t.pluginInstalled ? '' : ' (orthanc-t3 install puts it there)'}`);
  } else r.ok.push(`plugin: ${script}`);
  return all;
}

/** The plugin's TLS files against the sidecar's: chains, key pairs, key usages and the host name the plugin dials. */
function checkPluginTls(
  r: CheckResult,
  plugin: Record<string, unknown>,
  tls: Record<string, unknown>,
  serverTls: { certFile: string; keyFile: string; clientCaFile: string | null },
  pluginPath: (p: unknown, key: string) => string | null,
): void {
  const caFile = pluginPath(tls.caFile, 'tls.caFile') ?? fail('T3.plugin.tls.caFile is not set');
  const ca = new X509Certificate(fs.readFileSync(caFile));
  const server = new X509Certificate(fs.readFileSync(serverTls.certFile));
  const serverKey = createPrivateKey(fs.readFileSync(serverTls.keyFile));
  if (!server.verify(ca.publicKey)) fail(`the sidecar's certificate is not signed by the plugin's CA (${caFile})`);
  if (!server.checkPrivateKey(serverKey)) fail("the sidecar's certificate and key do not match");
  if (!(server.keyUsage ?? [SERVER_AUTH]).includes(SERVER_AUTH)) fail("the sidecar's certificate is not for servers");
  const sidecarAddress = typeof plugin.sidecarAddress === 'string' ? plugin.sidecarAddress : '127.0.0.1:50051';
  const host = typeof tls.serverName === 'string' ? tls.serverName : hostPort(sidecarAddress, 'T3.plugin.sidecarAddress').host;
  if (!(isIp(host) ? server.checkIP(host) : server.checkHost(host))) fail(`the sidecar's certificate does not name "${host}", the host the plugin connects to`);
  if (new Date(server.validTo).getTime() < Date.now() + 30 * 86400000) r.notes.push(`the sidecar's certificate expires on ${server.validTo}`);
  if (serverTls.clientCaFile) {
    const clientCa = new X509Certificate(fs.readFileSync(serverTls.clientCaFile));
    const certFile = pluginPath(tls.certFile, 'tls.certFile') ?? fail('the sidecar asks for client certificates and T3.plugin.tls.certFile is not set');
    const keyFile = pluginPath(tls.keyFile, 'tls.keyFile') ?? fail('T3.plugin.tls.keyFile is not set');
    const client = new X509Certificate(fs.readFileSync(certFile));
    if (!client.verify(clientCa.publicKey)) fail("the plugin's certificate is not signed by the CA the sidecar trusts for clients");
    if (!client.checkPrivateKey(createPrivateKey(fs.readFileSync(keyFile)))) fail("the plugin's certificate and key do not match");
    if (!(client.keyUsage ?? [CLIENT_AUTH]).includes(CLIENT_AUTH)) fail("the plugin's certificate is not for clients");
  }
  r.ok.push(`TLS: the sidecar's certificate chains to the plugin's CA and names ${host}; the plugin's client certificate is accepted`);
}

/** Checks an Orthanc + sidecar configuration; never throws for a bad configuration (it reports it). */
export async function checkProductionConfig(t: CheckTarget): Promise<CheckResult> {
  const r: CheckResult = { ok: [], problems: [], notes: [] };
  const attempt = attemptInto(r);

  const all = checkOrthancFolder(t, r, attempt);

  // The sidecar's configuration validates, its TLS files and token file are readable.
  let sidecar: Awaited<ReturnType<typeof loadSidecarConfig>>['config'] | null = null;
  try {
    sidecar = loadSidecarConfig({ configPath: t.sidecarDir, env: {} }).config;
    r.ok.push(`${t.sidecarDir}: the sidecar's configuration is valid`);
  } catch (err) {
    r.problems.push(`${t.sidecarDir}: ${err instanceof ConfigError ? err.message : String(err)}`);
  }
  const tokenFile = path.join(t.sidecarDir, SIDECAR_TOKEN_FILE);
  let tokens: Awaited<ReturnType<typeof resolveGrpcSettings>>['tokens'] | null = null;
  if (sidecar) {
    try {
      tokens = (await resolveGrpcSettings(sidecar.grpc, { tokenFile })).tokens;
      r.ok.push(`gRPC: ${tokens.size} tokens, ${sidecar.grpc.tls ? (sidecar.grpc.tls.clientCaFile ? 'mutual TLS' : 'TLS') : 'plaintext'} on ${sidecar.grpc.listen}`);
    } catch (err) {
      r.problems.push(`gRPC: ${(err as Error).message}`);
    }
    if (sidecar.bundles.some((b) => b.dir === 'demo') && sidecar.deployment.production && !sidecar.deployment.allowDemonstrationModels) {
      r.notes.push('the sidecar is configured with the demonstration model and refuses it in production: name your bundle in T3.bundles (make-config --bundle DIR)');
    }
    const users = all.RegisteredUsers as Record<string, string> | undefined;
    if (!sidecar.orthanc.username) r.problems.push(`${t.sidecarDir}: T3.orthanc.username is not set (Orthanc asks for a login)`);
    else if (users && users[sidecar.orthanc.username] !== sidecar.orthanc.password) {
      r.problems.push(`the sidecar's Orthanc login "${sidecar.orthanc.username}" is not in RegisteredUsers with the same password`);
    } else if (users) r.ok.push(`the sidecar logs in to Orthanc as "${sidecar.orthanc.username}"`);
    else r.notes.push(`no RegisteredUsers in ${t.orthancDir}: add "${sidecar.orthanc.username}" (Debian's credentials.json)`);
    const url = new URL(sidecar.orthanc.url);
    if (['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && all.HttpPort !== undefined && Number(url.port || 80) !== all.HttpPort) {
      r.problems.push(`the sidecar's T3.orthanc.url ${sidecar.orthanc.url} is not Orthanc's HttpPort ${JSON.stringify(all.HttpPort)}`);
    }
  }

  // The plugin's side: token file, TLS files, and what the sidecar's certificate and token table say about them.
  const pluginSection = isRecord(all.T3) ? all.T3.plugin : undefined;
  const plugin: Record<string, unknown> = isRecord(pluginSection) ? pluginSection : {};
  const pluginPath = (p: unknown, key: string): string | null => {
    if (typeof p !== 'string' || p === '') return null;
    if (!path.isAbsolute(p)) r.notes.push(`T3.plugin.${key} "${p}" is relative: the plugin takes it against its own folder`);
    return t.locate(p);
  };
  const pluginTokenFile = pluginPath(plugin.tokenFile, 'tokenFile');
  if (!pluginTokenFile) r.problems.push('Orthanc: T3.plugin.tokenFile is not set (the /t3/* routes would answer 503)');
  else {
    attempt('T3.plugin.tokenFile', () => {
      const token = clientTokenOf(fs.readFileSync(pluginTokenFile, 'utf8'), pluginTokenFile);
      const roles = tokens?.rolesOf(token);
      if (!tokens) return;
      if (!roles) r.problems.push(`the plugin's token (${String(plugin.tokenFile)}) is not in the sidecar's tokens`);
      else if (!roles.has('admin') || !roles.has('triage')) r.problems.push(`the plugin's token has roles ${[...roles].join('+')}; it needs admin and triage`);
      else r.ok.push("the plugin's token is known to the sidecar with roles admin and triage");
    });
  }
  const tls = isRecord(plugin.tls) ? plugin.tls : null;
  const serverTls = sidecar?.grpc.tls;
  if (serverTls && tls) {
    attempt('TLS', () => {
      checkPluginTls(r, plugin, tls, serverTls, pluginPath);
    });
  } else if (sidecar?.grpc.tls && !tls) r.problems.push('the sidecar serves TLS and T3.plugin.tls is not set in Orthanc\'s configuration');

  // Secrets are not readable by everyone.
  const secretFiles = [path.join(t.sidecarDir, 't3.json'), tokenFile, ...(pluginTokenFile ? [pluginTokenFile] : [])];
  if (typeof tls?.keyFile === 'string' && tls.keyFile !== '') secretFiles.push(t.locate(tls.keyFile));
  if (sidecar?.grpc.tls) secretFiles.push(sidecar.grpc.tls.keyFile);
  for (const f of secretFiles) {
    const st = fs.statSync(f, { throwIfNoEntry: false });
    if (st && (st.mode & 0o007) !== 0) r.problems.push(`${f} is readable by every user of this host (chmod o-rwx)`);
  }
  return r;
}

export function printCheck(result: CheckResult, io: CliIo): boolean {
  for (const line of result.ok) io.stdout.write(`ok: ${line}\n`);
  for (const line of result.notes) io.stdout.write(`note: ${line}\n`);
  for (const line of result.problems) io.stderr.write(`problem: ${line}\n`);
  return result.problems.length === 0;
}

/** The check of a folder this command wrote: its absolute paths point where install will put the files. */
export function targetOfOutput(out: string, orthancDir: string, debianDir: string | null): CheckTarget {
  const finalOrthanc = (() => {
    // The plugin's token file names the final Orthanc folder; map it back to OUT/orthanc.
    try {
      const t3 = readJsonc(path.join(out, 'orthanc', 't3.json')).T3;
      const plugin = isRecord(t3) ? t3.plugin : undefined;
      const tokenFile = isRecord(plugin) ? plugin.tokenFile : undefined;
      if (typeof tokenFile === 'string' && path.isAbsolute(tokenFile)) return path.dirname(path.dirname(tokenFile));
    } catch {
      // reported by the check itself
    }
    return orthancDir;
  })();
  return {
    orthancDir: path.join(out, 'orthanc'),
    sidecarDir: path.join(out, 'orthanc-t3'),
    locate: (p) => (p === finalOrthanc || p.startsWith(finalOrthanc + '/') ? path.join(out, 'orthanc', p.slice(finalOrthanc.length)) : p),
    debianDir,
    pluginInstalled: false,
  };
}

export const makeConfigCommand: CliCommand = {
  name: 'make-config',
  summary: 'write a ready production configuration (tokens, TLS certificates, Orthanc logins) and check it',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, {
      values: ['out', 'check', 'debian-dir', 'http-port', 'dicom-port', 'storage-dir', 'grpc-listen', 'metrics-listen', 'server-names', 'bundle',
        'orthanc-user', 'admin-user', 'orthanc-dir', 'plugin-dir', 'state-dir', 'days'],
      flags: ['help', 'force', 'allow-demonstration-models'],
    });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    if (args.positionals.length > 0) fail(`unexpected argument "${args.positionals[0]}" (orthanc-t3 make-config --help)`);
    const debianOption = optionString(args, 'debian-dir');
    const debianDir = debianOption !== undefined ? (debianOption === '' ? null : path.resolve(debianOption)) : fs.existsSync(path.join(DEFAULTS.orthancDir, 'orthanc.json')) ? DEFAULTS.orthancDir : null;
    const check = optionString(args, 'check');
    if (check !== undefined) {
      const result = await checkProductionConfig(targetOfOutput(path.resolve(check), DEFAULTS.orthancDir, debianDir));
      return printCheck(result, io) ? ExitCode.ok : ExitCode.usage;
    }
    const outOption = optionString(args, 'out') ?? fail('--out DIR is required (orthanc-t3 make-config --help)');
    const out = path.resolve(outOption);
    if (fs.existsSync(out) && fs.readdirSync(out).length > 0 && !args.options.has('force')) fail(`${out} is not empty (--force writes into it)`);
    const port = (name: string, d: number) => optionNumber(args, name, (n) => Number.isInteger(n) && n > 0 && n < 65536, 'a port number') ?? d;
    const absolute = (name: string, d: string) => {
      const v = optionString(args, name) ?? d;
      if (!path.isAbsolute(v)) fail(`--${name} must be an absolute path, got "${v}"`);
      return v;
    };
    const bundle = optionString(args, 'bundle');
    if (bundle !== undefined && !fs.existsSync(path.join(bundle, 'bundle.json'))) fail(`--bundle ${bundle}: no bundle.json there`);
    const options: MakeConfigOptions = {
      out,
      httpPort: port('http-port', DEFAULTS.httpPort),
      dicomPort: port('dicom-port', DEFAULTS.dicomPort),
      storageDir: absolute('storage-dir', DEFAULTS.storageDir),
      grpcListen: optionString(args, 'grpc-listen') ?? DEFAULTS.grpcListen,
      metricsListen: optionString(args, 'metrics-listen') ?? DEFAULTS.metricsListen,
      serverNames: (optionString(args, 'server-names') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
      bundle: bundle === undefined ? null : path.resolve(bundle),
      allowDemonstrationModels: args.options.has('allow-demonstration-models'),
      orthancUser: optionString(args, 'orthanc-user') ?? DEFAULTS.orthancUser,
      adminUser: optionString(args, 'admin-user') ?? DEFAULTS.adminUser,
      orthancDir: absolute('orthanc-dir', DEFAULTS.orthancDir),
      pluginDir: absolute('plugin-dir', DEFAULTS.pluginDir),
      stateDir: absolute('state-dir', DEFAULTS.stateDir),
      days: optionNumber(args, 'days', (n) => Number.isInteger(n) && n > 0, 'a positive number of days') ?? DEFAULTS.days,
    };
    hostPort(options.grpcListen, '--grpc-listen');
    hostPort(options.metricsListen, '--metrics-listen');
    if (options.orthancUser === options.adminUser) fail('--orthanc-user and --admin-user must differ');
    fs.mkdirSync(out, { recursive: true, mode: 0o750 });
    writeProductionConfig(options);
    io.stdout.write(`make-config: wrote ${out}/{orthanc,orthanc-t3,middleware,ca}\n`);
    const ok = printCheck(await checkProductionConfig(targetOfOutput(out, options.orthancDir, debianDir)), io);
    io.stdout.write(
      ok
        ? `next: orthanc-t3 install --config ${out} (as root), then systemctl daemon-reload && systemctl enable --now orthanc-t3 && systemctl restart orthanc\n` +
            `the administrator's Orthanc login "${options.adminUser}" is in ${path.join(out, 'orthanc', 'credentials.json')}; the middleware's token and certificate are in ${path.join(out, 'middleware')}\n`
        : 'make-config: the configuration has problems (above)\n',
    );
    return ok ? ExitCode.ok : ExitCode.usage;
  },
};
