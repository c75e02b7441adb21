import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, UsageError, type CliCommand, type CliIo } from './command';
import { optionString, parseArgs } from './parse-args';
import { parseJsonWithComments } from '../config';
import { checkProductionConfig, DEFAULTS, PACKAGE_DIR, printCheck, REPLACED_DEBIAN_FILES } from './make-config';

/**
 * `orthanc-t3 install`: puts the sidecar's systemd unit, its system user (sysusers.d), its state directory, the Orthanc
 * plugin and (with --config) a `make-config` configuration in place under a root folder: `/` on the host itself, any
 * other folder to stage or test an installation (like DESTDIR: the paths written into files are those of the final
 * system). Only with root `/` as root does it create the user and set owners; it never starts or enables anything.
 */

export const UNIT_NAME = 'orthanc-t3.service';
export const SERVICE_USER = 'orthanc-t3';
/** Where each part goes, relative to the root. */
export const LAYOUT = {
  unit: 'etc/systemd/system/' + UNIT_NAME,
  sysusers: 'etc/sysusers.d/orthanc-t3.conf',
  stateDir: DEFAULTS.stateDir.slice(1),
  sidecarDir: DEFAULTS.sidecarDir.slice(1),
  orthancDir: DEFAULTS.orthancDir.slice(1),
  pluginDir: DEFAULTS.pluginDir.slice(1),
};
/** Suffix of the copies of Debian's files that the configuration replaces (Orthanc reads only *.json). */
export const BACKUP_SUFFIX = '.before-orthanc-t3';

const HELP = `usage: orthanc-t3 install [--config DIR] [--root DIR] [options]

Installs the orthanc-t3 sidecar as a systemd service on this Debian host (docs/ADMIN.md):
  /etc/systemd/system/${UNIT_NAME}    the unit (user ${SERVICE_USER}, hardened), running this package's bin/orthanc-t3
  /etc/sysusers.d/orthanc-t3.conf         the service's system user
  /var/lib/orthanc-t3/                    its state directory (the change-feed checkpoint)
  /usr/share/orthanc-t3/plugin/           the Orthanc plugin with its generated gRPC stubs (replaced on every install)
with --config DIR (a folder written by orthanc-t3 make-config), also the configuration:
  DIR/orthanc-t3/ → /etc/orthanc-t3/      the sidecar's configuration, token file and TLS files (replaced)
  DIR/orthanc/    → /etc/orthanc/         ${REPLACED_DEBIAN_FILES.join(', ')} replace Debian's (kept as NAME${BACKUP_SUFFIX};
                                          the users already in credentials.json are kept), t3.json and t3-plugin/ are added
Without --config the configuration is left as it is (an upgrade). Then checks the installed configuration.
Run as root. It does not start anything: then systemctl daemon-reload && systemctl enable --now orthanc-t3 &&
systemctl restart orthanc.

options:
  --config DIR        a make-config folder to install
  --root DIR          install under DIR instead of / (staging, tests): no user is created, no owner is set
  --package-dir DIR   the orthanc-t3 package the unit runs (default: this one, ${PACKAGE_DIR}); it must stay
                      where it is, readable by ${SERVICE_USER}, and not under /home or /root (the unit hides them)
`;

function fail(message: string): never {
  throw new UsageError(message);
}

function copyTree(from: string, to: string, mode: { dir: number; file: (name: string) => number }): void {
  fs.mkdirSync(to, { recursive: true });
  fs.chmodSync(to, mode.dir);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(source, target, mode);
    else {
      fs.copyFileSync(source, target);
      fs.chmodSync(target, mode.file(entry.name));
    }
  }
}

/** Whether a file under a configuration folder holds a secret (same names make-config writes). */
function isSecret(name: string): boolean {
  return name.endsWith('.key') || name === 'token' || name === 'credentials.json' || name === 'grpc-tokens.json' || name === 't3.json';
}

function run(command: string, args: string[], env?: Record<string, string>): { ok: boolean; output: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, ...(env ?? {}) } });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

/** The unit with this package's folder in it. */
export function renderUnit(packageDir: string): string {
  return fs.readFileSync(path.join(PACKAGE_DIR, 'deploy', 'systemd', UNIT_NAME), 'utf8').split('@PACKAGE_DIR@').join(packageDir);
}

