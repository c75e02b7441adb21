import { DicomError } from './errors';

/** The Image Pixel module attributes that decide how stored bytes become sample values. */
export interface PixelLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  /** 0 = colour-by-pixel (R G B R G B …), 1 = colour-by-plane (R… G… B…). */
  planarConfiguration: number;
  photometricInterpretation: string;
  numberOfFrames: number;
}

const SUPPORTED_PHOTOMETRIC = new Set(['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR', 'RGB', 'YBR_FULL',
  'YBR_FULL_422', 'YBR_RCT', 'YBR_ICT']);

function num(header: Record<string, unknown>, keyword: string): number | undefined {
  const raw = header[keyword];
  const value = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw === undefined || raw === null || raw === '' || !Number.isFinite(value) ? undefined : value;
}

export function readPixelLayout(header: Record<string, unknown>, source: string): PixelLayout {
  const rows = num(header, 'Rows');
  const columns = num(header, 'Columns');
  const bitsAllocated = num(header, 'BitsAllocated');
  if (!rows || !columns || rows < 1 || columns < 1) {
    throw new DicomError('no-pixel-data', `Rows/Columns missing or zero (${rows ?? '-'}×${columns ?? '-'})`, source);
  }
  if (bitsAllocated === undefined || ![1, 8, 16, 32].includes(bitsAllocated)) {
    throw new DicomError('pixel-length', `BitsAllocated ${bitsAllocated ?? 'missing'} is not 1, 8, 16 or 32`, source);
  }
  const bitsStored = num(header, 'BitsStored') ?? bitsAllocated;
  const highBit = num(header, 'HighBit') ?? bitsStored - 1;
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated) {
    throw new DicomError('pixel-length',
      `inconsistent BitsAllocated/BitsStored/HighBit ${bitsAllocated}/${bitsStored}/${highBit}`, source);
  }
  const samplesPerPixel = num(header, 'SamplesPerPixel') ?? 1;
  const photometricRaw = header.PhotometricInterpretation;
  const photometricInterpretation = String((Array.isArray(photometricRaw) ? photometricRaw[0] : photometricRaw)
    ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  if (!SUPPORTED_PHOTOMETRIC.has(photometricInterpretation)) {
    throw new DicomError('unsupported-photometric', `PhotometricInterpretation ${photometricInterpretation} is not supported`, source);
  }
  const expectedSamples = photometricInterpretation.startsWith('MONO') || photometricInterpretation === 'PALETTE COLOR' ? 1 : 3;
  if (samplesPerPixel !== expectedSamples) {
    throw new DicomError('unsupported-photometric',
      `SamplesPerPixel ${samplesPerPixel} does not fit PhotometricInterpretation ${photometricInterpretation}`, source);
  }
  return {
    rows, columns, samplesPerPixel, bitsAllocated, bitsStored, highBit,
    signed: num(header, 'PixelRepresentation') === 1,
    planarConfiguration: num(header, 'PlanarConfiguration') === 1 ? 1 : 0,
    photometricInterpretation,
    numberOfFrames: Math.max(1, Math.trunc(num(header, 'NumberOfFrames') ?? 1)),
  };
}

/** Samples one native frame stores: YBR_FULL_422 keeps two luma samples per chroma pair (PS3.3 C.7.6.3.1.2). */
export function nativeSamplesPerFrame(layout: PixelLayout): number {
  const pixels = layout.rows * layout.columns;
  return layout.photometricInterpretation === 'YBR_FULL_422' ? pixels * 2 : pixels * layout.samplesPerPixel;
}

/** Bytes one native frame occupies; 1-bit frames may start inside a byte, hence the bit count as well. */
export function nativeFrameBits(layout: PixelLayout): number {
  return nativeSamplesPerFrame(layout) * layout.bitsAllocated;
}
