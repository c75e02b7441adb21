/**
 * The one builder of a Part 10 file's header (PS3.10 §7.1): the 128-byte preamble, "DICM", and the File Meta
 * Information group, which is always Explicit VR Little Endian whatever the dataset's transfer syntax. Every file
 * this project writes, kept or only handed to a decoder, starts with these bytes. Byte-level on purpose: the frame
 * workers wrap single frames with it and need not load a DICOM library for that.
 */

/** What the file meta group says about the dataset that follows it. */
export interface FileMetaIdentity {
  transferSyntaxUid: string;
  /**
   * Media Storage SOP Class and Instance UIDs. Left out only for a transient wrapper that is read back at once and
   * never stored or sent (a bare dataset handed to dcmjs, whose class is not known yet).
   */
  sopClassUid?: string;
  sopInstanceUid?: string;
}

/**
 * Identifies orthanc-t3 as the writer of a file: the 2.25 form of the first 128 bits of
 * SHA-256("orthanc-t3/implementation-class\n" + '"orthanc-t3"'), the value report/'s deriveUid gives the SR writer,
 * so every file the project writes names the same implementation.
 */
export const ORTHANC_T3_IMPLEMENTATION_CLASS_UID = '2.25.27300948071763934528744635069232451007';
export const ORTHANC_T3_IMPLEMENTATION_VERSION_NAME = 'ORTHANC_T3';

/** VRs whose explicit-VR header has two reserved bytes and a 32-bit length. */
const LONG_HEADER_VRS = new Set(['OB']);

function metaElement(elementNumber: number, vr: string, value: Uint8Array): Buffer {
  const long = LONG_HEADER_VRS.has(vr);
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(0x0002, 0);
  head.writeUInt16LE(elementNumber, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

/** A UI value padded to even length with NUL, an SH value with a space (PS3.5 §6.2). */
function padded(value: string, pad: '\0' | ' '): Buffer {
  return Buffer.from(value.length % 2 ? value + pad : value, 'latin1');
}

/** Preamble, "DICM" and the file meta group for `identity`. */
export function part10Header(identity: FileMetaIdentity): Uint8Array {
  const elements = Buffer.concat([
    metaElement(0x0001, 'OB', Uint8Array.of(0, 1)),
    ...(identity.sopClassUid !== undefined ? [metaElement(0x0002, 'UI', padded(identity.sopClassUid, '\0'))] : []),
    ...(identity.sopInstanceUid !== undefined ? [metaElement(0x0003, 'UI', padded(identity.sopInstanceUid, '\0'))] : []),
    metaElement(0x0010, 'UI', padded(identity.transferSyntaxUid, '\0')),
    metaElement(0x0012, 'UI', padded(ORTHANC_T3_IMPLEMENTATION_CLASS_UID, '\0')),
    metaElement(0x0013, 'SH', padded(ORTHANC_T3_IMPLEMENTATION_VERSION_NAME, ' ')),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(elements.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), metaElement(0x0000, 'UL', groupLength), elements]);
}

/** A Part 10 file around dataset bytes already encoded in `identity.transferSyntaxUid`. */
export function wrapEncodedDataset(identity: FileMetaIdentity, encodedDataset: Uint8Array): Uint8Array {
  const header = part10Header(identity);
  const file = new Uint8Array(header.length + encodedDataset.length);
  file.set(header, 0);
  file.set(encodedDataset, header.length);
  return file;
}
