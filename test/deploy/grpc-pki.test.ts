/**
 * The deploy/ topologies' link between Orthanc's plugin and the sidecars, with what deploy/make-pki.sh writes: the
 * sidecar configured the way compose and Kubernetes configure it (T3_GRPC_TLS_* and a token file, listening on all
 * interfaces), and the plugin's own channel code (orthanc-config/plugin/t3_sidecar_channel.py, Debian's python3-grpcio)
 * configured by the T3_PLUGIN_* variables the manifests set. Also: the plugin refuses plaintext off loopback.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadSidecarConfig } from '../../src/config';
import type { T3Engine } from '../../src/engine';
import { resolveGrpcSettings, type RunningGrpcServer } from '../../src/grpc';
import { openDemoEngine, repoRoot, startTestServer } from '../grpc/grpc-test-helpers';

let engine: T3Engine;
let server: RunningGrpcServer;
let work: string;
const pluginDir = path.join(repoRoot, 'orthanc-config', 'plugin');

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 't3-deploy-pki-'));
  execFileSync(path.join(repoRoot, 'deploy', 'make-pki.sh'), [path.join(work, 'pki')], { stdio: 'pipe' });
  execFileSync('protoc', [
    '-I', path.join(repoRoot, 'proto'), `--python_out=${work}`, `--grpc_out=${work}`,
    '--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin', 't3/v1/common.proto', 't3/v1/triage.proto', 't3/v1/admin.proto',
  ]);
  const sidecarFiles = path.join(work, 'pki', 'sidecar');
  const { config } = loadSidecarConfig({
    configPath: path.join(repoRoot, 'orthanc-config'),
    env: {
      T3_GRPC_LISTEN: '0.0.0.0:0',
      T3_GRPC_TLS_CERT_FILE: path.join(sidecarFiles, 'tls.crt'),
      T3_GRPC_TLS_KEY_FILE: path.join(sidecarFiles, 'tls.key'),
      T3_GRPC_TLS_CLIENT_CA_FILE: path.join(sidecarFiles, 'ca.crt'),
    },
  });
  const settings = await resolveGrpcSettings(config.grpc, { tokenFile: path.join(sidecarFiles, 'tokens.json') });
  engine = await openDemoEngine();
  server = await startTestServer(engine, { listen: settings.listen, security: settings.security, tokens: settings.tokens });
});

afterAll(async () => {
  await server?.close();
  await engine?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const SCRIPT = `
import json, os, sys, grpc
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from t3_sidecar_channel import SidecarSettings, SettingsError
from t3.v1 import admin_pb2, admin_pb2_grpc
out = {}
settings = SidecarSettings({}, os.environ, sys.argv[1])
out['describe'] = settings.describe()
stub = admin_pb2_grpc.AdminServiceStub(settings.open_channel(grpc))
status = stub.GetStatus(admin_pb2.GetStatusRequest(), metadata=[('authorization', 'Bearer ' + settings.bearer_token())], timeout=20)
out['version'] = status.version
no_cert = dict(os.environ); del no_cert['T3_PLUGIN_TLS_CERT_FILE']; del no_cert['T3_PLUGIN_TLS_KEY_FILE']
try:
    admin_pb2_grpc.AdminServiceStub(SidecarSettings({}, no_cert, sys.argv[1]).open_channel(grpc)).GetStatus(
        admin_pb2.GetStatusRequest(), metadata=[('authorization', 'Bearer ' + settings.bearer_token())], timeout=5)
    out['without_client_cert'] = 'OK'
except grpc.RpcError as e:
    out['without_client_cert'] = e.code().name
try:
    SidecarSettings({'sidecarAddress': 'sidecar:50051'}, {}, sys.argv[1]).open_channel(grpc)
    out['plaintext_off_loopback'] = 'opened'
except SettingsError as e:
    out['plaintext_off_loopback'] = str(e)
print(json.dumps(out))
`;

test('the plugin reaches a sidecar on all interfaces over mutual TLS with make-pki.sh output; no client certificate, no call', async () => {
  const pluginFiles = path.join(work, 'pki', 'plugin');
  const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', SCRIPT, pluginDir, work], {
    env: {
      ...process.env,
      // The certificate names "localhost" and 127.0.0.1 besides the service names "sidecar" and "orthanc-t3-sidecar".
      T3_PLUGIN_SIDECAR_ADDRESS: `localhost:${server.port}`,
      T3_PLUGIN_TLS_CA_FILE: path.join(pluginFiles, 'ca.crt'),
      T3_PLUGIN_TLS_CERT_FILE: path.join(pluginFiles, 'tls.crt'),
      T3_PLUGIN_TLS_KEY_FILE: path.join(pluginFiles, 'tls.key'),
      T3_PLUGIN_TOKEN_FILE: path.join(pluginFiles, 'token'),
    },
    encoding: 'utf8',
    timeout: 60000,
  });
  const out = JSON.parse(stdout.trim().split('\n').pop()!);
  expect(out.describe).toBe(`localhost:${server.port} (mTLS, token set)`);
  expect(out.version).toBe('test');
  expect(out.without_client_cert).toBe('UNAVAILABLE');
  expect(out.plaintext_off_loopback).toMatch(/T3\.plugin\.tls: the sidecar at sidecar:50051 is not on this machine/);
});
