/**
 * deploy/ (docker compose, Kubernetes, Dockerfiles) parsed and checked against the code: environment variables the
 * config loader knows, ports and probe paths the sidecar serves, the serve command's options, the image entry point,
 * and Orthanc configuration that agrees with orthanc-config/ and the metadata the sidecar writes. Docker and
 * Kubernetes do not run here; these are static checks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import YAML from 'yaml';
import { ENV_BINDINGS, loadSidecarConfig, parseJsonWithComments, type SidecarConfig } from '../../src/config';
import { demoBundleDir, loadBundle } from '../../src/engine';
import { CLAIM_METADATA, TRIAGE_METADATA } from '../../src/orthanc';
import { serveCommand } from '../../src/cli/serve';
import { renderConfigMaps } from '../../deploy/generate-configmaps';

const repoRoot = path.resolve(__dirname, '..', '..');
const deployDir = path.join(repoRoot, 'deploy');
type Obj = Record<string, any>;

function yamlDocs(file: string): Obj[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(deployDir, file), 'utf8'));
  for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS() as Obj).filter((d) => d !== null);
}

function jsonc(file: string): Obj {
  return parseJsonWithComments(fs.readFileSync(file, 'utf8'), file) as Obj;
}

const k8s = ['secret.example.yaml', 'configmaps.yaml', 'postgres.yaml', 'orthanc.yaml', 'sidecar.yaml'].flatMap((f) => yamlDocs(path.join('k8s', f)));
const find = (kind: string, name: string) => {
  const doc = k8s.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!doc) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return doc;
};
const compose = yamlDocs('compose.yaml')[0];
const envNames = new Set(ENV_BINDINGS.map((b) => b.name));
const portOf = (hostPort: string) => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));

/** Dockerfile instructions (continuation lines joined). */
function dockerfile(name: string): { op: string; args: string }[] {
  const text = fs.readFileSync(path.join(deployDir, name), 'utf8').replace(/\\\n/g, ' ');
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  });
}

/** COPY arguments: every source (relative to the build context, the repository root) and the destination. */
function copyArgs(args: string): { sources: string[]; dest: string } {
  const parts = args.split(/\s+/);
  return { sources: parts.slice(0, -1), dest: parts[parts.length - 1] };
}

/**
 * The image's files as the Dockerfile's COPY steps lay them out, written under a temp folder (`root` stands for the
 * image's /), so what the container reads can be checked against what the Dockerfile actually copies.
 */
function imageFiles(name: string): { root: string; workdir: string } {
  const steps = dockerfile(name);
  const workdir = steps.find((s) => s.op === 'WORKDIR')!.args;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'orthanc-t3-image-'));
  for (const step of steps.filter((s) => s.op === 'COPY')) {
    const { sources, dest } = copyArgs(step.args);
    const target = path.join(root, path.posix.resolve(workdir, dest));
    for (const source of sources) {
      const from = path.join(repoRoot, source);
      // A folder's contents go into dest; a file goes into dest when dest is a folder ("…/" or several sources).
      if (fs.statSync(from).isDirectory()) fs.cpSync(from, target, { recursive: true });
      else if (dest.endsWith('/') || sources.length > 1) fs.cpSync(from, path.join(target, path.basename(source)));
      else fs.cpSync(from, target);
    }
  }
  return { root, workdir };
}

/** The folder of the bundle a configuration routes to by default; "demo" names the bundle shipped with the code. */
function defaultBundleDir(config: SidecarConfig): string {
  const entry = config.bundles.find((b) => b.name === config.routing.defaultBundle);
  if (!entry) throw new Error(`routing.defaultBundle ${config.routing.defaultBundle} names no bundle`);
  return entry.dir === 'demo' ? demoBundleDir() : entry.dir;
}

/** Read by `serve` itself rather than the config loader. */
const SERVE_ENV = new Set(['T3_GRPC_TOKEN_FILE', 'T3_GRPC_TOKENS']);

function sidecarConfigFromEnv(env: Record<string, string>) {
  const serveSource = fs.readFileSync(path.join(repoRoot, 'src', 'cli', 'serve.ts'), 'utf8');
  for (const name of SERVE_ENV) expect(serveSource).toContain(`process.env.${name}`);
  for (const name of Object.keys(env)) expect(envNames.has(name) || SERVE_ENV.has(name) ? name : `unknown env ${name}`).toBe(name);
  return loadSidecarConfig({ configPath: path.join(repoRoot, 'orthanc-config'), env }).config;
}

