/**
 * Classify over a real gRPC client gives exactly what `classifyImages` (the function behind `orthanc-t3 classify`)
 * gives for the same files, on every sample image; raw pixel arrays give what their DICOM file gives.
 */
import path from 'node:path';
import dcmjs from 'dcmjs';
import type { T3Engine } from '../../src/engine';
import { POLICY_ENUM, type RunningGrpcServer } from '../../src/grpc';
import type { ClassifyRequest } from '../../src/grpc/generated/t3/v1/ClassifyRequest';
import type { ClassifyResponse__Output } from '../../src/grpc/generated/t3/v1/ClassifyResponse';
import type { ImageResult__Output } from '../../src/grpc/generated/t3/v1/ImageResult';
import { classifyImages, type ClassifyOutcome } from '../../src/pipeline/classification/classify-images';
import { parseAiResultSr } from '../../src/report';
import { defaultPolicyConfig, type PolicyName } from '../../src/t3';
import {
  bearer,
  connect,
  openDemoEngine,
  readSample,
  sampleNames,
  samplesDir,
  startTestServer,
  TEST_BATCH_SIZE,
  TEST_FRAMES,
  TRIAGE_TOKEN,
  unary,
  type Answer,
  type TestClients,
} from './grpc-test-helpers';

let engine: T3Engine;
let server: RunningGrpcServer;
let clients: TestClients;

beforeAll(async () => {
  engine = await openDemoEngine();
  server = await startTestServer(engine);
  clients = connect(server.port);
});

afterAll(async () => {
  clients?.close();
  await server?.close();
  await engine?.close();
});

/** What `orthanc-t3 classify` runs: the policy with the bundle's T3 hyperparameters, batch 32, middle frame. */
function direct(inputs: { name: string; bytes: Uint8Array }[], policyName: PolicyName = 't3b'): Promise<ClassifyOutcome[]> {
  const policy = defaultPolicyConfig(policyName);
  policy.hyperparameters = { ...policy.hyperparameters, ...engine.bundle.manifest.t3 };
  return classifyImages(engine, inputs, { policy, batchSize: TEST_BATCH_SIZE, framePolicy: TEST_FRAMES });
}

function classify(request: ClassifyRequest): Promise<Answer<ClassifyResponse__Output>> {
  return unary(clients.triage, 'Classify', { onBadImage: 'BAD_IMAGE_HANDLING_SKIP', ...request }, bearer(TRIAGE_TOKEN));
}

/** Checks the gRPC images of one input against its direct outcome (every frame, every number exactly). */
function expectSameAsDirect(grpcImages: Answer<ImageResult__Output>[], outcome: Extract<ClassifyOutcome, { ok: true }>, index: number): void {
  expect(grpcImages).toHaveLength(outcome.frames.length);
  outcome.frames.forEach((frame, f) => {
    const image = grpcImages[f];
    expect(image.index).toBe(index);
    expect(image.sopInstanceUid).toBe(outcome.info.sopInstanceUid);
    expect(image.modality).toBe(outcome.info.modality);
    expect(image.predictions.map((p) => [p.label, p.code, p.scheme, p.meaning, p.probability])).toEqual(
      frame.predictions.map((p) => [p.label, p.code.value, p.code.scheme, p.code.meaning, p.probability]),
    );
    expect(image.js).toBe(frame.js);
    expect(image.lambda).toBe(frame.lambda);
    expect(image.lambdaFinal).toBe(frame.lambdaFinal);
    expect(image.appliedLambda ?? null).toBe(frame.appliedLambda);
    expect(image.batchLambda ?? null).toBe(frame.batchLambda);
    expect(image.batchSize).toBe(frame.batchSize);
    expect(image.extrapolationTriggered).toBe(frame.lambdaFinal !== frame.lambda);
  });
}

describe('Classify equals classifyImages', () => {
  test.each(sampleNames())('%s alone', async (file) => {
    const bytes = readSample(file);
    const [outcome] = await direct([{ name: file, bytes: new Uint8Array(bytes) }]);
    if (!outcome.ok) {
      // Nothing usable in the call: INVALID_ARGUMENT naming the image and the same reason the CLI gives.
      await expect(classify({ images: [{ name: file, dicom: bytes }] })).rejects.toMatchObject({
        code: 3,
        details: expect.stringContaining(`image[0] "${file}": ${outcome.errorCode}`),
      });
      return;
    }
    const response = await classify({ images: [{ name: file, dicom: bytes }] });
    expect(response.bundle.name).toBe(engine.bundle.manifest.name);
    expect(response.policy).toBe('POLICY_T3B');
    expect(response.failedImages).toHaveLength(0);
    expectSameAsDirect(response.images, outcome, 0);
    expect(response.batches).toHaveLength(1);
    expect(response.batches[0].batchLambda ?? null).toBe(outcome.frames[0].batchLambda);
    expect(response.triage.priority).toMatch(/^PRIORITY_(ROUTINE|URGENT|EMERGENCY)$/);
  });

  test('all samples in one call form the same T3B batch as the CLI would', async () => {
    const files = sampleNames();
    const outcomes = await direct(files.map((name) => ({ name, bytes: new Uint8Array(readSample(name)) })));
    const response = await classify({ images: files.map((name) => ({ name, dicom: readSample(name) })) });
    let cursor = 0;
    outcomes.forEach((outcome, index) => {
      if (!outcome.ok) return;
      const images = response.images.slice(cursor, cursor + outcome.frames.length);
      cursor += outcome.frames.length;
      expectSameAsDirect(images, outcome, index);
    });
    expect(cursor).toBe(response.images.length);
    expect(response.failedImages.map((f) => [f.index, f.code, f.message])).toEqual(
      outcomes.flatMap((o, i) => (o.ok ? [] : [[i, o.errorCode, o.error]])),
    );
  });

  test.each(['generalist', 'expert', 'ensemble', 't3'] as PolicyName[])('policy %s', async (policy) => {
    const file = 'pydicom_CT_small.dcm';
    const [outcome] = await direct([{ name: file, bytes: new Uint8Array(readSample(file)) }], policy);
    const response = await classify({ images: [{ name: file, dicom: readSample(file) }], policy: POLICY_ENUM[policy] });
    expect(response.policy).toBe(`POLICY_${policy.toUpperCase()}`);
    if (!outcome.ok) throw new Error(outcome.error);
    expectSameAsDirect(response.images, outcome, 0);
  });
});

