/**
 * T3B with λ_B from a sample (batching.coefficientSample), seen by a gRPC client: the answer says which images' fixed
 * passes gave λ_B and how many, so a result can be reproduced; without sampling neither field is present.
 */
import type { T3Engine } from '../../src/engine';
import type { RunningGrpcServer } from '../../src/grpc';
import { bearer, connect, makeBackend, openDemoEngine, readSample, sampleNames, startTestServer, TRIAGE_TOKEN, unary, type TestClients } from './grpc-test-helpers';

let engine: T3Engine;
let sampled: RunningGrpcServer;
let full: RunningGrpcServer;
let sampledClients: TestClients;
let fullClients: TestClients;

const images = sampleNames().filter((n) => !/SR/.test(n)).map((name) => ({ name, dicom: readSample(name) }));

beforeAll(async () => {
  engine = await openDemoEngine();
  sampled = await startTestServer(engine, { backend: makeBackend(engine, null, { coefficientSample: 2 }) });
  full = await startTestServer(engine);
  sampledClients = connect(sampled.port);
  fullClients = connect(full.port);
});

afterAll(async () => {
  sampledClients?.close();
  fullClients?.close();
  await sampled?.close();
  await full?.close();
  await engine?.close();
});

test('k = 2: two images per batch are marked sampled and carry a divergence; the others ran the merged pass only', async () => {
  expect(images.length).toBeGreaterThan(2);
  const answer = await unary(sampledClients.triage, 'Classify', { images, policy: 'POLICY_T3B' }, bearer(TRIAGE_TOKEN));
  expect(answer.images).toHaveLength(images.length);
  expect(answer.batches).toHaveLength(1);
  expect(answer.batches[0]).toMatchObject({ size: images.length, coefficientSampleSize: 2 });
  const marked = answer.images.filter((i: { coefficientSampled?: boolean }) => i.coefficientSampled === true);
  const unmarked = answer.images.filter((i: { coefficientSampled?: boolean }) => i.coefficientSampled === false);
  expect(marked).toHaveLength(2);
  expect(unmarked).toHaveLength(images.length - 2);
  for (const image of marked) expect(Number.isFinite(image.js)).toBe(true);
  for (const image of unmarked) {
    expect(Number.isNaN(image.js)).toBe(true);
    expect(image.lambda).toBeCloseTo(answer.batches[0].batchLambda, 12);
  }
});

test('without sampling: no image is marked and the batch names no sample size', async () => {
  const answer = await unary(fullClients.triage, 'Classify', { images, policy: 'POLICY_T3B' }, bearer(TRIAGE_TOKEN));
  expect(answer.batches[0].coefficientSampleSize).toBeUndefined();
  for (const image of answer.images) {
    expect(image.coefficientSampled).toBeUndefined();
    expect(Number.isFinite(image.js)).toBe(true);
  }
});
