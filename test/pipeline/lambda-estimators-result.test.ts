/**
 * The λ_B estimators of the bundle's t3.estimators, end to end: DICOM images of one series classified in several
 * batches by one engine. What was estimated from which images is recorded per image and per batch in the composed
 * result and in the SR's algorithm parameters, which parse back; the gRPC message carries the same record.
 */
import { loadBundle, demoBundleDir, T3Engine, type ModelBundle } from '../../src/engine';
import { loadT3Protos } from '../../src/grpc/proto-definition';
import { lambdaEstimateMessage } from '../../src/grpc/proto-messages';
import { classifyImages } from '../../src/pipeline/classification/classify-images';
import { composeClassification, srInputFor } from '../../src/pipeline/classification/compose-study-result';
import { SeriesLambdaStore } from '../../src/pipeline/classification/series-lambda-store';
import { buildAiResultSr, parseAiResultSr } from '../../src/report';
import { defaultLambdaEstimatorSettings, defaultPolicyConfig, type LambdaEstimatorSettings } from '../../src/t3';
import { syntheticSeries } from '../helpers/synthetic-series';

let base: ModelBundle;
const engines: T3Engine[] = [];

beforeAll(async () => {
  base = await loadBundle(demoBundleDir());
});

afterAll(async () => {
  for (const engine of engines) await engine.close();
});

async function engineWith(estimators: LambdaEstimatorSettings): Promise<T3Engine> {
  const engine = await T3Engine.open({ ...base, manifest: { ...base.manifest, lambdaEstimators: estimators } },
    { executionProviders: ['cpu'], fixedPassSessions: 'plain', log: () => undefined });
  engines.push(engine);
  return engine;
}

const triage = { triage: { rules: [], disagreement: {} }, listNonImages: true };
// The paper's gentle map: λ of a different batch is never exactly the stored one, so a zero tolerance must fail.
const policy = defaultPolicyConfig('t3b');

test('series reuse: the second batch of a series reuses the first one\'s λ_B after a 2-image check, recorded in results, SR and gRPC', async () => {
  const estimators = defaultLambdaEstimatorSettings();
  estimators.seriesReuse = { ...estimators.seriesReuse, enabled: true, lambdaTolerance: 10 };
  const engine = await engineWith(estimators);
  const inputs = syntheticSeries('2.25.3000', '2.25.3001', 8, 5);
  const outcomes = await classifyImages(engine, inputs, { policy, batchSize: 4, framePolicy: 'middle', seriesLambdas: new SeriesLambdaStore({ maxSeries: 4, maxAgeMs: 60_000 }) });
  const composed = composeClassification(outcomes, triage);
  expect(composed.batches).toHaveLength(2);
  const [first, second] = composed.batches;
  expect(first.lambdaEstimate).toBeUndefined();
  expect(second.lambdaEstimate).toMatchObject({ method: 'series-reuse', outcome: 'reused', sampled: 2, reusedFrom: first.batchId, confidence: null });
  expect(second.batchLambda).toBe(first.batchLambda);
  expect(second.coefficientSampleSize).toBe(2);
  const secondImages = composed.images.filter((i) => i.batchId === second.batchId);
  expect(secondImages.filter((i) => i.coefficientSampled === true)).toHaveLength(2);
  expect(secondImages.filter((i) => i.coefficientSampled === false).every((i) => i.js === null && i.lambdaFinal === second.batchLambda)).toBe(true);
  expect(composed.batchEstimates).toEqual([null, second.lambdaEstimate]);

  const built = buildAiResultSr({ ...srInputFor(composed, engine.bundle.manifest, policy, 4), contentDateTime: new Date('2026-01-01T00:00:00Z') });
  const parsed = parseAiResultSr(built.bytes);
  expect(parsed.parameters['lambdaEstimate[0]']).toBeUndefined();
  expect(parsed.parameters['lambdaEstimate[1]']).toBe(`method=series-reuse;outcome=reused;sampled=2;sampleLambda=${String(second.lambdaEstimate!.sampleLambda)};from=${first.batchId}`);
  expect(parsed.lambdaEstimates).toEqual([null, second.lambdaEstimate]);
  expect(parsed.coefficientSample?.batchSampleSizes).toEqual([null, 2]);

  const message = lambdaEstimateMessage(second.lambdaEstimate!);
  expect(message).toEqual({ method: 'series-reuse', outcome: 'reused', sampled: 2, reusedFrom: first.batchId, sampleLambda: second.lambdaEstimate!.sampleLambda });
  // Through the wire format of the Classify answer: the field exists in the proto and survives encoding.
  const classify = loadT3Protos().triageService.service.Classify;
  const decoded = classify.responseDeserialize(classify.responseSerialize({ batches: [{ batchId: second.batchId, size: 4, lambdaEstimate: message }] })) as {
    batches: { lambdaEstimate?: Record<string, unknown> }[];
  };
  expect(decoded.batches[0].lambdaEstimate).toMatchObject({ method: 'series-reuse', outcome: 'reused', sampled: 2, reusedFrom: first.batchId });
  expect(decoded.batches[0].lambdaEstimate?.sampleLambda).toBeCloseTo(second.lambdaEstimate!.sampleLambda, 12);
});

