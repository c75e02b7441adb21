/**
 * int8 estimation passes, recorded end to end: DICOM images classified by an engine whose estimation passes run on
 * the int8 copies; the batch says so in the composed result, the gRPC Classify answer and the SR's algorithm
 * parameters (`lambdaPrecision[i]`), and full-precision results keep their SR unchanged.
 */
import { loadBundle, demoBundleDir, T3Engine, type EstimationPrecision } from '../../src/engine';
import { classifyResponseMessage } from '../../src/grpc/proto-messages';
import { classifyImages } from '../../src/pipeline/classification/classify-images';
import { bundleIdentityOf, composeClassification, srInputFor } from '../../src/pipeline/classification/compose-study-result';
import { buildAiResultSr, parseAiResultSr } from '../../src/report';
import { defaultPolicyConfig } from '../../src/t3';
import { removeTempDirs, tempDir } from './onnx-test-helpers';
import { syntheticSeries } from '../helpers/synthetic-series';

const engines: Partial<Record<EstimationPrecision, T3Engine>> = {};

beforeAll(async () => {
  const bundle = await loadBundle(demoBundleDir());
  const cacheDir = await tempDir('quantized-recording');
  for (const precision of ['float32', 'int8'] as const) {
    engines[precision] = await T3Engine.open(bundle, { executionProviders: ['cpu'], cacheDir, estimationPrecision: precision, log: () => undefined });
  }
});

afterAll(async () => {
  await engines.float32?.close();
  await engines.int8?.close();
  await removeTempDirs();
});

test.each(['int8', 'float32'] as const)('%s estimation passes are recorded in the result, the gRPC answer and the SR', async (precision) => {
  const engine = engines[precision]!;
  const inputs = syntheticSeries('2.25.2000', '2.25.2001', 6, 3);
  const policy = { ...defaultPolicyConfig('t3b'), hyperparameters: { ...engine.bundle.manifest.t3 } };
  const outcomes = await classifyImages(engine, inputs, { policy, batchSize: 3, framePolicy: 'middle' });
  const composed = composeClassification(outcomes, { triage: { rules: [], disagreement: {} }, listNonImages: true });
  expect(composed.batches).toHaveLength(2);
  for (const batch of composed.batches) expect(batch.estimationPrecision).toBe(precision);
  expect(composed.batchPrecisions).toEqual([precision, precision]);

  const answer = classifyResponseMessage({
    bundle: bundleIdentityOf(engine.bundle.manifest), policy: 't3b', batches: composed.batches, images: composed.images, failures: [],
    triage: null, sr: null, executionProvider: engine.executionProvider, durationMs: 1,
  }) as { batches: { estimationPrecision?: string }[] };
  expect(answer.batches.map((b) => b.estimationPrecision)).toEqual([precision, precision]);

  const built = buildAiResultSr({ ...srInputFor(composed, engine.bundle.manifest, policy, 3), contentDateTime: new Date('2026-01-01T00:00:00Z') });
  const parameters = parseAiResultSr(built.bytes).parameters;
  if (precision === 'int8') {
    expect(parameters['lambdaPrecision[0]']).toBe('int8');
    expect(parameters['lambdaPrecision[1]']).toBe('int8');
  } else {
    // Full precision writes nothing new: SRs of the paper's T3B are unchanged.
    expect(Object.keys(parameters).filter((k) => k.startsWith('lambdaPrecision'))).toEqual([]);
  }
});

test('one-model policies record no estimation precision', async () => {
  const engine = engines.int8!;
  const outcomes = await classifyImages(engine, syntheticSeries('2.25.3000', '2.25.3001', 2, 4), { policy: defaultPolicyConfig('generalist'), batchSize: 2, framePolicy: 'middle' });
  const composed = composeClassification(outcomes, { triage: { rules: [], disagreement: {} }, listNonImages: true });
  expect(composed.batches[0].estimationPrecision).toBeUndefined();
  expect(composed.batchPrecisions).toEqual([]);
});