/**
 * The sidecar listens off loopback, so it serves TLS, mutual (client CA) and takes its tokens from a file; the plugin
 * trusts that CA, presents a certificate and reads its token from a file; every variable is one the plugin reads.
 */
function expectPluginOverMutualTls(pluginEnv: Record<string, string>, sidecarEnv: Record<string, string>): void {
  expect(sidecarEnv.T3_GRPC_LISTEN.startsWith('0.0.0.0:')).toBe(true);
  for (const name of ['T3_GRPC_TLS_CERT_FILE', 'T3_GRPC_TLS_KEY_FILE', 'T3_GRPC_TLS_CLIENT_CA_FILE', 'T3_GRPC_TOKEN_FILE']) expect(sidecarEnv[name]).toMatch(/^\//);
  const pluginNames = ['T3_PLUGIN_SIDECAR_ADDRESS', 'T3_PLUGIN_TLS_CA_FILE', 'T3_PLUGIN_TLS_CERT_FILE', 'T3_PLUGIN_TLS_KEY_FILE', 'T3_PLUGIN_TOKEN_FILE'];
  const channel = fs.readFileSync(path.join(repoRoot, 'orthanc-config', 'plugin', 't3_sidecar_channel.py'), 'utf8');
  for (const name of pluginNames) {
    expect(pluginEnv[name]).toBeTruthy();
    expect(channel).toContain(`environ.get('${name}')`);
  }
  // Same folder layout on both sides (deploy/make-pki.sh): the plugin's CA is the one the sidecar's client CA is.
  expect(path.posix.basename(pluginEnv.T3_PLUGIN_TLS_CA_FILE)).toBe(path.posix.basename(sidecarEnv.T3_GRPC_TLS_CLIENT_CA_FILE));
}

describe('Kubernetes manifests', () => {
  const deployment = find('Deployment', 'orthanc-t3-sidecar');
  const container = deployment.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const e of container.env) env[e.name] = e.value ?? (e.valueFrom?.secretKeyRef ? 'from-secret' : e.valueFrom?.fieldRef ? 'sidecar-0' : '');
  const containerPort = (name: string) => container.ports.find((p: Obj) => p.name === name)?.containerPort;

  test('every manifest parses, and kustomization lists every file', () => {
    expect(k8s.length).toBeGreaterThanOrEqual(8);
    const kustomization = yamlDocs('k8s/kustomization.yaml')[0];
    const files = fs.readdirSync(path.join(deployDir, 'k8s')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    expect([...kustomization.resources].sort()).toEqual(files);
  });

  test('the sidecar env is known to the config loader and gives a valid shared-mode configuration', () => {
    const config = sidecarConfigFromEnv(env);
    expect(config.coordination.mode).toBe('shared');
    expect(config.coordination.workerId).toBe('sidecar-0');
    expect(config.orthanc.url).toBe('http://orthanc:8042');
    // Probes and ports agree with what the sidecar listens on.
    expect(containerPort('metrics')).toBe(portOf(config.metrics.listen));
    expect(containerPort('grpc')).toBe(portOf(config.grpc.listen));
    expect(config.metrics.listen.startsWith('0.0.0.0:')).toBe(true);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'metrics' });
  });

  test('the probe paths are the ones the serve command answers', () => {
    const serveSource = fs.readFileSync(path.join(repoRoot, 'src', 'cli', 'serve.ts'), 'utf8');
    for (const p of ['/readyz', '/livez', '/metrics']) expect(serveSource).toContain(`req.url === '${p}'`);
  });

  test('the sidecar asks for a GPU and mounts t3.json where --config points', () => {
    expect(String(container.resources.requests['nvidia.com/gpu'])).toBe('1');
    expect(String(container.resources.limits['nvidia.com/gpu'])).toBe('1');
    expect(container.args.slice(0, 2)).toEqual(['serve', '--config']);
    const mount = container.volumeMounts.find((m: Obj) => m.name === 'config');
    expect(mount.mountPath).toBe(container.args[2]);
    const volume = deployment.spec.template.spec.volumes.find((v: Obj) => v.name === 'config');
    expect(volume.configMap.items).toEqual([{ key: 't3.json', path: 't3.json' }]);
  });

  test('ConfigMaps are generated from orthanc-config/ and deploy/orthanc/ and are current', () => {
    expect(fs.readFileSync(path.join(deployDir, 'k8s', 'configmaps.yaml'), 'utf8')).toBe(renderConfigMaps());
    const cm = find('ConfigMap', 'orthanc-t3-config');
    expect(cm.data['t3.json']).toBe(fs.readFileSync(path.join(repoRoot, 'orthanc-config', 't3.json'), 'utf8'));
  });

  test('services target named container ports; the plugin reaches the sidecar service', () => {
    const sidecarService = find('Service', 'orthanc-t3-sidecar');
    for (const p of sidecarService.spec.ports) expect(containerPort(p.targetPort)).toBe(p.port);
    const orthanc = find('Deployment', 'orthanc').spec.template.spec.containers[0];
    const orthancPorts = Object.fromEntries(orthanc.ports.map((p: Obj) => [p.name, p.containerPort]));
    for (const p of find('Service', 'orthanc').spec.ports) expect(orthancPorts[p.targetPort]).toBe(p.port);
    const pluginAddress = orthanc.env.find((e: Obj) => e.name === 'T3_PLUGIN_SIDECAR_ADDRESS').value;
    expect(pluginAddress).toBe(`orthanc-t3-sidecar:${containerPort('grpc')}`);
    expectPluginOverMutualTls(Object.fromEntries(orthanc.env.map((e: Obj) => [e.name, e.value])), env);
    // The files come from the Secrets deploy/make-pki.sh's output goes into, mounted where the env points.
    const sidecarSpec = deployment.spec.template.spec;
    expect(sidecarSpec.volumes.find((v: Obj) => v.name === 'grpc-tls').secret.secretName).toBe('orthanc-t3-sidecar-grpc');
    expect(container.volumeMounts.find((m: Obj) => m.name === 'grpc-tls').mountPath).toBe('/etc/orthanc-t3-grpc');
    const orthancSpec = find('Deployment', 'orthanc').spec.template.spec;
    expect(orthancSpec.volumes.find((v: Obj) => v.name === 'grpc-tls').secret.secretName).toBe('orthanc-t3-plugin-grpc');
    expect(orthanc.volumeMounts.find((m: Obj) => m.name === 'grpc-tls').mountPath).toBe('/etc/orthanc-t3-grpc');
    for (const name of ['orthanc-t3-sidecar-grpc', 'orthanc-t3-plugin-grpc']) expect(find('Secret', name)).toBeDefined();
    // Orthanc's config folder is the ConfigMap, with secrets.json from the Secret beside it.
    const mounts = Object.fromEntries(orthanc.volumeMounts.map((m: Obj) => [m.name, m]));
    expect(mounts.config.mountPath).toBe(orthanc.args[1].replace(/\/$/, ''));
    expect(mounts.secrets.mountPath).toBe(`${mounts.config.mountPath}/secrets.json`);
  });

  test('the Secret holds the PostgreSQL section matching the postgres service', () => {
    const secret = find('Secret', 'orthanc-t3-secrets');
    const secrets = JSON.parse(secret.stringData['secrets.json']);
    const pgService = find('Service', 'postgres');
    expect(secrets.PostgreSQL.Host).toBe(pgService.metadata.name);
    expect(secrets.PostgreSQL.Port).toBe(pgService.spec.ports[0].port);
    expect(secrets.PostgreSQL.Password).toBe(secret.stringData['postgres-password']);
    expect(secrets.PostgreSQL.Lock).toBe(false);
    expect(secrets.RegisteredUsers[secret.stringData['orthanc-username']]).toBe(secret.stringData['orthanc-password']);
  });
});

