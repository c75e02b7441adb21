import dcmjs from 'dcmjs';
import type { LambdaEstimateRecord } from '../t3/sequential-lambda-estimation';
import { parseLambdaEstimateText, parseParameterTexts } from './algorithm-parameters';
import { CODES } from './codes';
import { ReportError } from './errors';
import type { LabelCode, ParsedAiResult, ParsedFindingGroup, ParsedImageReference, SrReference } from './types';

type Dataset = Record<string, unknown>;

/**
 * dcmjs 0.51 decodes text inside sequence items as latin1 even when ISO_IR 192 is declared (upstream #503/#508).
 * A string of code points ≤ 0xFF that is valid UTF-8 when taken as bytes is such a mis-decoding; anything else
 * (already correct text, or genuine latin1 that is not valid UTF-8) is left alone.
 */
function repairUtf8(text: string, utf8: boolean): string {
  // eslint-disable-next-line no-control-regex
  if (!utf8 || /^[\x00-\x7f]*$/.test(text) || /[^\x00-\xff]/.test(text)) return text;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(text, 'latin1'));
  } catch {
    return text;
  }
}

function sequence(dataset: Dataset, key: string): Dataset[] {
  const value = dataset[key];
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]) as Dataset[];
}

function single(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

function text(value: unknown, utf8: boolean): string {
  const v = single(value);
  return typeof v === 'string' ? repairUtf8(v, utf8) : typeof v === 'number' ? String(v) : '';
}

class TreeReader {
  constructor(private readonly utf8: boolean) {}

  code(item: Dataset | undefined): LabelCode {
    if (!item) return { value: '', scheme: '', meaning: '' };
    return {
      value: text(item.CodeValue ?? item.LongCodeValue ?? item.URNCodeValue, this.utf8),
      scheme: text(item.CodingSchemeDesignator, this.utf8),
      meaning: text(item.CodeMeaning, this.utf8),
    };
  }

  concept(item: Dataset): LabelCode { return this.code(sequence(item, 'ConceptNameCodeSequence')[0]); }

  valueCode(item: Dataset): LabelCode { return this.code(sequence(item, 'ConceptCodeSequence')[0]); }

  text(item: Dataset): string { return text(item.TextValue, this.utf8); }

  image(item: Dataset): ParsedImageReference {
    const ref = sequence(item, 'ReferencedSOPSequence')[0] ?? {};
    const frame = single(ref.ReferencedFrameNumber);
    return {
      sopClassUid: text(ref.ReferencedSOPClassUID, false),
      sopInstanceUid: text(ref.ReferencedSOPInstanceUID, false),
      ...(frame !== undefined && frame !== null && frame !== '' ? { frameNumber: Number(frame) } : {}),
    };
  }

  children(item: Dataset): Dataset[] { return sequence(item, 'ContentSequence'); }

  find(items: Dataset[], concept: LabelCode): Dataset[] {
    return items.filter((child) => {
      const c = this.concept(child);
      return c.value === concept.value && c.scheme === concept.scheme;
    });
  }

  /** The one item of `items` with this concept name; ReportError at `where` when there is none or more than one. */
  one(items: Dataset[], concept: LabelCode, where: string): Dataset {
    const found = this.find(items, concept);
    if (found.length !== 1) throw new ReportError(where, `expected one "${concept.meaning}", found ${found.length}`);
    return found[0];
  }
}

function sameCode(a: LabelCode, b: LabelCode): boolean { return a.value === b.value && a.scheme === b.scheme; }

function reference(item: Dataset | undefined): SrReference | null {
  if (!item) return null;
  const series = sequence(item, 'ReferencedSeriesSequence')[0] ?? {};
  const sop = sequence(series, 'ReferencedSOPSequence')[0] ?? {};
  return {
    studyInstanceUid: text(item.StudyInstanceUID, false),
    seriesInstanceUid: text(series.SeriesInstanceUID, false),
    sopInstanceUid: text(sop.ReferencedSOPInstanceUID, false),
    sopClassUid: text(sop.ReferencedSOPClassUID, false),
  };
}

/** The coefficients the algorithm parameters record: λ per batch, λ and JS per image, the coefficient sample. */
function coefficientsOf(parameters: Record<string, string>): Pick<ParsedAiResult, 'batchLambdas' | 'imageCoefficients' | 'coefficientSample' | 'lambdaEstimates'> {
  const batchLambdas: number[] = [];
  const imageCoefficients: ParsedAiResult['imageCoefficients'] = {};
  const batchSampleSizes: (number | null)[] = [];
  const sampledImages: string[] = [];
  const lambdaEstimates: (LambdaEstimateRecord | null)[] = [];
  let sampled = false;
  for (const [key, value] of Object.entries(parameters)) {
    const batch = /^lambda\[(\d+)\]$/.exec(key);
    if (batch) batchLambdas[Number(batch[1])] = Number(value);
    const sampleSize = /^lambdaSample\[(\d+)\]$/.exec(key);
    if (sampleSize) {
      sampled = true;
      batchSampleSizes[Number(sampleSize[1])] = value === 'all' ? null : Number(value);
    }
    const estimate = /^lambdaEstimate\[(\d+)\]$/.exec(key);
    if (estimate) lambdaEstimates[Number(estimate[1])] = parseLambdaEstimateText(value);
    const inSample = /^imageSampled\[(.+)\]$/.exec(key);
    if (inSample && value === 'true') sampledImages.push(inSample[1]);
    const perImage = /^image(Lambda|Js)\[(.+)\]$/.exec(key);
    if (perImage) {
      const entry = imageCoefficients[perImage[2]] ?? { lambda: NaN, js: null };
      if (perImage[1] === 'Lambda') entry.lambda = Number(value); else entry.js = Number(value);
      imageCoefficients[perImage[2]] = entry;
    }
  }
  return {
    batchLambdas,
    imageCoefficients,
    coefficientSample: sampled ? { batchSampleSizes, sampledImages } : null,
    // Parallel to batchLambdas; a batch without an estimate record is null.
    lambdaEstimates: lambdaEstimates.length > 0 ? batchLambdas.map((_, i) => lambdaEstimates[i] ?? null) : [],
  };
}

/** TID 1501 measurement groups: one per finding, with its certainty and the image it was found on. */
function findingGroupsOf(reader: TreeReader, measurementItems: Dataset[]): ParsedFindingGroup[] {
  return reader.find(measurementItems, CODES.measurementGroup).map((group, g) => {
    const items = reader.children(group);
    const where = `Measurement Group ${g + 1}`;
    const certainty = sequence(reader.one(items, CODES.certaintyOfFinding, where), 'MeasuredValueSequence')[0] ?? {};
    const source = reader.find(items, CODES.sourceOfMeasurement)[0];
    return {
      trackingIdentifier: reader.text(reader.one(items, CODES.trackingIdentifier, where)),
      trackingUid: text(reader.one(items, CODES.trackingUniqueIdentifier, where).UID, false),
      code: reader.valueCode(reader.one(items, CODES.finding, where)),
      probability: Number(single(certainty.NumericValue)) / 100,
      image: source ? reader.image(source) : null,
    };
  });
}

/** The Qualitative Evaluations container: priority, whether a person must review, and the two reasons given. */
function evaluationsOf(reader: TreeReader, top: Dataset[]): Pick<ParsedAiResult, 'priority' | 'needsHumanReview' | 'reviewReason' | 'priorityReason'> {
  const evaluations = reader.children(reader.one(top, CODES.qualitativeEvaluations, 'Qualitative Evaluations'));
  const priorityValue = reader.valueCode(reader.one(evaluations, CODES.priority, 'Qualitative Evaluations'));
  const priority = sameCode(priorityValue, CODES.emergency) ? 'emergency'
    : sameCode(priorityValue, CODES.urgency) ? 'urgent' : 'routine';
  const needsHumanReview = reader.find(evaluations, CODES.recommendation)
    .some((item) => sameCode(reader.valueCode(item), CODES.needsHumanReview));
  const comment = reader.find(evaluations, CODES.comment)[0];
  const priorityComment = reader.find(evaluations, CODES.priorityReason)[0];
  return {
    priority,
    needsHumanReview,
    reviewReason: comment ? reader.text(comment) : null,
    priorityReason: priorityComment ? reader.text(priorityComment) : null,
  };
}

/** The evidence the SR lists (CurrentRequestedProcedureEvidenceSequence), flattened to one entry per instance. */
function evidenceOf(root: Dataset): ParsedAiResult['evidence'] {
  return sequence(root, 'CurrentRequestedProcedureEvidenceSequence').flatMap((study) =>
    sequence(study, 'ReferencedSeriesSequence').flatMap((series) =>
      sequence(series, 'ReferencedSOPSequence').map((sop) => ({
        studyInstanceUid: text(study.StudyInstanceUID, false),
        seriesInstanceUid: text(series.SeriesInstanceUID, false),
        sopClassUid: text(sop.ReferencedSOPClassUID, false),
        sopInstanceUid: text(sop.ReferencedSOPInstanceUID, false),
      }))));
}

/** Decodes a Part 10 file into dcmjs's naturalized dataset; ReportError when it is not DICOM. */
function readDataset(bytes: Uint8Array): Dataset {
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(buffer).dict);
  } catch (error) {
    throw new ReportError('bytes', `not a readable DICOM file: ${(error as Error).message}`);
  }
}