test('series reuse: a check outside the tolerance re-estimates from every image, which is full T3B\'s λ_B', async () => {
  const estimators = defaultLambdaEstimatorSettings();
  estimators.seriesReuse = { ...estimators.seriesReuse, enabled: true, lambdaTolerance: 1e-15 };
  const engine = await engineWith(estimators);
  const inputs = syntheticSeries('2.25.4000', '2.25.4001', 8, 6);
  const outcomes = await classifyImages(engine, inputs, { policy, batchSize: 4, framePolicy: 'middle', seriesLambdas: new SeriesLambdaStore({ maxSeries: 4, maxAgeMs: 60_000 }) });
  const composed = composeClassification(outcomes, triage);
  const second = composed.batches[1];
  expect(second.lambdaEstimate).toMatchObject({ method: 'series-reuse', outcome: 'check-failed', sampled: 4 });
  expect(second.coefficientSampleSize).toBeNull();
  const plain = await T3Engine.open(base, { executionProviders: ['cpu'], fixedPassSessions: 'plain', log: () => undefined });
  engines.push(plain);
  const reference = composeClassification(await classifyImages(plain, inputs, { policy, batchSize: 4, framePolicy: 'middle' }), triage);
  expect(second.batchLambda).toBe(reference.batches[1].batchLambda);
  expect(reference.batches[1].lambdaEstimate).toBeUndefined();
});

test('sequential sampling: the record says how many images were sampled, why it stopped and at what confidence', async () => {
  const estimators = defaultLambdaEstimatorSettings();
  estimators.sequential = { ...estimators.sequential, enabled: true, minImages: 2, step: 1, maxImages: 3, lambdaTolerance: 10 };
  const engine = await engineWith(estimators);
  const inputs = syntheticSeries('2.25.5000', '2.25.5001', 8, 7);
  const composed = composeClassification(await classifyImages(engine, inputs, { policy, batchSize: 8, framePolicy: 'middle' }), triage);
  // A tolerance of 10 (wider than any λ range) decides at the first look.
  expect(composed.batches[0].lambdaEstimate).toEqual({
    method: 'sequential', outcome: 'decided', sampled: 2, confidence: 0.95, reusedFrom: null, sampleLambda: composed.batches[0].batchLambda,
  });
  expect(composed.images.filter((i) => i.coefficientSampled === true)).toHaveLength(2);
  const built = buildAiResultSr({ ...srInputFor(composed, engine.bundle.manifest, policy, 8), contentDateTime: new Date('2026-01-01T00:00:00Z') });
  expect(parseAiResultSr(built.bytes).lambdaEstimates).toEqual([composed.batches[0].lambdaEstimate]);
});

test('estimators off (the default): no estimate recorded anywhere', async () => {
  const engine = await engineWith(defaultLambdaEstimatorSettings());
  const composed = composeClassification(await classifyImages(engine, syntheticSeries('2.25.6000', '2.25.6001', 4, 8), { policy, batchSize: 4, framePolicy: 'middle' }), triage);
  expect(composed.batches[0].lambdaEstimate).toBeUndefined();
  expect(composed.batchEstimates).toEqual([null]);
  const built = buildAiResultSr({ ...srInputFor(composed, engine.bundle.manifest, policy, 4), contentDateTime: new Date('2026-01-01T00:00:00Z') });
  const parsed = parseAiResultSr(built.bytes);
  expect(parsed.lambdaEstimates).toEqual([]);
  expect(Object.keys(parsed.parameters).some((k) => k.startsWith('lambdaEstimate'))).toBe(false);
});