function installPlugin(root: string, log: (line: string) => void): void {
  const target = path.join(root, LAYOUT.pluginDir);
  // Replaced whole, so a file removed from the plugin in an upgrade does not linger.
  fs.rmSync(target, { recursive: true, force: true });
  const source = path.join(PACKAGE_DIR, 'orthanc-config', 'plugin');
  copyTree(source, target, { dir: 0o755, file: () => 0o644 });
  for (const generated of ['t3', '__pycache__', '.gitignore']) fs.rmSync(path.join(target, generated), { recursive: true, force: true });
  const r = run(path.join(PACKAGE_DIR, 'orthanc-config', 'generate-stubs.sh'), [], { STUBS_OUT: target, PROTO_DIR: path.join(PACKAGE_DIR, 'proto') });
  if (!r.ok) fail(`the plugin's gRPC stubs: ${r.output}`);
  log(`plugin: ${target} (with its gRPC stubs)`);
}

/** Copies the Orthanc part beside Debian's files: Debian's files of the same name are kept aside, its users kept. */
function installOrthancPart(from: string, to: string, log: (line: string) => void): void {
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    const source = path.join(from, name);
    const target = path.join(to, name);
    if (fs.statSync(source).isDirectory()) {
      copyTree(source, target, { dir: 0o750, file: (n) => (isSecret(n) ? 0o640 : 0o644) });
      continue;
    }
    let content = fs.readFileSync(source, 'utf8');
    if (fs.existsSync(target) && REPLACED_DEBIAN_FILES.includes(name) && !fs.existsSync(target + BACKUP_SUFFIX)) {
      fs.copyFileSync(target, target + BACKUP_SUFFIX);
      log(`kept ${target} as ${name}${BACKUP_SUFFIX}`);
    }
    if (name === 'credentials.json' && fs.existsSync(target)) {
      // Users already registered (Debian's file, or an earlier install) stay; the generated ones are set anew.
      const previous = (parseJsonWithComments(fs.readFileSync(target, 'utf8'), target) as { RegisteredUsers?: Record<string, string> }).RegisteredUsers ?? {};
      const generated = parseJsonWithComments(content, source) as { RegisteredUsers: Record<string, string> };
      const kept = Object.keys(previous).filter((u) => !(u in generated.RegisteredUsers));
      if (kept.length) {
        const header = content.split('\n').filter((l) => l.startsWith('//')).join('\n');
        content = `${header}\n// Kept from the file it replaced: ${kept.join(', ')}.\n` +
          JSON.stringify({ RegisteredUsers: { ...previous, ...generated.RegisteredUsers } }, null, 2) + '\n';
      }
    }
    fs.writeFileSync(target, content);
    fs.chmodSync(target, isSecret(name) && name !== 't3.json' ? 0o640 : 0o644);
  }
  log(`Orthanc configuration: ${to}`);
}

/** On the host itself (root /): the service user, and owners so that only it and root read its secrets. */
function setOwners(root: string, withConfig: boolean, log: (line: string) => void): void {
  const sysusers = run('systemd-sysusers', [path.join(root, LAYOUT.sysusers)]);
  if (!sysusers.ok && !run('getent', ['passwd', SERVICE_USER]).ok) {
    const useradd = run('useradd', ['--system', '--user-group', '--home-dir', DEFAULTS.stateDir, '--shell', '/usr/sbin/nologin', SERVICE_USER]);
    if (!useradd.ok) fail(`cannot create the user ${SERVICE_USER}: ${sysusers.output}; ${useradd.output}`);
  }
  log(`user: ${SERVICE_USER}`);
  const chown = (owner: string, target: string, recursive = false) => {
    const r = run('chown', [...(recursive ? ['-R'] : []), owner, target]);
    if (!r.ok) fail(`chown ${owner} ${target}: ${r.output}`);
  };
  chown(`${SERVICE_USER}:${SERVICE_USER}`, path.join(root, LAYOUT.stateDir));
  if (!withConfig) return;
  chown(`root:${SERVICE_USER}`, path.join(root, LAYOUT.sidecarDir), true);
  // Orthanc (Debian's service runs as orthanc) reads the plugin's token and key and the credentials.
  if (run('getent', ['group', 'orthanc']).ok) {
    chown('root:orthanc', path.join(root, LAYOUT.orthancDir, 't3-plugin'), true);
    chown('root:orthanc', path.join(root, LAYOUT.orthancDir, 'credentials.json'));
  }
}

