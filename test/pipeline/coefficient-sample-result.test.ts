/**
 * T3B with λ_B from a sample, end to end: DICOM images of two series of one study in one batch, classified with
 * batching.coefficientSample = 2; the sample (one image per series) is recorded per image and per batch in the
 * composed result, and in the SR's algorithm parameters, which parse back.
 */
import { pixelArrayToDicom } from '../../src/dicom/secondary-capture';
import { loadBundle, demoBundleDir, T3Engine } from '../../src/engine';
import { classifyImages } from '../../src/pipeline/classification/classify-images';
import { composeClassification, srInputFor } from '../../src/pipeline/classification/compose-study-result';
import { buildAiResultSr, parseAiResultSr } from '../../src/report';
import { defaultPolicyConfig } from '../../src/t3';

let engine: T3Engine;

beforeAll(async () => {
  engine = await T3Engine.open(await loadBundle(demoBundleDir()), { executionProviders: ['cpu'], fixedPassSessions: 'plain', log: () => undefined });
});

afterAll(async () => {
  await engine?.close();
});

/** n 64×64 8-bit images of one series (distinct pixels per image). */
function series(study: string, seriesUid: string, n: number, seed: number): { name: string; bytes: Uint8Array }[] {
  return Array.from({ length: n }, (_, i) => {
    const data = new Uint8Array(64 * 64);
    let s = (seed * 7919 + i * 104729) >>> 0;
    for (let p = 0; p < data.length; p++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[p] = s >>> 24;
    }
    const bytes = pixelArrayToDicom({
      rows: 64, columns: 64, samplesPerPixel: 1, photometricInterpretation: 'MONOCHROME2', bitsAllocated: 8, bitsStored: 8,
      signed: false, numberOfFrames: 1, data, modality: 'DX',
    }, { studyInstanceUid: study, seriesInstanceUid: seriesUid }, i);
    return { name: `${seriesUid}-${i}`, bytes };
  });
}

test('the sample spreads across the series, and results and the SR record it', async () => {
  const study = '2.25.1000';
  const inputs = [...series(study, '2.25.1001', 5, 1), ...series(study, '2.25.1002', 3, 2)];
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
  const inputs = series(study, '2.25.2001', 3, 3);
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
