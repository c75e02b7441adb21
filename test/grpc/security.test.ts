/**
 * Authentication, roles, TLS and mutual TLS with certificates made by openssl, the plaintext guard, and the
 * standard health and reflection services, all over real connections to a real server.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { T3Engine } from '../../src/engine';
import { ListenConfigError, resolveGrpcSettings, startGrpcServer, TokenTable, type RunningGrpcServer } from '../../src/grpc';
import {
  ADMIN_TOKEN,
  bearer,
  BOTH_TOKEN,
  codeOf,
  connect,
  makeBackend,
  makeTestPki,
  openDemoEngine,
  readSample,
  startTestServer,
  testTokens,
  tlsSecurity,
  TRIAGE_TOKEN,
  unary,
  type TestClients,
  type TestPki,
} from './grpc-test-helpers';

let engine: T3Engine;
let pki: TestPki;

beforeAll(async () => {
  engine = await openDemoEngine();
  pki = makeTestPki();
});

afterAll(async () => {
  await engine?.close();
  pki?.remove();
});

const smallImage = () => ({ images: [{ name: 'mr', dicom: readSample('pydicom_MR_small.dcm') }] });

describe('bearer tokens and roles (plaintext on loopback)', () => {
  let server: RunningGrpcServer;
  let clients: TestClients;

  beforeAll(async () => {
    server = await startTestServer(engine);
    clients = connect(server.port);
  });

  afterAll(async () => {
    clients?.close();
    await server?.close();
  });

  test('no token → UNAUTHENTICATED', async () => {
    const result = await codeOf(unary(clients.triage, 'Classify', smallImage(), bearer(null)));
    expect(result.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(result.details).toMatch(/authorization/);
  });

  test('wrong token → UNAUTHENTICATED', async () => {
    const result = await codeOf(unary(clients.triage, 'Classify', smallImage(), bearer('not-a-configured-token-at-all')));
    expect(result).toEqual({ code: grpc.status.UNAUTHENTICATED, details: 'unknown bearer token' });
  });

  test('malformed authorization header → UNAUTHENTICATED', async () => {
    const md = new grpc.Metadata();
    md.set('authorization', `Basic ${TRIAGE_TOKEN}`);
    expect((await codeOf(unary(clients.triage, 'Classify', smallImage(), md))).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  test('triage token calling admin → PERMISSION_DENIED', async () => {
    const result = await codeOf(unary(clients.admin, 'GetStatus', {}, bearer(TRIAGE_TOKEN)));
    expect(result.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(result.details).toMatch(/admin/);
  });

  test('admin token calling Classify → PERMISSION_DENIED', async () => {
    expect((await codeOf(unary(clients.triage, 'Classify', smallImage(), bearer(ADMIN_TOKEN)))).code).toBe(grpc.status.PERMISSION_DENIED);
  });

  test('the right roles are served', async () => {
    const classified = await unary(clients.triage, 'Classify', smallImage(), bearer(TRIAGE_TOKEN));
    expect(classified.images).toHaveLength(1);
    const status = await unary(clients.admin, 'GetStatus', {}, bearer(ADMIN_TOKEN));
    expect(status.version).toBe('test');
    expect(status.executionProvider).toBe('cpu');
    expect(status.models[0].bundle.name).toBe(engine.bundle.manifest.name);
    expect(status.queues).toContainEqual(expect.objectContaining({ lane: 'classify', capacity: 64 }));
    const both = await unary(clients.triage, 'Classify', smallImage(), bearer(BOTH_TOKEN));
    expect(both.images).toHaveLength(1);
  });

  test('study and config calls answer FAILED_PRECONDITION without the Orthanc sidecar', async () => {
    const config = await codeOf(unary(clients.admin, 'GetConfig', {}, bearer(ADMIN_TOKEN)));
    expect(config.code).toBe(grpc.status.FAILED_PRECONDITION);
    const study = await codeOf(unary(clients.triage, 'GetStudyResult', { study: { studyInstanceUid: '1.2.3' } }, bearer(TRIAGE_TOKEN)));
    expect(study.code).toBe(grpc.status.FAILED_PRECONDITION);
    const stream = clients.triage.WatchTriage({}, bearer(TRIAGE_TOKEN)) as grpc.ClientReadableStream<unknown>;
    const streamError = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    expect(streamError.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(streamError.details).toMatch(/WatchTriage needs the Orthanc sidecar/);
  });

  test('token hashes in configuration work like the tokens themselves', async () => {
    const { createHash } = await import('node:crypto');
    const table = new TokenTable([{ token: `sha256:${createHash('sha256').update(TRIAGE_TOKEN).digest('hex')}`, role: 'triage' }]);
    expect(table.rolesOf(TRIAGE_TOKEN)?.has('triage')).toBe(true);
    expect(table.rolesOf(ADMIN_TOKEN)).toBeNull();
  });
});

describe('refusals at start', () => {
  test('plaintext on a non-loopback address is refused with a clear error', async () => {
    await expect(startGrpcServer({
      listen: '0.0.0.0:0', security: { kind: 'plaintext' }, tokens: testTokens(), backend: makeBackend(engine),
    })).rejects.toThrow(/refusing plaintext gRPC on "0.0.0.0".*TLS/);
    await expect(startGrpcServer({
      listen: '0.0.0.0:0', security: { kind: 'plaintext' }, tokens: testTokens(), backend: makeBackend(engine),
    })).rejects.toBeInstanceOf(ListenConfigError);
  });

  test('an empty token table is refused', async () => {
    await expect(startGrpcServer({
      listen: '127.0.0.1:0', security: { kind: 'plaintext' }, tokens: new TokenTable([]), backend: makeBackend(engine),
    })).rejects.toThrow(/no gRPC bearer tokens/);
  });

  test('short tokens and unknown roles are refused naming the entry', () => {
    expect(() => new TokenTable([{ token: 'short', role: 'triage' }], 'T3_GRPC_TOKENS')).toThrow(/T3_GRPC_TOKENS\[0\]\.token: must be at least 16/);
    expect(() => new TokenTable([{ token: TRIAGE_TOKEN, role: 'root' }])).toThrow(/unknown role "root"/);
  });
});

describe('TLS', () => {
  let server: RunningGrpcServer;

  beforeAll(async () => {
    server = await startTestServer(engine, { security: tlsSecurity(pki, false) });
  });

  afterAll(async () => {
    await server?.close();
  });

  test('a client trusting the CA is served', async () => {
    const clients = connect(server.port, grpc.credentials.createSsl(pki.caCert));
    try {
      const response = await unary(clients.triage, 'Classify', smallImage(), bearer(TRIAGE_TOKEN));
      expect(response.images).toHaveLength(1);
    } finally {
      clients.close();
    }
  });

  test('a plaintext client and a client trusting another CA cannot connect', async () => {
    const deadline = () => ({ deadline: Date.now() + 3000 });
    for (const credentials of [grpc.credentials.createInsecure(), grpc.credentials.createSsl(pki.rogueCaCert)]) {
      const clients = connect(server.port, credentials);
      try {
        const result = await codeOf(unary(clients.triage, 'Classify', smallImage(), bearer(TRIAGE_TOKEN), deadline()));
        expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(result.code);
      } finally {
        clients.close();
      }
    }
  });
});

describe('mutual TLS (configured from files, as `serve` does)', () => {
  let server: RunningGrpcServer;

  beforeAll(async () => {
    const settings = await resolveGrpcSettings({
      listen: '127.0.0.1:0',
      tls: { certFile: path.join(pki.dir, 'server.crt'), keyFile: path.join(pki.dir, 'server.key'), clientCaFile: path.join(pki.dir, 'test-ca.crt') },
      tokens: [{ token: TRIAGE_TOKEN, role: 'triage' }],
    }, { tokenList: `${ADMIN_TOKEN}=admin` });
    expect(settings.tokens.rolesOf(ADMIN_TOKEN)?.has('admin')).toBe(true);
    server = await startTestServer(engine, settings);
  });

  test('a missing certificate file is reported with its key and path', async () => {
    await expect(resolveGrpcSettings({
      listen: '127.0.0.1:0', tls: { certFile: path.join(pki.dir, 'nope.crt'), keyFile: 'k', clientCaFile: null }, tokens: [],
    })).rejects.toThrow(/^grpc\.tls\.certFile: cannot read ".*nope\.crt" \(ENOENT\)/);
  });

  afterAll(async () => {
    await server?.close();
  });

  test('a client with a certificate from the trusted CA is served', async () => {
    const clients = connect(server.port, grpc.credentials.createSsl(pki.caCert, pki.clientKey, pki.clientCert));
    try {
      const response = await unary(clients.triage, 'Classify', smallImage(), bearer(TRIAGE_TOKEN));
      expect(response.images).toHaveLength(1);
    } finally {
      clients.close();
    }
  });

  test('no client certificate, or one from another CA, is refused in the handshake', async () => {
    const attempts = [
      grpc.credentials.createSsl(pki.caCert),
      grpc.credentials.createSsl(pki.caCert, pki.rogueClientKey, pki.rogueClientCert),
    ];
    for (const credentials of attempts) {
      const clients = connect(server.port, credentials);
      try {
        const result = await codeOf(unary(clients.triage, 'Classify', smallImage(), bearer(TRIAGE_TOKEN), { deadline: Date.now() + 3000 }));
        expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(result.code);
      } finally {
        clients.close();
      }
    }
  });
});

describe('health and reflection', () => {
  let server: RunningGrpcServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.close();
  });

  test('grpc.health.v1.Health answers SERVING for the server and both services', async () => {
    const definition = protoLoader.loadSync(
      path.join(path.dirname(require.resolve('grpc-health-check/package.json')), 'proto', 'health', 'v1', 'health.proto'),
      { keepCase: true, enums: String },
    );
    const Health = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1.Health;
    const client = new Health(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      for (const service of ['', 't3.v1.TriageService', 't3.v1.AdminService']) {
        const answer = await new Promise<any>((resolve, reject) => client.Check({ service }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
        expect(answer.status).toBe('SERVING');
      }
    } finally {
      client.close();
    }
  });

  test('server reflection lists the services and serves their descriptors', async () => {
    const definition = protoLoader.loadSync(
      path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto'),
      { keepCase: true, oneofs: true },
    );
    const Reflection = (grpc.loadPackageDefinition(definition) as any).grpc.reflection.v1.ServerReflection;
    const client = new Reflection(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const ask = (request: unknown) => new Promise<any>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on('data', (message: unknown) => {
        resolve(message);
        call.end();
      });
      call.on('error', reject);
      call.write(request);
    });
    try {
      const list = await ask({ list_services: '' });
      const names = list.list_services_response.service.map((s: { name: string }) => s.name);
      expect(names).toEqual(expect.arrayContaining(['t3.v1.TriageService', 't3.v1.AdminService']));
      const file = await ask({ file_containing_symbol: 't3.v1.TriageService' });
      expect(file.file_descriptor_response.file_descriptor_proto.length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });
});
