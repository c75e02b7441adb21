/**
 * The one Part 10 writer: its header read back by DCMTK (dcmdump) and by dcmjs, datasets in more than one transfer
 * syntax, and the implementation identity it shares with the SR writer in report/.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  dcmjs, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, ORTHANC_T3_IMPLEMENTATION_CLASS_UID, part10Header,
  readDicomInfo, SECONDARY_CAPTURE_IMAGE_STORAGE, wrapEncodedDataset, writePart10,
} from '../../src/dicom';
import { deriveUid } from '../../src/report/uids';
import { tempDir } from './helpers';

const identity = { transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE, sopInstanceUid: '2.25.7' };

function dcmdump(bytes: Uint8Array): string {
  const dir = tempDir('writer');
  try {
    const file = path.join(dir, 'written.dcm');
    fs.writeFileSync(file, bytes);
    return execFileSync('dcmdump', ['-M', file], { encoding: 'utf8' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function metaOf(bytes: Uint8Array): Record<string, unknown> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(buffer).meta);
}

test('the header is preamble, DICM and a meta group whose length DCMTK accepts', () => {
  const header = part10Header(identity);
  expect(Buffer.from(header.subarray(0, 128)).equals(Buffer.alloc(128))).toBe(true);
  expect(Buffer.from(header.subarray(128, 132)).toString('latin1')).toBe('DICM');
  // (0002,0000) UL counts every meta byte after itself.
  expect(Buffer.from(header).readUInt32LE(140)).toBe(header.length - 144);
  const dump = dcmdump(writePart10(identity, {}));
  expect(dump).toContain('(0002,0001) OB 00\\01');
  expect(dump).toContain('(0002,0002) UI =SecondaryCaptureImageStorage');
  expect(dump).toContain('(0002,0003) UI [2.25.7]');
  expect(dump).toContain('(0002,0010) UI =LittleEndianExplicit');
  expect(dump).toContain(`(0002,0012) UI [${ORTHANC_T3_IMPLEMENTATION_CLASS_UID}]`);
  expect(dump).toContain('(0002,0013) SH [ORTHANC_T3]');
});

test('every file the project writes names the implementation the SR writer names', () => {
  expect(ORTHANC_T3_IMPLEMENTATION_CLASS_UID).toBe(deriveUid('implementation-class', 'orthanc-t3'));
});

test('a dcmjs dataset is written in the transfer syntax the meta group names, and reads back', () => {
  const dataset = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    SOPClassUID: SECONDARY_CAPTURE_IMAGE_STORAGE, SOPInstanceUID: '2.25.7', StudyInstanceUID: '2.25.8', SeriesInstanceUID: '2.25.9',
    Modality: 'OT', Rows: 2, Columns: 2,
  });
  for (const transferSyntaxUid of [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]) {
    const bytes = writePart10({ ...identity, transferSyntaxUid }, dataset);
    expect(metaOf(bytes)).toMatchObject({ TransferSyntaxUID: transferSyntaxUid, MediaStorageSOPInstanceUID: '2.25.7' });
    const info = readDicomInfo(bytes);
    expect(info).toMatchObject({ transferSyntaxUid, sopInstanceUid: '2.25.7', rows: 2, columns: 2, modality: 'OT' });
    expect(dcmdump(bytes)).toContain(transferSyntaxUid === IMPLICIT_VR_LITTLE_ENDIAN ? 'Used TransferSyntax: Little Endian Implicit' : 'Used TransferSyntax: Little Endian Explicit');
  }
});

test('already-encoded dataset bytes are wrapped unchanged after the header', () => {
  const encoded = Uint8Array.of(0x08, 0x00, 0x60, 0x00, 0x02, 0x00, 0x00, 0x00, 0x4f, 0x54); // (0008,0060) "OT", implicit VR
  const file = wrapEncodedDataset({ transferSyntaxUid: IMPLICIT_VR_LITTLE_ENDIAN }, encoded);
  const header = part10Header({ transferSyntaxUid: IMPLICIT_VR_LITTLE_ENDIAN });
  expect(Buffer.from(file.subarray(0, header.length)).equals(Buffer.from(header))).toBe(true);
  expect(Buffer.from(file.subarray(header.length)).equals(Buffer.from(encoded))).toBe(true);
  expect(dcmdump(file)).toContain('(0008,0060) CS [OT]');
});