test('grouped T3B with sequential sampling: a batch of two series records each group\'s estimate as a batch of its own', async () => {
  const estimators = defaultLambdaEstimatorSettings();
  // A tolerance of 10 (wider than any λ range) decides at each group's first look: 2 of its 4 images.
  estimators.sequential = { ...estimators.sequential, enabled: true, minImages: 2, step: 1, maxImages: 3, lambdaTolerance: 10 };
  const engine = await engineWith(estimators);
  const grouped = defaultPolicyConfig('t3b-grouped');
  grouped.hyperparameters = { ...grouped.hyperparameters, groupBy: 'series', minGroupSize: 4, maxGroups: 2 };
  const a = syntheticSeries('2.25.7000', '2.25.7001', 4, 9);
  const b = syntheticSeries('2.25.7000', '2.25.7002', 4, 10);
  const inputs = [a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]];
  const composed = composeClassification(await classifyImages(engine, inputs, { policy: grouped, batchSize: 8, framePolicy: 'middle' }), triage);
  expect(composed.batches).toHaveLength(2);
  expect(composed.batches.map((batch) => batch.batchId.slice(-3))).toEqual(['/g0', '/g1']);
  for (const batch of composed.batches) {
    expect(batch.lambdaEstimate).toEqual({ method: 'sequential', outcome: 'decided', sampled: 2, confidence: 0.95, reusedFrom: null, sampleLambda: batch.batchLambda });
    expect(batch.coefficientSampleSize).toBe(2);
    const images = composed.images.filter((i) => i.batchId === batch.batchId);
    expect(new Set(images.map((i) => i.seriesInstanceUid)).size).toBe(1);
    expect(images.filter((i) => i.coefficientSampled === true)).toHaveLength(2);
  }
  const built = buildAiResultSr({ ...srInputFor(composed, engine.bundle.manifest, grouped, 8), contentDateTime: new Date('2026-01-01T00:00:00Z') });
  const parsed = parseAiResultSr(built.bytes);
  expect(parsed.lambdaEstimates).toEqual(composed.batches.map((batch) => batch.lambdaEstimate));
  expect(parsed.coefficientSample?.batchSampleSizes).toEqual([2, 2]);
});

test('grouped T3B with series reuse: the next batch of the same two series reuses each group\'s λ, recorded per group', async () => {
  const estimators = defaultLambdaEstimatorSettings();
  estimators.sequential = { ...estimators.sequential, enabled: true, minImages: 2, step: 1, maxImages: 3, lambdaTolerance: 10 };
  estimators.seriesReuse = { ...estimators.seriesReuse, enabled: true, lambdaTolerance: 10 };
  const engine = await engineWith(estimators);
  const grouped = defaultPolicyConfig('t3b-grouped');
  grouped.hyperparameters = { ...grouped.hyperparameters, groupBy: 'series', minGroupSize: 4, maxGroups: 2 };
  const a = syntheticSeries('2.25.8000', '2.25.8001', 8, 11);
  const b = syntheticSeries('2.25.8000', '2.25.8002', 8, 12);
  const inputs = a.flatMap((image, i) => [image, b[i]]);
  const outcomes = await classifyImages(engine, inputs, { policy: grouped, batchSize: 8, framePolicy: 'middle', seriesLambdas: new SeriesLambdaStore({ maxSeries: 4, maxAgeMs: 60_000 }) });
  const composed = composeClassification(outcomes, triage);
  // Two batches of 8, each two groups of 4 (one per series).
  expect(composed.batches).toHaveLength(4);
  const [a1, b1, a2, b2] = composed.batches;
  expect([a1, b1].map((batch) => batch.lambdaEstimate?.method)).toEqual(['sequential', 'sequential']);
  expect(a2.lambdaEstimate).toMatchObject({ method: 'series-reuse', outcome: 'reused', sampled: 2, reusedFrom: a1.batchId });
  expect(b2.lambdaEstimate).toMatchObject({ method: 'series-reuse', outcome: 'reused', sampled: 2, reusedFrom: b1.batchId });
  expect([a2.batchLambda, b2.batchLambda]).toEqual([a1.batchLambda, b1.batchLambda]);
  const seriesOf = (batchId: string) => new Set(composed.images.filter((i) => i.batchId === batchId).map((i) => i.seriesInstanceUid));
  expect(seriesOf(a2.batchId)).toEqual(seriesOf(a1.batchId));
  const parsed = parseAiResultSr(buildAiResultSr({ ...srInputFor(composed, engine.bundle.manifest, grouped, 8), contentDateTime: new Date('2026-01-01T00:00:00Z') }).bytes);
  expect(parsed.lambdaEstimates).toEqual(composed.batches.map((batch) => batch.lambdaEstimate));
});