describe('Orthanc configuration for containers', () => {
  const deployed = jsonc(path.join(deployDir, 'orthanc', 'orthanc.json'));
  const repoOrthanc = jsonc(path.join(repoRoot, 'orthanc-config', 'orthanc.json'));
  const t3 = jsonc(path.join(repoRoot, 'orthanc-config', 't3.json'));
  const secrets = jsonc(path.join(deployDir, 'orthanc', 'secrets.example.json'));

  test('UserMetadata matches orthanc-config/ and every entry the sidecar writes, the claim included', () => {
    expect(deployed.UserMetadata).toEqual(repoOrthanc.UserMetadata);
    const written: Record<string, number> = { [CLAIM_METADATA.name]: CLAIM_METADATA.index };
    for (const m of Object.values(TRIAGE_METADATA)) written[m.name] = m.index;
    expect(deployed.UserMetadata).toEqual(written);
  });

  test('shared mode needs revisions and the PostgreSQL index; no key is in two files of the folder', () => {
    expect(deployed.CheckRevisions).toBe(true);
    expect(deployed.Plugins).toContain('/usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so');
    expect(secrets.PostgreSQL.EnableIndex).toBe(true);
    const keys = [deployed, t3, secrets].flatMap((o) => Object.keys(o));
    expect(new Set(keys).size).toBe(keys.length);
    const k8sSecret = JSON.parse(find('Secret', 'orthanc-t3-secrets').stringData['secrets.json']);
    expect(Object.keys(k8sSecret).sort()).toEqual(Object.keys(secrets).sort());
  });

  test('plugins are the Debian package paths (present here when the packages are installed)', () => {
    for (const p of deployed.Plugins as string[]) {
      expect(p.startsWith('/usr/share/orthanc/plugins/')).toBe(true);
      if (fs.existsSync('/usr/share/orthanc/plugins')) expect(fs.existsSync(p) ? p : `missing ${p}`).toBe(p);
    }
    const installer = fs.readFileSync(path.join(repoRoot, 'scripts', 'install-debian-packages.sh'), 'utf8');
    expect(installer).toMatch(/\bpostgresql\b/);
    expect(installer).toMatch(/\borthanc-postgresql\b/);
  });

  test('the Orthanc image installs the PostgreSQL plugin and puts the plugin script where PythonScript points', () => {
    const steps = dockerfile('orthanc.Dockerfile');
    const run = steps.filter((s) => s.op === 'RUN').map((s) => s.args).join(' ');
    for (const pkg of ['orthanc', 'orthanc-postgresql', 'orthanc-python', 'python3-grpcio']) expect(run).toMatch(new RegExp(`\\s${pkg}\\s`));
    const copies = steps.filter((s) => s.op === 'COPY').map((s) => s.args.split(/\s+/));
    for (const [src] of copies) expect(fs.existsSync(path.join(repoRoot, src)) ? src : `missing ${src}`).toBe(src);
    const pluginCopy = copies.find(([src]) => src === 'orthanc-config/plugin/')!;
    expect(deployed.PythonScript).toBe(path.posix.join(pluginCopy[1], 't3_plugin.py'));
    const expose = steps.find((s) => s.op === 'EXPOSE')!.args.split(/\s+/).map(Number);
    expect(expose).toEqual([deployed.HttpPort, deployed.DicomPort]);
    expect(JSON.parse(steps.find((s) => s.op === 'CMD')!.args)).toEqual(['Orthanc', '/etc/orthanc-t3/']);
  });
});

