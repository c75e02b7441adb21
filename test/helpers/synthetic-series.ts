/**
 * Synthetic DICOM series for the end-to-end classification tests: secondary-capture DX images of the demo bundle's
 * 64×64 input size, so that no resize enters the results. The pixels come from a seeded linear congruential
 * generator, so a test's batches and λ_B are the same on every run, and every image of a series differs from the
 * others (an estimator that samples or reuses images has distinct inputs to tell apart).
 */
import { pixelArrayToDicom } from '../../src/dicom/secondary-capture';

export interface NamedDicom {
  name: string;
  bytes: Uint8Array;
}

/** n 64×64 8-bit images of one series, named `${seriesUid}-${index}`; `seed` fixes every pixel. */
export function syntheticSeries(study: string, seriesUid: string, n: number, seed: number): NamedDicom[] {
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
