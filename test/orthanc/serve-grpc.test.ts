/**
 * The gRPC server that `orthanc-t3 serve` runs is the one the tests start (startSidecarGrpcServer): tokens from
 * T3_GRPC_TOKENS and from a token file reach it, a TLS file that cannot be read stops serve with the setting named,
 * and without the change feed GetStatus does not claim a connection to Orthanc.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { spawnServe } from '../helpers/serve-process';
import { ADMIN_TOKEN, TRIAGE_TOKEN, bearer, codeOf, connect, readSample, unary } from '../grpc/grpc-test-helpers';
import { makeTempDir, removeTempDirs, waitFor } from './harness';

jest.setTimeout(120000);

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  removeTempDirs();
});

function writeConfig(dir: string, grpcSection: Record<string, unknown>): string {
  const file = path.join(dir, 't3.json');
  // Nothing listens on this Orthanc port: with --no-follow, serve never calls it.
  fs.writeFileSync(file, JSON.stringify({ T3: { orthanc: { url: 'http://127.0.0.1:9' }, inference: { executionProviders: ['cpu'] }, metrics: { listen: '' }, grpc: grpcSection } }));
  return file;
}

test('serve takes tokens from T3_GRPC_TOKENS and a token file; GetStatus without the change feed says not connected', async () => {
  const dir = makeTempDir('t3-serve-grpc-');
  const tokenFile = path.join(dir, 'tokens.json');
  fs.writeFileSync(tokenFile, JSON.stringify({ tokens: [{ token: ADMIN_TOKEN, roles: ['admin'] }] }));
  const serve = spawnServe(writeConfig(dir, { listen: '127.0.0.1:0' }), { T3_GRPC_TOKENS: `${TRIAGE_TOKEN}=triage` }, ['--no-follow', '--grpc-token-file', tokenFile]);
  children.push(serve.child);
  const listening = await waitFor('the gRPC server to listen', () => serve.lines.find((l) => l.event === 'grpc-listening'), 90000);
  const clients = connect(listening.port as number);
  try {
    const status = await unary(clients.admin, 'GetStatus', {}, bearer(ADMIN_TOKEN));
    expect(status.follower).toMatchObject({ connected: false });
    const classified = await unary(clients.triage, 'Classify', { images: [{ name: 'ct', dicom: readSample('pydicom_CT_small.dcm') }] }, bearer(TRIAGE_TOKEN));
    expect(classified.images).toHaveLength(1);
    // The triage token has no admin role, and an unknown token gets nothing.
    expect((await codeOf(unary(clients.admin, 'GetStatus', {}, bearer(TRIAGE_TOKEN)))).code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await codeOf(unary(clients.admin, 'GetStatus', {}, bearer('not-a-configured-token-000000')))).code).toBe(grpc.status.UNAUTHENTICATED);
  } finally {
    clients.close();
  }
  serve.child.kill('SIGTERM');
  expect(await serve.exited).toBe(0);
});

test('a TLS certificate that cannot be read stops serve, naming the setting and the file', async () => {
  const dir = makeTempDir('t3-serve-tls-');
  const missing = path.join(dir, 'missing-cert.pem');
  const serve = spawnServe(writeConfig(dir, { listen: '127.0.0.1:0', tls: { certFile: missing, keyFile: missing }, tokens: [{ token: ADMIN_TOKEN, roles: ['admin'] }] }), {}, ['--no-follow']);
  children.push(serve.child);
  const code = await serve.exited;
  expect(code).not.toBe(0);
  const text = serve.lines.map((l) => (l.event === 'text' ? String(l.text) : JSON.stringify(l))).join('\n');
  expect(text).toContain('grpc.tls.certFile');
  expect(text).toContain(missing);
});
