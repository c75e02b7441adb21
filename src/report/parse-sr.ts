import dcmjs from 'dcmjs';
import { parseParameterTexts } from './algorithm-parameters';
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

/** Reads an SR written by buildAiResultSr back into its findings, λ and references (round trip). */
export function parseAiResultSr(bytes: Uint8Array): ParsedAiResult {
  let root: Dataset;
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    root = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(buffer).dict);
  } catch (error) {
    throw new ReportError('bytes', `not a readable DICOM file: ${(error as Error).message}`);
  }
  const charset = single(root.SpecificCharacterSet);
  const reader = new TreeReader(charset === 'ISO_IR 192');
  const rootConcept = reader.concept(root);
  if (root.ValueType !== 'CONTAINER' || !sameCode(rootConcept, CODES.imagingMeasurementReport)) {
    throw new ReportError('bytes', 'not a TID 1500 Imaging Measurement Report');
  }
  const top = reader.children(root);
  const one = (items: Dataset[], concept: LabelCode, where: string): Dataset => {
    const found = reader.find(items, concept);
    if (found.length !== 1) throw new ReportError(where, `expected one "${concept.meaning}", found ${found.length}`);
    return found[0];
  };

  const library = one(top, CODES.imageLibrary, 'Image Library');
  const imageLibrary = reader.children(library).flatMap((group) => reader.children(group)
    .filter((child) => child.ValueType === 'IMAGE').map((child) => reader.image(child)));

  const measurements = one(top, CODES.imagingMeasurements, 'Imaging Measurements');
  const measurementItems = reader.children(measurements);
  const parameterTexts = reader.find(measurementItems, CODES.algorithmParameters).map((item) => reader.text(item));
  const parameters = parseParameterTexts(parameterTexts);
  const batchLambdas: number[] = [];
  const imageCoefficients: ParsedAiResult['imageCoefficients'] = {};
  const batchSampleSizes: (number | null)[] = [];
  const sampledImages: string[] = [];
  let sampled = false;
  for (const [key, value] of Object.entries(parameters)) {
    const batch = /^lambda\[(\d+)\]$/.exec(key);
    if (batch) batchLambdas[Number(batch[1])] = Number(value);
    const sampleSize = /^lambdaSample\[(\d+)\]$/.exec(key);
    if (sampleSize) {
      sampled = true;
      batchSampleSizes[Number(sampleSize[1])] = value === 'all' ? null : Number(value);
    }
    const inSample = /^imageSampled\[(.+)\]$/.exec(key);
    if (inSample && value === 'true') sampledImages.push(inSample[1]);
    const perImage = /^image(Lambda|Js)\[(.+)\]$/.exec(key);
    if (perImage) {
      const entry = imageCoefficients[perImage[2]] ?? { lambda: NaN, js: null };
      if (perImage[1] === 'Lambda') entry.lambda = Number(value); else entry.js = Number(value);
      imageCoefficients[perImage[2]] = entry;
    }
  }

  const groups: ParsedFindingGroup[] = reader.find(measurementItems, CODES.measurementGroup).map((group, g) => {
    const items = reader.children(group);
    const where = `Measurement Group ${g + 1}`;
    const certainty = sequence(one(items, CODES.certaintyOfFinding, where), 'MeasuredValueSequence')[0] ?? {};
    const source = reader.find(items, CODES.sourceOfMeasurement)[0];
    return {
      trackingIdentifier: reader.text(one(items, CODES.trackingIdentifier, where)),
      trackingUid: text(one(items, CODES.trackingUniqueIdentifier, where).UID, false),
      code: reader.valueCode(one(items, CODES.finding, where)),
      probability: Number(single(certainty.NumericValue)) / 100,
      image: source ? reader.image(source) : null,
    };
  });

  const evaluations = reader.children(one(top, CODES.qualitativeEvaluations, 'Qualitative Evaluations'));
  const priorityValue = reader.valueCode(one(evaluations, CODES.priority, 'Qualitative Evaluations'));
  const priority = sameCode(priorityValue, CODES.emergency) ? 'emergency'
    : sameCode(priorityValue, CODES.urgency) ? 'urgent' : 'routine';
  const needsHumanReview = reader.find(evaluations, CODES.recommendation)
    .some((item) => sameCode(reader.valueCode(item), CODES.needsHumanReview));
  const comment = reader.find(evaluations, CODES.comment)[0];
  const priorityComment = reader.find(evaluations, CODES.priorityReason)[0];

  const deviceItem = reader.find(top, CODES.deviceObserverUid)[0];
  const equipment = sequence(root, 'ContributingEquipmentSequence')[0] ?? {};
  const evidence = sequence(root, 'CurrentRequestedProcedureEvidenceSequence').flatMap((study) =>
    sequence(study, 'ReferencedSeriesSequence').flatMap((series) =>
      sequence(series, 'ReferencedSOPSequence').map((sop) => ({
        studyInstanceUid: text(study.StudyInstanceUID, false),
        seriesInstanceUid: text(series.SeriesInstanceUID, false),
        sopClassUid: text(sop.ReferencedSOPClassUID, false),
        sopInstanceUid: text(sop.ReferencedSOPInstanceUID, false),
      }))));

  return {
    studyInstanceUid: text(root.StudyInstanceUID, false),
    seriesInstanceUid: text(root.SeriesInstanceUID, false),
    sopInstanceUid: text(root.SOPInstanceUID, false),
    sopClassUid: text(root.SOPClassUID, false),
    patientId: text(root.PatientID, false),
    deviceUid: deviceItem ? text(deviceItem.UID, false) : '',
    contributingDeviceUid: text(equipment.DeviceUID, false),
    algorithmName: reader.text(one(measurementItems, CODES.algorithmName, 'Imaging Measurements')),
    algorithmVersion: reader.text(one(measurementItems, CODES.algorithmVersion, 'Imaging Measurements')),
    parameters,
    method: parameters.method ?? '',
    demonstration: parameters.demonstration === 'true',
    batchLambdas,
    imageCoefficients,
    coefficientSample: sampled ? { batchSampleSizes, sampledImages } : null,
    imageLibrary,
    groups,
    priority,
    needsHumanReview,
    reviewReason: comment ? reader.text(comment) : null,
    priorityReason: priorityComment ? reader.text(priorityComment) : null,
    evidence,
    predecessor: reference(sequence(root, 'PredecessorDocumentsSequence')[0]),
    specificCharacterSet: typeof charset === 'string' ? charset : null,
  };
}