export const installCommand: CliCommand = {
  name: 'install',
  summary: 'install the systemd service, the plugin and a make-config configuration (into --root for staging)',
  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ['config', 'root', 'package-dir'], flags: ['help'] });
    if (args.options.has('help')) {
      io.stdout.write(HELP);
      return ExitCode.ok;
    }
    if (args.positionals.length > 0) fail(`unexpected argument "${args.positionals[0]}" (orthanc-t3 install --help)`);
    const root = path.resolve(optionString(args, 'root') ?? '/');
    const onHost = root === '/';
    const packageDir = path.resolve(optionString(args, 'package-dir') ?? PACKAGE_DIR);
    if (!fs.existsSync(path.join(packageDir, 'bin', 'orthanc-t3'))) fail(`--package-dir ${packageDir}: no bin/orthanc-t3 there`);
    if (/^\/(home|root|run\/user)(\/|$)/.test(packageDir)) {
      fail(`the package is under ${packageDir.split('/').slice(0, 2).join('/')}, which the unit hides (ProtectHome=yes): put it elsewhere, e.g. /opt/orthanc-t3`);
    }
    const configOption = optionString(args, 'config');
    const config = configOption === undefined ? null : path.resolve(configOption);
    if (config && !(fs.existsSync(path.join(config, 'orthanc-t3', 't3.json')) && fs.existsSync(path.join(config, 'orthanc', 't3.json')))) {
      fail(`--config ${config}: not a folder written by orthanc-t3 make-config (orthanc/ and orthanc-t3/ expected)`);
    }
    if (onHost && process.getuid?.() !== 0) fail('installing on this host needs root (or --root DIR to stage an installation)');
    const log = (line: string) => io.stdout.write(`install: ${line}\n`);

    const at = (rel: string) => path.join(root, rel);
    fs.mkdirSync(path.dirname(at(LAYOUT.unit)), { recursive: true });
    fs.writeFileSync(at(LAYOUT.unit), renderUnit(packageDir), { mode: 0o644 });
    log(`unit: ${at(LAYOUT.unit)} (runs ${packageDir}/bin/orthanc-t3)`);
    fs.mkdirSync(path.dirname(at(LAYOUT.sysusers)), { recursive: true });
    fs.copyFileSync(path.join(PACKAGE_DIR, 'deploy', 'systemd', 'orthanc-t3.sysusers.conf'), at(LAYOUT.sysusers));
    fs.chmodSync(at(LAYOUT.sysusers), 0o644);
    fs.mkdirSync(at(LAYOUT.stateDir), { recursive: true });
    fs.chmodSync(at(LAYOUT.stateDir), 0o750);
    log(`state directory: ${at(LAYOUT.stateDir)}`);
    installPlugin(root, log);
    if (config) {
      copyTree(path.join(config, 'orthanc-t3'), at(LAYOUT.sidecarDir), { dir: 0o750, file: (n) => (isSecret(n) ? 0o640 : 0o644) });
      log(`sidecar configuration: ${at(LAYOUT.sidecarDir)}`);
      installOrthancPart(path.join(config, 'orthanc'), at(LAYOUT.orthancDir), log);
    }
    if (onHost) setOwners(root, config !== null, log);

    if (!fs.existsSync(path.join(at(LAYOUT.sidecarDir), 't3.json'))) {
      io.stdout.write(`install: no configuration in ${at(LAYOUT.sidecarDir)} yet: orthanc-t3 make-config --out DIR, then install --config DIR\n`);
      return ExitCode.ok;
    }
    // Absolute paths in the files are those of the final system: look for them under the root.
    const locate = (p: string) => (onHost || p.startsWith(root + '/') ? p : path.join(root, p));
    const ok = printCheck(await checkProductionConfig({
      orthancDir: at(LAYOUT.orthancDir),
      sidecarDir: at(LAYOUT.sidecarDir),
      locate,
      debianDir: null,
      pluginInstalled: true,
    }), io);
    if (ok) io.stdout.write('next: systemctl daemon-reload && systemctl enable --now orthanc-t3 && systemctl restart orthanc\n');
    return ok ? ExitCode.ok : ExitCode.usage;
  },
};