/** Reads an SR written by buildAiResultSr back into its findings, λ and references (round trip). */
export function parseAiResultSr(bytes: Uint8Array): ParsedAiResult {
  const root = readDataset(bytes);
  const charset = single(root.SpecificCharacterSet);
  const reader = new TreeReader(charset === 'ISO_IR 192');
  const rootConcept = reader.concept(root);
  if (root.ValueType !== 'CONTAINER' || !sameCode(rootConcept, CODES.imagingMeasurementReport)) {
    throw new ReportError('bytes', 'not a TID 1500 Imaging Measurement Report');
  }
  const top = reader.children(root);
  const library = reader.one(top, CODES.imageLibrary, 'Image Library');
  const imageLibrary = reader.children(library).flatMap((group) => reader.children(group)
    .filter((child) => child.ValueType === 'IMAGE').map((child) => reader.image(child)));

  const measurements = reader.one(top, CODES.imagingMeasurements, 'Imaging Measurements');
  const measurementItems = reader.children(measurements);
  const parameterTexts = reader.find(measurementItems, CODES.algorithmParameters).map((item) => reader.text(item));
  const parameters = parseParameterTexts(parameterTexts);
  const deviceItem = reader.find(top, CODES.deviceObserverUid)[0];
  const equipment = sequence(root, 'ContributingEquipmentSequence')[0] ?? {};

  return {
    studyInstanceUid: text(root.StudyInstanceUID, false),
    seriesInstanceUid: text(root.SeriesInstanceUID, false),
    sopInstanceUid: text(root.SOPInstanceUID, false),
    sopClassUid: text(root.SOPClassUID, false),
    patientId: text(root.PatientID, false),
    deviceUid: deviceItem ? text(deviceItem.UID, false) : '',
    contributingDeviceUid: text(equipment.DeviceUID, false),
    algorithmName: reader.text(reader.one(measurementItems, CODES.algorithmName, 'Imaging Measurements')),
    algorithmVersion: reader.text(reader.one(measurementItems, CODES.algorithmVersion, 'Imaging Measurements')),
    parameters,
    method: parameters.method ?? '',
    demonstration: parameters.demonstration === 'true',
    ...coefficientsOf(parameters),
    imageLibrary,
    groups: findingGroupsOf(reader, measurementItems),
    ...evaluationsOf(reader, top),
    evidence: evidenceOf(root),
    predecessor: reference(sequence(root, 'PredecessorDocumentsSequence')[0]),
    specificCharacterSet: typeof charset === 'string' ? charset : null,
  };
}