describe('sidecar image and docker compose', () => {
  const steps = dockerfile('sidecar.Dockerfile');

  test('entry point is the package bin, command is serve with options serve knows; the image has the bin\'s jemalloc', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    const entry = JSON.parse(steps.find((s) => s.op === 'ENTRYPOINT')!.args);
    expect(entry).toEqual([`/app/${pkg.bin['orthanc-t3']}`]);
    expect(steps.some((s) => s.op === 'RUN' && /apt-get install .*\blibjemalloc2\b/.test(s.args))).toBe(true);
    const cmd = JSON.parse(steps.find((s) => s.op === 'CMD')!.args);
    expect(cmd[0]).toBe(serveCommand.name);
    const out = new PassThrough();
    let help = '';
    out.on('data', (d: Buffer) => (help += d.toString()));
    await serveCommand.run(['--help'], { stdin: new PassThrough(), stdout: out, stderr: new PassThrough() });
    for (const option of cmd.slice(1).filter((a: string) => a.startsWith('--'))) expect(help).toContain(`${option} `);
    for (const src of steps.filter((s) => s.op === 'COPY').flatMap((s) => copyArgs(s.args).sources)) {
      expect(fs.existsSync(path.join(repoRoot, src)) ? src : `missing ${src}`).toBe(src);
    }
  });

  test('the bundle the container routes to by default is in the image and loads from what the image holds', async () => {
    const envLine = steps.find((s) => s.op === 'ENV' && s.args.includes('T3_'))!.args;
    const env = Object.fromEntries(envLine.split(/\s+/).filter(Boolean).map((kv) => kv.split('=') as [string, string]));
    const { root, workdir } = imageFiles('sidecar.Dockerfile');
    try {
      // The image alone (no configuration mounted) and with compose's t3.json mounted.
      for (const config of [loadSidecarConfig({ env }).config, sidecarConfigFromEnv(env)]) {
        const inRepo = defaultBundleDir(config);
        // The code runs from WORKDIR with the repository's layout, so demoBundleDir() lands at the same relative place.
        const relative = path.relative(repoRoot, inRepo);
        expect(relative.startsWith('..') ? `outside the repository: ${inRepo}` : relative).toBe(relative);
        const inImage = await loadBundle(path.join(root, workdir, relative));
        expect(inImage.manifest).toEqual((await loadBundle(inRepo)).manifest);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('image defaults: env known to the loader, exposed ports are the listen ports', () => {
    const envLine = steps.find((s) => s.op === 'ENV' && s.args.includes('T3_'))!.args;
    const env = Object.fromEntries(envLine.split(/\s+/).filter(Boolean).map((kv) => kv.split('=') as [string, string]));
    const config = sidecarConfigFromEnv(env);
    const expose = steps.find((s) => s.op === 'EXPOSE')!.args.split(/\s+/).map(Number);
    expect(expose).toEqual([portOf(config.grpc.listen), portOf(config.metrics.listen)]);
    const health = JSON.parse(steps.find((s) => s.op === 'HEALTHCHECK')!.args.replace(/^.*?CMD\s+/, ''));
    expect(health.join(' ')).toContain(`:${portOf(config.metrics.listen)}/readyz`);
  });

  test('compose: Orthanc on PostgreSQL, N sidecars in shared mode, ports and health checks agree', () => {
    const { postgres, orthanc, sidecar } = compose.services;
    expect(sidecar.deploy.replicas).toBeGreaterThan(1);
    const config = sidecarConfigFromEnv(sidecar.environment);
    expect(config.coordination.mode).toBe('shared');
    const deployed = jsonc(path.join(deployDir, 'orthanc', 'orthanc.json'));
    expect(new URL(config.orthanc.url).hostname).toBe('orthanc');
    expect(Number(new URL(config.orthanc.url).port)).toBe(deployed.HttpPort);
    expect(orthanc.ports).toContain(`${deployed.HttpPort}:${deployed.HttpPort}`);
    expect(orthanc.ports).toContain(`${deployed.DicomPort}:${deployed.DicomPort}`);
    expect(sidecar.expose.map(Number)).toEqual([portOf(config.grpc.listen), portOf(config.metrics.listen)]);
    expect(sidecar.healthcheck.test.join(' ')).toContain(`:${portOf(config.metrics.listen)}/readyz`);
    expect(orthanc.environment.T3_PLUGIN_SIDECAR_ADDRESS).toBe(`sidecar:${portOf(config.grpc.listen)}`);
    expectPluginOverMutualTls(orthanc.environment, sidecar.environment);
    expect(orthanc.volumes).toContain('./pki/plugin:/etc/orthanc-t3-grpc:ro');
    expect(sidecar.volumes).toContain('./pki/sidecar:/etc/orthanc-t3-grpc:ro');
    // Credentials: the sidecar's Orthanc user is registered, PostgreSQL settings match the postgres service.
    const secrets = jsonc(path.join(deployDir, 'orthanc', 'secrets.example.json'));
    expect(secrets.RegisteredUsers[config.orthanc.username!]).toBe(config.orthanc.password);
    expect(secrets.PostgreSQL.Host).toBe('postgres');
    expect(secrets.PostgreSQL.Database).toBe(postgres.environment.POSTGRES_DB);
    expect(secrets.PostgreSQL.Username).toBe(postgres.environment.POSTGRES_USER);
    expect(secrets.PostgreSQL.Password).toBe(postgres.environment.POSTGRES_PASSWORD);
    // The sidecar's --config folder holds t3.json.
    expect(sidecar.command).toEqual(['serve', '--config', '/etc/orthanc-t3']);
    expect(sidecar.volumes).toContain('../orthanc-config/t3.json:/etc/orthanc-t3/t3.json:ro');
    for (const build of [orthanc.build, sidecar.build]) expect(fs.existsSync(path.join(deployDir, build.context, build.dockerfile))).toBe(true);
    const gpu = yamlDocs('compose.gpu.yaml')[0];
    expect(gpu.services.sidecar.deploy.resources.reservations.devices[0].capabilities).toEqual(['gpu']);
  });
});
