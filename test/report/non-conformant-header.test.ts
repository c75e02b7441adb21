/**
 * Real sites send headers that break their VRs. Each case below ends in an SR that dciodvfy and dsrdump accept,
 * that names the adjusted attributes (never their values) among its algorithm parameters, and that keeps the
 * study's identity (PatientID, StudyInstanceUID) exactly as the source has it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dcmjs from 'dcmjs';
import { buildAiResultSr, parseAiResultSr, ReportError, type SrInput } from '../../src/report';
import { sourceModules } from '../../src/report/source-modules';
import { algorithm, FIXED_TIME, imageResult, rankedFindings, ROUTINE, sampleHeader } from './sr-fixtures';
import { dciodvfy, dsrdump } from './validators';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'non-conformant-header-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function input(overrides: Record<string, unknown>): SrInput {
  const header = { ...sampleHeader('pydicom_CT_small.dcm'), ...overrides };
  return { sourceHeader: header, images: [imageResult(header, rankedFindings(2))], algorithm: algorithm(), triage: ROUTINE, contentDateTime: FIXED_TIME };
}

function readBack(bytes: Uint8Array): Record<string, unknown> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(buffer).dict);
}

const pn = (text: string): unknown => [{ Alphabetic: text }];

const CASES: { name: string; overrides: Record<string, unknown>; adjusted: string[] }[] = [
  { name: 'AccessionNumber of 17 characters', overrides: { AccessionNumber: 'RIS-2026-00012345X' }, adjusted: ['AccessionNumber'] },
  { name: 'StudyID of 20 characters', overrides: { StudyID: 'STUDY-ID-000000000042' }, adjusted: ['StudyID'] },
  { name: 'StudyDescription of 77 characters', overrides: { StudyDescription: 'CT THORAX ABDOMEN PELVIS WITH CONTRAST '.repeat(2) }, adjusted: ['StudyDescription'] },
  { name: 'PatientName component of 70 characters', overrides: { PatientName: pn(`${'X'.repeat(70)}^JOHN`) }, adjusted: ['PatientName'] },
  { name: 'ReferringPhysicianName of 92 characters', overrides: { ReferringPhysicianName: pn(`DR ${'REFERRING'.repeat(10)}^A`) }, adjusted: ['ReferringPhysicianName'] },
  { name: 'U+202E override in a UTF-8 PatientName', overrides: { PatientName: pn('DOE^\u202eNHOJ') }, adjusted: ['PatientName'] },
  { name: 'control characters in the AccessionNumber', overrides: { AccessionNumber: 'A\u0007B\u001bC' }, adjusted: ['AccessionNumber'] },
  { name: 'malformed PatientAge and lowercase PatientSex', overrides: { PatientAge: '45 years', PatientSex: 'm' }, adjusted: ['PatientAge', 'PatientSex'] },
];

describe.each(CASES.map((c) => [c.name, c] as const))('%s', (name, c) => {
  const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.dcm`);
  let built: ReturnType<typeof buildAiResultSr>;
  beforeAll(() => {
    built = buildAiResultSr(input(c.overrides));
    fs.writeFileSync(file, built.bytes);
  });

  it('is written, names the adjusted attributes and keeps the identity', () => {
    expect(built.adjustedSourceAttributes).toEqual(c.adjusted);
    expect(built.nonConformantSourceAttributes).toEqual([]);
    const parsed = parseAiResultSr(built.bytes);
    expect(parsed.parameters.sourceAttributesAdjusted).toBe(c.adjusted.join(','));
    const source = sampleHeader('pydicom_CT_small.dcm');
    expect(parsed.patientId).toBe(source.PatientID);
    expect(parsed.studyInstanceUid).toBe(source.StudyInstanceUID);
  });

  it('passes dciodvfy and dsrdump -v with no error', async () => {
    const result = await dciodvfy(file);
    expect(result.findings.filter((l) => l.startsWith('Error'))).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect((await dsrdump(file)).findings).toEqual([]);
  });
});

it('cuts on a character boundary and keeps what fits', () => {
  const long = 'RIS-2026-00012345X';
  const out = readBack(buildAiResultSr(input({ AccessionNumber: long, PatientName: pn('MÜLLER^ÉMILE\u202e') })).bytes);
  expect(out.AccessionNumber).toBe(long.slice(0, 16));
  expect((out.PatientName as { Alphabetic: string }[])[0].Alphabetic).toBe('MÜLLER^ÉMILE');
  expect(out.SpecificCharacterSet).toBe('ISO_IR 192');
});

it('leaves out an unusable optional attribute and empties an unusable Type 2 one', () => {
  const modules = sourceModules({ ...sampleHeader('pydicom_CT_small.dcm'), PatientAge: 'forty', StudyDate: 'yesterday' });
  expect(modules.attributes).not.toHaveProperty('PatientAge');
  expect(modules.attributes.StudyDate).toBe('');
  expect(modules.adjusted).toEqual(['PatientAge', 'StudyDate']);
});

it('a conformant header is copied unchanged and nothing is reported', () => {
  const header = sampleHeader('pydicom_CT_small.dcm');
  const modules = sourceModules(header);
  expect(modules.adjusted).toEqual([]);
  expect(modules.attributes.AccessionNumber).toEqual(header.AccessionNumber ?? '');
  expect(parseAiResultSr(buildAiResultSr(input({})).bytes).parameters).not.toHaveProperty('sourceAttributesAdjusted');
});

it('a PatientID that breaks its VR is kept byte for byte (the archive files the SR under it) and reported', () => {
  const patientId = 'ID\u001b\u0007X';
  const built = buildAiResultSr(input({ PatientID: patientId }));
  expect(built.nonConformantSourceAttributes).toEqual(['PatientID']);
  expect(readBack(built.bytes).PatientID).toBe(patientId);
  expect(parseAiResultSr(built.bytes).parameters.sourceAttributesNonConformant).toBe('PatientID');
});

it('a PatientID longer than its VR cannot be written without changing the patient: a ReportError names it', () => {
  expect(() => buildAiResultSr(input({ PatientID: 'P'.repeat(65) }))).toThrow(ReportError);
  try {
    buildAiResultSr(input({ PatientID: 'P'.repeat(65) }));
  } catch (err) {
    expect((err as ReportError).field).toBe('sourceHeader.PatientID');
    expect((err as ReportError).category).toBe('invalid-argument');
  }
});

it('sequences are conformed item by item', () => {
  const modules = sourceModules({ ...sampleHeader('pydicom_CT_small.dcm'),
    OtherPatientIDsSequence: [{ PatientID: 'OTHER', TypeOfPatientID: 'text', IssuerOfPatientID: 'I'.repeat(70) }] });
  const item = (modules.attributes.OtherPatientIDsSequence as Record<string, unknown>[])[0];
  expect(item.PatientID).toBe('OTHER');
  expect(item.TypeOfPatientID).toBe('TEXT');
  expect(item.IssuerOfPatientID).toBe('I'.repeat(64));
  expect(modules.adjusted).toEqual(['OtherPatientIDsSequence.IssuerOfPatientID', 'OtherPatientIDsSequence.TypeOfPatientID']);
});
