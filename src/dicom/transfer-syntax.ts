/** How the bytes of a transfer syntax are laid out and which decoder turns its frames into samples. */
export type FrameEncoding =
  | 'native'
  | 'rle'
  | 'jpeg-baseline'
  | 'jpeg-lossless'
  | 'jpeg-ls'
  | 'jpeg-2000'
  | 'htj2k';

export interface TransferSyntax {
  uid: string;
  name: string;
  explicitVr: boolean;
  littleEndian: boolean;
  deflated: boolean;
  encoding: FrameEncoding;
  /** True when decoding reproduces the encoder's input exactly. */
  lossless: boolean;
}

function ts(uid: string, name: string, encoding: FrameEncoding, lossless: boolean,
  layout: Partial<Pick<TransferSyntax, 'explicitVr' | 'littleEndian' | 'deflated'>> = {}): TransferSyntax {
  return { uid, name, encoding, lossless, explicitVr: layout.explicitVr ?? true,
    littleEndian: layout.littleEndian ?? true, deflated: layout.deflated ?? false };
}

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

const KNOWN: TransferSyntax[] = [
  ts(IMPLICIT_VR_LITTLE_ENDIAN, 'Implicit VR Little Endian', 'native', true, { explicitVr: false }),
  ts(EXPLICIT_VR_LITTLE_ENDIAN, 'Explicit VR Little Endian', 'native', true),
  ts('1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian', 'native', true, { deflated: true }),
  ts(EXPLICIT_VR_BIG_ENDIAN, 'Explicit VR Big Endian', 'native', true, { littleEndian: false }),
  ts('1.2.840.10008.1.2.5', 'RLE Lossless', 'rle', true),
  ts('1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', 'jpeg-baseline', false),
  ts('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', 'jpeg-baseline', false),
  ts('1.2.840.10008.1.2.4.57', 'JPEG Lossless (Process 14)', 'jpeg-lossless', true),
  ts('1.2.840.10008.1.2.4.70', 'JPEG Lossless SV1 (Process 14)', 'jpeg-lossless', true),
  ts('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', 'jpeg-ls', true),
  ts('1.2.840.10008.1.2.4.81', 'JPEG-LS Near-Lossless', 'jpeg-ls', false),
  ts('1.2.840.10008.1.2.4.90', 'JPEG 2000 Lossless Only', 'jpeg-2000', true),
  ts('1.2.840.10008.1.2.4.91', 'JPEG 2000', 'jpeg-2000', false),
  ts('1.2.840.10008.1.2.4.201', 'HTJ2K Lossless', 'htj2k', true),
  ts('1.2.840.10008.1.2.4.202', 'HTJ2K Lossless RPCL', 'htj2k', true),
  ts('1.2.840.10008.1.2.4.203', 'HTJ2K', 'htj2k', false),
];

const BY_UID = new Map(KNOWN.map((t) => [t.uid, t]));

export function findTransferSyntax(uid: string): TransferSyntax | undefined {
  return BY_UID.get(uid.replace(/\0/g, '').trim());
}
