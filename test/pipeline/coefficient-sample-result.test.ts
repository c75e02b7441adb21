/**
 * T3B with λ_B from a sample, end to end: DICOM images of two series of one study in one batch, classified with
 * batching.coefficientSample = 2; the sample (one image per series) is recorded per image and per batch in the
 * composed result, and in the SR's algorithm parameters, which parse back.
 */
import { loadBundle, demoBundleDir, T3Engine } from '../../src/engine';
import { classifyImages } from '../../src/pipeline/classification/classify-images';
import { composeClassification, srInputFor } from '../../src/pipeline/classification/compose-study-result';
import { buildAiResultSr, parseAiResultSr } from '../../src/report';
import { defaultPolicyConfig } from '../../src/t3';
import { syntheticSeries } from '../helpers/synthetic-series';

let engine: T3Engine;

beforeAll(async () => {
  engine = await T3Engine.open(await loadBundle(demoBundleDir()), { executionProviders: ['cpu'], fixedPassSessions: 'plain', log: () => undefined });
});

afterAll(async () => {
  await engine?.close();
});

test('the sample spreads across the series, and results and the SR record it', async () => {
  const study = '2.25.1000';
  const inputs = [...syntheticSeries(study, '2.25.1001', 5, 1), ...syntheticSeries(study, '2.25.1002', 3, 2)];
  const policy = defaultPolicyConfig('t3b');
  // The paper's aggregation (the shipped bundle's fitted map may use λ of the mean JS instead).
  policy.hyperparameters = { ...policy.hyperparameters, ...engine.bundle.manifest.t3, batchAggregation: 'mean-lambda' };
  const outcomes = await classifyImages(engine, inputs, { policy, batchSize: 8, framePolicy: 'middle', coefficientSample: 2 });
  const composed = composeClassification(outcomes, { triage: { rules: [], disagreement: {} }, listNonImages: true });

  expect(composed.images).toHaveLength(8);
  expect(composed.batches).toHaveLength(1);
  expect(composed.batches[0]).toMatchObject({ size: 8, coefficientSampleSize: 2 });
  expect(composed.batchSampleSizes).toEqual([2]);
  const sampled = composed.images.filter((i) => i.coefficientSampled);
  expect(sampled.map((i) => i.seriesInstanceUid).sort()).toEqual(['2.25.1001', '2.25.1002']);
  for (const image of composed.images) {
    expect(image.coefficientSampled).not.toBeNull();
    expect(image.appliedLambda).toBe(composed.batchLambdas[0]);
    if (image.coefficientSampled) {
      expect(image.js).not.toBeNull();
    } else {
      expect(image.js).toBeNull();
      expect(image.entropyGeneralist).toBeNull();
      expect(image.lambdaFinal).toBe(composed.batchLambdas[0]);
    }
  }
  // λ_B is the mean of the sampled images' λ' (the paper's aggregation over the sample).
  expect(composed.batchLambdas[0]).toBeCloseTo(sampled.reduce((s, i) => s + i.lambdaFinal, 0) / sampled.length, 12);

  const built = buildAiResultSr({ ...srInputFor(composed, engine.bundle.manifest, policy, 8), contentDateTime: new Date('2026-01-01T00:00:00Z') });
  const parsed = parseAiResultSr(built.bytes);
  expect(parsed.batchLambdas).toEqual(composed.batchLambdas);
  expect(parsed.coefficientSample).toEqual({ batchSampleSizes: [2], sampledImages: expect.any(Array) });
  expect(parsed.coefficientSample!.sampledImages.sort()).toEqual(sampled.map((i) => i.sopInstanceUid).sort());
  expect(parsed.parameters['lambdaSample[0]']).toBe('2');
  for (const image of composed.images) {
    expect(parsed.imageCoefficients[image.sopInstanceUid].js).toBe(image.js);
    expect(parsed.imageCoefficients[image.sopInstanceUid].lambda).toBe(image.lambdaFinal);
  }
});

test('without a sample nothing changes: no sample fields in results or the SR', async () => {
  const study = '2.25.2000';
  const inputs = syntheticSeries(study, '2.25.2001', 3, 3);
  const policy = defaultPolicyConfig('t3b');
  const outcomes = await classifyImages(engine, inputs, { policy, batchSize: 8, framePolicy: 'middle' });
  const composed = composeClassification(outcomes, { triage: { rules: [], disagreement: {} }, listNonImages: true });
  expect(composed.images.every((i) => i.coefficientSampled === null && i.js !== null)).toBe(true);
  expect(composed.batches[0].coefficientSampleSize).toBeNull();
  const built = buildAiResultSr({ ...srInputFor(composed, engine.bundle.manifest, policy, 8), contentDateTime: new Date('2026-01-01T00:00:00Z') });
  const parsed = parseAiResultSr(built.bytes);
  expect(parsed.coefficientSample).toBeNull();
  expect(Object.keys(parsed.parameters).some((k) => k.startsWith('lambdaSample') || k.startsWith('imageSampled'))).toBe(false);
});