describe('raw pixel arrays', () => {
  test('a pixel array gives the same predictions as the DICOM file it came from', async () => {
    const file = 'pydicom_CT_small.dcm';
    const bytes = readSample(file);
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
      dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).dict,
    ) as Record<string, any>;
    const first = (v: unknown) => (Array.isArray(v) ? Number(v[0]) : v === undefined ? undefined : Number(v));
    const pixels = new Uint8Array(ds.PixelData[0] as ArrayBuffer);
    const response = await classify({
      images: [{
        name: 'ct-pixels',
        pixels: {
          rows: ds.Rows,
          columns: ds.Columns,
          photometricInterpretation: ds.PhotometricInterpretation,
          bitsAllocated: ds.BitsAllocated,
          bitsStored: ds.BitsStored,
          signed: ds.PixelRepresentation === 1,
          data: Buffer.from(pixels.subarray(0, ds.Rows * ds.Columns * 2)),
          rescaleSlope: first(ds.RescaleSlope),
          rescaleIntercept: first(ds.RescaleIntercept),
          ...(ds.WindowCenter !== undefined ? { windowCenter: first(ds.WindowCenter), windowWidth: first(ds.WindowWidth) } : {}),
          modality: ds.Modality,
        },
      }],
    });
    const [outcome] = await direct([{ name: file, bytes: new Uint8Array(bytes) }]);
    if (!outcome.ok) throw new Error(outcome.error);
    expect(response.failedImages).toEqual([]);
    const image = response.images[0];
    expect(image.modality).toBe('CT');
    expect(image.predictions.map((p) => [p.code, p.probability])).toEqual(
      outcome.frames[0].predictions.map((p) => [p.code.value, p.probability]),
    );
    expect(image.js).toBe(outcome.frames[0].js);
  });

  test('an RGB pixel array is classified', async () => {
    const rows = 16;
    const columns = 24;
    const data = Buffer.alloc(rows * columns * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
    const response = await classify({
      images: [{ name: 'rgb', pixels: { rows, columns, photometricInterpretation: 'RGB', bitsAllocated: 8, data } }],
    });
    expect(response.images).toHaveLength(1);
    const total = response.images[0].predictions.reduce((s: number, p) => s + p.probability, 0);
    expect(total).toBeCloseTo(1, 6);
  });
});

describe('SR in the response', () => {
  test('include_sr returns a parseable SR that matches the response', async () => {
    const file = 'pydicom_CT_small.dcm';
    const response = await classify({ images: [{ name: file, dicom: readSample(file) }], includeSr: true });
    expect(response.sr.length).toBeGreaterThan(0);
    const parsed = parseAiResultSr(new Uint8Array(response.sr));
    expect(parsed.sopInstanceUid).toBe(response.srSopInstanceUid);
    expect(parsed.studyInstanceUid).toBe(response.images[0].studyInstanceUid);
    expect(`PRIORITY_${parsed.priority.toUpperCase()}`).toBe(response.triage.priority);
    expect(parsed.batchLambdas).toEqual([response.batches[0].batchLambda]);
  });

  test('include_sr with images of two studies is refused naming the reason', async () => {
    await expect(classify({
      images: [{ name: 'ct', dicom: readSample('pydicom_CT_small.dcm') }, { name: 'mr', dicom: readSample('pydicom_MR_small.dcm') }],
      includeSr: true,
    })).rejects.toMatchObject({ code: 3, details: expect.stringContaining('one study') });
  });
});

describe('the example client', () => {
  test('examples/classify-client.ts classifies files through the server', async () => {
    const { classifyFiles } = await import('../../examples/classify-client');
    const files = ['pydicom_CT_small.dcm', 'pydicom_test-SR.dcm'].map((f) => path.join(samplesDir, f));
    const report = await classifyFiles({ address: `127.0.0.1:${server.port}`, token: TRIAGE_TOKEN, files });
    expect(report).toMatch(/^bundle t3-demo-chest-trained .*POLICY_T3B, on cpu/);
    expect(report).toMatch(/pydicom_CT_small\.dcm \[CT\]: \w+/);
    expect(report).toMatch(/pydicom_test-SR\.dcm: not classified \(not-an-image\)/);
    expect(report).toMatch(/^triage: (routine|urgent|emergency)/m);
  });
});
