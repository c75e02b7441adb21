/**
 * The Orthanc plugin's side: stubs generated from proto/ with Debian's protoc and grpc_python_plugin, used from
 * Debian's python3-grpcio, talk to the Node server (Classify with DICOM bytes, GetStatus, an optional field's
 * presence, and an error status).
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { T3Engine } from '../../src/engine';
import type { RunningGrpcServer } from '../../src/grpc';
import { ADMIN_TOKEN, BOTH_TOKEN, openDemoEngine, repoRoot, samplesDir, startTestServer } from './grpc-test-helpers';

let engine: T3Engine;
let server: RunningGrpcServer;
let stubs: string;

beforeAll(async () => {
  engine = await openDemoEngine();
  server = await startTestServer(engine);
  stubs = fs.mkdtempSync(path.join(os.tmpdir(), 't3-py-stubs-'));
  execFileSync('protoc', [
    '-I', path.join(repoRoot, 'proto'),
    `--python_out=${stubs}`,
    `--grpc_out=${stubs}`,
    '--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin',
    't3/v1/common.proto', 't3/v1/triage.proto', 't3/v1/admin.proto',
  ]);
});

afterAll(async () => {
  await server?.close();
  await engine?.close();
  fs.rmSync(stubs, { recursive: true, force: true });
});

const SCRIPT = `
import json, sys, grpc
from t3.v1 import triage_pb2, triage_pb2_grpc, admin_pb2, admin_pb2_grpc
port, token, admin_token, ct = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
channel = grpc.insecure_channel('127.0.0.1:' + port)
triage = triage_pb2_grpc.TriageServiceStub(channel)
admin = admin_pb2_grpc.AdminServiceStub(channel)
out = {}
with open(ct, 'rb') as f:
    request = triage_pb2.ClassifyRequest(images=[triage_pb2.ImageInput(name='ct', dicom=f.read())])
reply = triage.Classify(request, metadata=[('authorization', 'Bearer ' + token)], timeout=30)
image = reply.images[0]
out['top'] = image.predictions[0].label
out['has_applied_lambda'] = image.HasField('applied_lambda')
out['has_batch_lambda'] = reply.batches[0].HasField('batch_lambda')
out['priority'] = triage_pb2.ClassifyResponse.DESCRIPTOR.fields_by_name['triage'].message_type.fields_by_name['priority'].enum_type.values_by_number[reply.triage.priority].name
status = admin.GetStatus(admin_pb2.GetStatusRequest(), metadata=[('authorization', 'Bearer ' + admin_token)], timeout=10)
out['version'] = status.version
out['lanes'] = [q.lane for q in status.queues]
try:
    admin.GetStatus(admin_pb2.GetStatusRequest(), metadata=[('authorization', 'Bearer wrong-token-wrong-token')], timeout=10)
except grpc.RpcError as e:
    out['wrong_token'] = e.code().name
print(json.dumps(out))
`;

test('Debian python3-grpcio with stubs from Debian protoc calls the server', async () => {
  // Asynchronous: the server runs in this process and must keep serving while Python waits for it.
  const { stdout: output } = await promisify(execFile)('/usr/bin/python3', ['-c', SCRIPT, String(server.port), BOTH_TOKEN, ADMIN_TOKEN, path.join(samplesDir, 'pydicom_CT_small.dcm')], {
    cwd: stubs,
    env: { ...process.env, PYTHONPATH: stubs },
    encoding: 'utf8',
    timeout: 60000,
  });
  const result = JSON.parse(output.trim().split('\n').pop()!);
  expect(result.top).toEqual(expect.any(String));
  expect(result.has_applied_lambda).toBe(true);
  expect(result.has_batch_lambda).toBe(true);
  expect(result.priority).toMatch(/^PRIORITY_(ROUTINE|URGENT|EMERGENCY)$/);
  expect(result.version).toBe('test');
  expect(result.lanes).toContain('classify');
  expect(result.wrong_token).toBe('UNAUTHENTICATED');
});
