/**
 * Shared pieces of the gRPC tests: the real demo-bundle engine, a real server on port 0 over loopback, real
 * @grpc/grpc-js clients, and certificates made with Debian's openssl.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { demoBundleDir, loadBundle, T3Engine } from '../../src/engine';
import { ClassifyCall, type ClassifierSettings } from '../../src/pipeline';
import {
  loadT3Protos,
  PipelineBackend,
  type AdminServiceClient,
  type TriageServiceClient,
  startGrpcServer,
  TokenTable,
  type GrpcServerOptions,
  type RunningGrpcServer,
  type StudyOperations,
  type TransportSecurity,
} from '../../src/grpc';
import type { TriageConfig } from '../../src/report';
import { samplePath } from '../helpers/samples';

export const repoRoot = path.resolve(__dirname, '..', '..');
export { samplesDir, sampleNames } from '../helpers/samples';

export const TRIAGE_TOKEN = 'triage-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef01';
export const BOTH_TOKEN = 'both-token-0123456789abcdef0123';

export function testTokens(): TokenTable {
  return new TokenTable([
    { token: TRIAGE_TOKEN, roles: ['triage'] },
    { token: ADMIN_TOKEN, roles: ['admin'] },
    { token: BOTH_TOKEN, roles: ['triage', 'admin'] },
  ]);
}

export const TEST_TRIAGE_CONFIG: TriageConfig = {
  rules: [
    { code: '36118008', threshold: 0.5, priority: 'emergency' },
    { code: '60046008', threshold: 0.6, priority: 'urgent' },
  ],
  disagreement: { jsThreshold: 0.3 },
};

export const TEST_BATCH_SIZE = 32;
export const TEST_FRAMES = 'middle' as const;

export async function openDemoEngine(): Promise<T3Engine> {
  return T3Engine.open(await loadBundle(demoBundleDir()), { executionProviders: ['cpu'] });
}

export function makeBackend(engine: T3Engine, studies: StudyOperations | null = null, settings: Partial<ClassifierSettings> = {}): PipelineBackend {
  const classifier = new ClassifyCall({
    engines: () => new Map([[engine.bundle.manifest.name, engine]]),
    settings: () => ({
      batchSize: TEST_BATCH_SIZE,
      defaultPolicy: 't3b',
      defaultWiseAlpha: 0.5,
      defaultFrames: TEST_FRAMES,
      triage: TEST_TRIAGE_CONFIG,
      ...settings,
    }),
  });
  return new PipelineBackend({ classifier, studies, version: 'test' });
}

export async function startTestServer(
  engine: T3Engine,
  overrides: Partial<GrpcServerOptions> = {},
): Promise<RunningGrpcServer> {
  return startGrpcServer({
    listen: '127.0.0.1:0',
    security: { kind: 'plaintext' },
    tokens: testTokens(),
    backend: makeBackend(engine),
    onInternalError: (method, err) => {
      // Visible in the test output: an INTERNAL answer in these tests is a bug.
      console.error(`INTERNAL in ${method}:`, err);
    },
    ...overrides,
  });
}

const protos = loadT3Protos();

export interface TestClients {
  triage: TriageServiceClient;
  admin: AdminServiceClient;
  close(): void;
}

export function connect(
  port: number,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): TestClients {
  const address = `127.0.0.1:${port}`;
  const triage = new protos.triageService(address, credentials, options);
  const admin = new protos.adminService(address, credentials, options);
  return {
    triage,
    admin,
    close() {
      triage.close();
      admin.close();
    },
  };
}

export function bearer(token: string | null): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== null) md.set('authorization', `Bearer ${token}`);
  return md;
}

/**
 * A generated client method's shortest overload, `(request, callback)`: TypeScript matches conditional types against
 * the last overload, which is this one, so the request and response types come from the generated client.
 */
type UnaryCallShape<Req, Res> = (argument: Req, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;
/** The names of the unary methods of a generated client (streaming methods and grpc.Client's own are left out). */
export type UnaryMethod<C> = { [M in keyof C]: C[M] extends UnaryCallShape<any, any> ? M : never }[keyof C] & string;
export type RequestOf<C, M extends keyof C> = C[M] extends UnaryCallShape<infer Req, any> ? Req : never;
export type ResponseOf<C, M extends keyof C> = C[M] extends UnaryCallShape<any, infer Res> ? Res : never;
/**
 * A response as the assertions read it: message fields (null when the server leaves them unset) and proto3 optional
 * fields are typed as present, since reading an unset one fails the test at that line anyway; the field names and
 * scalar types stay the generated ones, so a misspelt field is still a compile error.
 */
export type Answer<T> = T extends Buffer | string | number | boolean
  ? T
  : T extends (infer E)[]
    ? Answer<E>[]
    : { [K in keyof T]-?: Answer<NonNullable<T[K]>> };

type FullUnaryCall = (argument: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<unknown>) => grpc.ClientUnaryCall;

/** A unary call as a promise; rejects with the ServiceError (code, details). Request and response are the generated types. */
export function unary<C extends grpc.Client, M extends UnaryMethod<C>>(
  client: C,
  method: M,
  request: RequestOf<C, M>,
  metadata: grpc.Metadata,
  options: grpc.CallOptions = {},
): Promise<Answer<ResponseOf<C, M>>> {
  return unaryUnchecked(client, method, request, metadata, options) as Promise<Answer<ResponseOf<C, M>>>;
}

/**
 * The same call for requests the generated types refuse on purpose (values outside an enum, wrong field types): the
 * tests of how the server answers a client that does not use these types.
 */
export function unaryUnchecked(
  client: grpc.Client,
  method: string,
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions = {},
): Promise<unknown> {
  const call = (client as unknown as Record<string, FullUnaryCall>)[method];
  return new Promise((resolve, reject) => {
    call.call(client, request, metadata, options, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

/** The status code a call ended with (OK = 0). */
export async function codeOf(call: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await call;
    return { code: grpc.status.OK, details: '' };
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
}

export function readSample(name: string): Buffer {
  return fs.readFileSync(samplePath(name));
}

export interface TestPki {
  dir: string;
  caCert: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** A CA nobody else uses (a client trusting only it must not accept the server). */
  rogueCaCert: Buffer;
  /** A client certificate from a CA the server does not trust. */
  rogueClientCert: Buffer;
  rogueClientKey: Buffer;
  remove(): void;
}

/** A CA, a server certificate for 127.0.0.1/localhost and client certificates, made with openssl. */
export function makeTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't3-grpc-pki-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => {
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
  };
  const leaf = (name: string, caName: string, ext: string) => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial',
      '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
  };
  ca('test-ca');
  ca('rogue-ca');
  leaf('server', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  leaf('rogue-client', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string) => fs.readFileSync(path.join(dir, f));
  return {
    dir,
    caCert: read('test-ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    rogueCaCert: read('rogue-ca.crt'),
    rogueClientCert: read('rogue-client.crt'),
    rogueClientKey: read('rogue-client.key'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export function tlsSecurity(pki: TestPki, mutual: boolean): TransportSecurity {
  return { kind: 'tls', tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: mutual ? pki.caCert : null } };
}
