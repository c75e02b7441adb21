/** GetStatus says which sessions run each model's fixed passes and how much memory the process holds. */
import { loadBundle, demoBundleDir, T3Engine } from '../../src/engine';
import type { RunningGrpcServer } from '../../src/grpc';
import { ADMIN_TOKEN, bearer, connect, startTestServer, unary, type TestClients } from './grpc-test-helpers';

let engine: T3Engine;
let server: RunningGrpcServer;
let clients: TestClients;

beforeAll(async () => {
  engine = await T3Engine.open(await loadBundle(demoBundleDir()), { executionProviders: ['cpu'], fixedPassSessions: 'plain', log: () => undefined });
  server = await startTestServer(engine);
  clients = connect(server.port);
});

afterAll(async () => {
  clients?.close();
  await server?.close();
  await engine?.close();
});

test('GetStatus: fixed-pass sessions per model, resident set now and at peak', async () => {
  const status = await unary(clients.admin, 'GetStatus', {}, bearer(ADMIN_TOKEN));
  expect(status.models[0].fixedPassSessions).toBe('plain');
  expect(status.residentSetMb).toBeGreaterThan(10);
  expect(status.peakResidentSetMb).toBeGreaterThanOrEqual(status.residentSetMb);
});
