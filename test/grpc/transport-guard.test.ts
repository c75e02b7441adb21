/**
 * What the server checks below grpc-js (src/grpc/transport-guard.ts), seen from clients outside it: Debian's
 * python3-grpcio with stubs from Debian's protoc (it sends a repeated `authorization` header as two, as the reviewer's
 * client did), a raw HTTP/2 client that holds a request open, and @grpc/grpc-js.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { T3Engine } from '../../src/engine';
import type { RunningGrpcServer } from '../../src/grpc';
import { ADMIN_TOKEN, bearer, codeOf, connect, openDemoEngine, readSample, repoRoot, startTestServer, TRIAGE_TOKEN, unary } from './grpc-test-helpers';

let engine: T3Engine;
let stubs: string;

beforeAll(async () => {
  engine = await openDemoEngine();
  stubs = fs.mkdtempSync(path.join(os.tmpdir(), 't3-py-guard-'));
  execFileSync('protoc', [
    '-I', path.join(repoRoot, 'proto'), `--python_out=${stubs}`, `--grpc_out=${stubs}`,
    '--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin', 't3/v1/common.proto', 't3/v1/triage.proto', 't3/v1/admin.proto',
  ]);
});

afterAll(async () => {
  await engine?.close();
  fs.rmSync(stubs, { recursive: true, force: true });
});

/** GetStatus from python3-grpcio with the given extra metadata; prints the status name and the seconds it took. */
const PY_GET_STATUS = `
import json, sys, time, grpc
from t3.v1 import admin_pb2, admin_pb2_grpc
port, metadata = sys.argv[1], json.loads(sys.argv[2])
stub = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel('127.0.0.1:' + port))
t0 = time.time()
try:
    stub.GetStatus(admin_pb2.GetStatusRequest(), metadata=[tuple(m) for m in metadata], timeout=10)
    code, details = 'OK', ''
except grpc.RpcError as e:
    code, details = e.code().name, e.details() or ''
print(json.dumps({'code': code, 'details': details, 'seconds': time.time() - t0}))
`;

async function pythonGetStatus(port: number, metadata: [string, string][]): Promise<{ code: string; details: string; seconds: number }> {
  const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', PY_GET_STATUS, String(port), JSON.stringify(metadata)], {
    cwd: stubs, env: { ...process.env, PYTHONPATH: stubs }, encoding: 'utf8', timeout: 30000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('headers', () => {
  let server: RunningGrpcServer;
  beforeAll(async () => {
    server = await startTestServer(engine);
  });
  afterAll(async () => server?.close());

  test('two authorization headers (a valid one, then a wrong one) are refused: UNAUTHENTICATED', async () => {
    const one = await pythonGetStatus(server.port, [['authorization', `Bearer ${ADMIN_TOKEN}`]]);
    expect(one.code).toBe('OK');
    const two = await pythonGetStatus(server.port, [['authorization', `Bearer ${ADMIN_TOKEN}`], ['authorization', 'Bearer wrong-token-wrong-token']]);
    expect(two).toMatchObject({ code: 'UNAUTHENTICATED', details: 'more than one authorization header' });
    const swapped = await pythonGetStatus(server.port, [['authorization', 'Bearer wrong-token-wrong-token'], ['authorization', `Bearer ${ADMIN_TOKEN}`]]);
    expect(swapped.code).toBe('UNAUTHENTICATED');
  });

  test('headers over the 16 KiB limit are refused at once: RESOURCE_EXHAUSTED, not a wait for the deadline', async () => {
    for (const size of [20 * 1024, 48 * 1024]) {
      const big = await pythonGetStatus(server.port, [['authorization', `Bearer ${ADMIN_TOKEN}`], ['x-padding', 'a'.repeat(size)]]);
      expect(big.code).toBe('RESOURCE_EXHAUSTED');
      // The client's deadline is 10 s; "at once" leaves a wide margin for a loaded machine.
      expect(big.seconds).toBeLessThan(5);
    }
    // From grpc-js too (it compresses headers differently), and the connection stays usable.
    const clients = connect(server.port);
    try {
      const md = bearer(ADMIN_TOKEN);
      md.set('x-padding', 'b'.repeat(20 * 1024));
      expect((await codeOf(unary(clients.admin, 'GetStatus', {}, md))).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect((await codeOf(unary(clients.admin, 'GetStatus', {}, bearer(ADMIN_TOKEN)))).code).toBe(grpc.status.OK);
    } finally {
      clients.close();
    }
  });
});

describe('request byte budget', () => {
  const MiB = 1024 * 1024;
  let server: RunningGrpcServer;
  beforeAll(async () => {
    server = await startTestServer(engine, { maxMessageBytes: 2 * MiB, maxRequestBytesInFlight: 2 * MiB });
  });
  afterAll(async () => server?.close(0));

  /** A Classify request that announces `bytes` and sends only its first part, then waits: its bytes stay held. */
  function holdRequest(bytes: number): { close: () => Promise<void> } {
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on('error', () => undefined);
    const stream = session.request({
      ':method': 'POST', ':path': '/t3.v1.TriageService/Classify', 'content-type': 'application/grpc', te: 'trailers',
      authorization: `Bearer ${TRIAGE_TOKEN}`,
    });
    stream.on('error', () => undefined);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(bytes, 1);
    stream.write(Buffer.concat([prefix, Buffer.alloc(1024)]));
    return {
      close: () => new Promise<void>((resolve) => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        session.close(() => resolve());
      }),
    };
  }

  test('a request that does not fit the bytes held is refused with RESOURCE_EXHAUSTED; it is served once they are given back', async () => {
    const clients = connect(server.port);
    const image = { images: [{ name: 'mr', dicom: readSample('pydicom_MR_small.dcm') }] };
    try {
      expect((await codeOf(unary(clients.triage, 'Classify', image, bearer(TRIAGE_TOKEN)))).code).toBe(grpc.status.OK);
      const held = holdRequest(2 * MiB - 1024);
      // Wait until the server has counted it (the first DATA frame is on its way).
      for (let i = 0; i < 200 && server.requestBytes.heldBytes === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(server.requestBytes.heldBytes).toBe(2 * MiB - 1024);

      const refused = await codeOf(unary(clients.triage, 'Classify', image, bearer(TRIAGE_TOKEN)));
      expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(refused.details).toMatch(/budget is 2097152/);
      expect(server.requestBytes.refusedTotal).toBe(1);

      await held.close();
      for (let i = 0; i < 200 && server.requestBytes.heldBytes > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(server.requestBytes.heldBytes).toBe(0);
      expect((await codeOf(unary(clients.triage, 'Classify', image, bearer(TRIAGE_TOKEN)))).code).toBe(grpc.status.OK);
      expect(server.requestBytes.heldBytes).toBe(0);
    } finally {
      clients.close();
    }
  });

  test('a budget smaller than the largest message is refused at start', async () => {
    await expect(startTestServer(engine, { maxMessageBytes: 4 * MiB, maxRequestBytesInFlight: 2 * MiB })).rejects.toThrow(/at least the largest message/);
  });
});
