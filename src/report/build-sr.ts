import dcmjs from 'dcmjs';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../dicom/transfer-syntax';
import { writePart10 } from '../dicom/part10-writer';
import { algorithmParameterTexts, DEMONSTRATION_SR_NOTICE, imageKey } from './algorithm-parameters';
import { CODES, MODALITY_MEANINGS, PRIVATE_SCHEME, PRIVATE_SCHEME_NAME } from './codes';
import {
  type ContentItem, type ImageReference, codeItem, codeSequenceItem, containerItem, imageItem, numItem, textItem, uidRefItem,
} from './content-items';
import type { AlgorithmRecord, BuiltSr, ImageResult, LabelCode, RankedFinding, SrInput } from './types';
import type { TriageDecision } from './triage';
import { deriveUid } from './uids';
import { ReportError } from './errors';
import { isMultiframeSopClass } from './multiframe-sop-classes';
import { validateSrInput } from './validate-input';
import { formatDateTime, formatDecimalString, isAscii, parseTimezoneOffset } from './value-format';

export const COMPREHENSIVE_3D_SR_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.88.34';
export const MANUFACTURER = 'orthanc-t3';
export const SR_SERIES_NUMBER = '9100';
export const SR_SERIES_DESCRIPTION = 'AI triage results (orthanc-t3)';

/**
 * Patient, General Study and Patient Study attributes copied unchanged from the source header. PatientID matters
 * most: Orthanc's study id hashes PatientID with StudyInstanceUID, so anything else lands the SR in another study.
 * The Type 2 ones are written empty when the source lacks them.
 */
const COPIED_TYPE2 = ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime',
  'ReferringPhysicianName', 'StudyID', 'AccessionNumber'];
const COPIED_OPTIONAL = ['IssuerOfPatientID', 'IssuerOfPatientIDQualifiersSequence', 'PatientBirthTime',
  'OtherPatientIDsSequence', 'PatientComments', 'PatientSpeciesDescription', 'PatientSpeciesCodeSequence',
  'PatientBreedDescription', 'PatientBreedCodeSequence', 'ResponsiblePerson', 'ResponsiblePersonRole',
  'ResponsibleOrganization', 'PatientIdentityRemoved', 'DeidentificationMethod', 'QualityControlSubject',
  'IssuerOfAccessionNumberSequence', 'StudyDescription', 'PhysiciansOfRecord', 'NameOfPhysiciansReadingStudy',
  'ProcedureCodeSequence', 'AdmittingDiagnosesDescription', 'PatientAge', 'PatientSize', 'PatientWeight',
  'TimezoneOffsetFromUTC'];

/** The identity that decides the SR's UIDs: study, the set of input images (frames), model identity and parameters. */
function algorithmIdentity(algorithm: AlgorithmRecord): unknown {
  return {
    name: algorithm.name, version: algorithm.version, method: algorithm.method, batchSize: algorithm.batchSize,
    hyperparameters: algorithm.hyperparameters, models: algorithm.models,
  };
}

export interface SrUids { seriesInstanceUid: string; sopInstanceUid: string; deviceUid: string; }

/**
 * Deterministic UIDs (2.25 form): series and instance from (study, sorted input SOP instances + frames, algorithm
 * identity, triage decision); the device UID from the algorithm identity only, so it changes exactly when a model or
 * a parameter does. Batch λ values and probabilities are results, not identity: they do not enter. The decision does,
 * so a re-run under changed triage rules that decides differently is a new SR version rather than a silent
 * "AlreadyStored" that would leave the old priority in the PACS; the same decision again is still a no-op.
 */
export function deriveSrUids(studyInstanceUid: string, images: Pick<ImageResult, 'sopInstanceUid' | 'frameNumber'>[],
  algorithm: AlgorithmRecord, triage: TriageDecision): SrUids {
  const inputs = [...new Set(images.map(imageKey))].sort();
  const decision = { priority: triage.priority, needsHumanReview: triage.needsHumanReview, firedRule: triage.firedRule };
  const identity = { study: studyInstanceUid, inputs, algorithm: algorithmIdentity(algorithm), decision };
  return {
    seriesInstanceUid: deriveUid('sr-series', identity),
    sopInstanceUid: deriveUid('sr-instance', identity),
    deviceUid: deriveUid('device', algorithmIdentity(algorithm)),
  };
}

const DATE_KEYS = new Set(['StudyDate', 'PatientBirthDate']);
const TIME_KEYS = new Set(['StudyTime', 'PatientBirthTime']);

/**
 * Old ACR-NEMA style dates and times ("1994.01.30", "12:18:03") are still found in archives (the XA sample has one);
 * DICOM 3 DA/TM forbid the separators and dcmjs refuses to write them. The separators are dropped; any other value
 * that is not a DICOM date or time is written empty (the attributes are Type 2 and not part of Orthanc's study
 * identity, which is PatientID + StudyInstanceUID).
 */
function normalizeDateOrTime(key: string, value: unknown): unknown {
  if (typeof value !== 'string' || value === '') return value;
  if (DATE_KEYS.has(key)) {
    const date = value.trim().replace(/^(\d{4})\.(\d{2})\.(\d{2})$/, '$1$2$3');
    return /^\d{8}$/.test(date) ? date : '';
  }
  if (TIME_KEYS.has(key)) {
    const time = value.trim().replace(/^(\d{2}):(\d{2})(?::(\d{2}(?:\.\d{1,6})?))?$/, (_m, h, m, sec) => `${h}${m}${sec ?? ''}`);
    return /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/.test(time) ? time : '';
  }
  return value;
}

/** Maximum value lengths of the string VRs among the copied attributes (PS3.5 table 6.2-1). */
const VR_MAX_LENGTH: Readonly<Record<string, number>> = { AE: 16, AS: 4, CS: 16, DA: 8, DS: 16, IS: 12, LO: 64,
  LT: 10240, PN: 64, SH: 16, ST: 1024, TM: 14, UI: 64 };

/**
 * dcmjs silently truncates an over-long value (and logs it): a truncated PatientID would put the SR into another
 * Orthanc study, so an over-long copied value is refused instead, naming the attribute but not the value.
 */
function checkCopiedLength(key: string, value: unknown): void {
  const vr = dcmjs.data.DicomMetaDictionary.nameMap[key]?.vr;
  const max = vr ? VR_MAX_LENGTH[vr] : undefined;
  if (max === undefined) return;
  const values = Array.isArray(value) ? value : [value];
  for (const v of values) {
    const parts = typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v as object) : [];
    for (const part of parts) {
      if (typeof part === 'string' && part.length > max) {
        throw new ReportError(`sourceHeader.${key}`, `is longer than the ${max} characters of its VR ${vr}`);
      }
    }
  }
}

function copySourceModules(header: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of COPIED_TYPE2) {
    const value = header[key];
    out[key] = value === undefined || value === null ? '' : normalizeDateOrTime(key, value);
  }
  for (const key of COPIED_OPTIONAL) {
    const value = header[key];
    if (value === undefined || value === null || value === '') continue;
    // Size and weight 0 mean "not recorded" in some sources; written, validators flag them as suspicious.
    if ((key === 'PatientSize' || key === 'PatientWeight') && Number(Array.isArray(value) ? value[0] : value) === 0) continue;
    out[key] = normalizeDateOrTime(key, value);
  }
  out.StudyInstanceUID = header.StudyInstanceUID;
  for (const [key, value] of Object.entries(out)) checkCopiedLength(key, value);
  return out;
}

/**
 * The IMAGE reference of a result: with its frame number only for multi-frame SOP classes (see
 * multiframe-sop-classes.ts); for other classes the frame stays in the tracking identifier and parameter keys.
 */
export function imageReference(image: ImageResult): ImageReference {
  const withFrame = image.frameNumber !== undefined && isMultiframeSopClass(image.sopClassUid);
  return {
    sopClassUid: image.sopClassUid,
    sopInstanceUid: image.sopInstanceUid,
    ...(withFrame ? { frameNumber: image.frameNumber } : {}),
  };
}

function findingGroup(trackingId: string, trackingUid: string, finding: RankedFinding, image: ImageResult | null): ContentItem {
  const children: ContentItem[] = [
    textItem('HAS OBS CONTEXT', CODES.trackingIdentifier, trackingId),
    uidRefItem('HAS OBS CONTEXT', CODES.trackingUniqueIdentifier, trackingUid),
    codeItem('CONTAINS', CODES.finding, finding.code),
    numItem('CONTAINS', CODES.certaintyOfFinding, formatDecimalString(finding.probability * 100), CODES.percent),
  ];
  if (image) children.push(imageItem('CONTAINS', CODES.sourceOfMeasurement, imageReference(image)));
  return containerItem('CONTAINS', CODES.measurementGroup, children, '1501');
}

function imageLibrary(images: ImageResult[]): ContentItem {
  const byModality = new Map<string, ImageResult[]>();
  for (const image of images) {
    const list = byModality.get(image.modality) ?? [];
    list.push(image);
    byModality.set(image.modality, list);
  }
  const groups = [...byModality.entries()].map(([modality, members]) => {
    const meaning = MODALITY_MEANINGS[modality];
    const descriptors = meaning
      ? [codeItem('HAS ACQ CONTEXT', CODES.modality, { value: modality, scheme: 'DCM', meaning })] : [];
    const entries = new Map<string, ImageReference>();
    for (const image of members) {
      const ref = imageReference(image);
      entries.set(imageKey(ref), ref);
    }
    return containerItem('CONTAINS', CODES.imageLibraryGroup,
      [...descriptors, ...[...entries.values()].map((ref) => imageItem('CONTAINS', null, ref))]);
  });
  return containerItem('CONTAINS', CODES.imageLibrary, groups);
}

function priorityCode(priority: SrInput['triage']['priority']): LabelCode {
  if (priority === 'emergency') return CODES.emergency;
  if (priority === 'urgent') return CODES.urgency;
  return CODES.routine;
}

function contentTree(input: SrInput, uids: SrUids, studyUid: string): ContentItem[] {
  const { algorithm } = input;
  const groups: ContentItem[] = [];
  input.images.forEach((image, i) => {
    image.predictions.forEach((finding, rank) => {
      const trackingUid = deriveUid('tracking', { sr: uids.sopInstanceUid, image: imageKey(image), scheme: finding.code.scheme, code: finding.code.value });
      const where = image.frameNumber === undefined ? `image ${i + 1}` : `image ${i + 1} frame ${image.frameNumber}`;
      groups.push(findingGroup(`${where} rank ${rank + 1}: ${finding.label}`, trackingUid, finding, image));
    });
  });
  (input.studyFindings ?? []).forEach((finding, rank) => {
    const trackingUid = deriveUid('tracking', { sr: uids.sopInstanceUid, image: `study:${studyUid}`, scheme: finding.code.scheme, code: finding.code.value });
    groups.push(findingGroup(`study rank ${rank + 1}: ${finding.label}`, trackingUid, finding, null));
  });

  const measurements = containerItem('CONTAINS', CODES.imagingMeasurements, [
    textItem('HAS CONCEPT MOD', CODES.algorithmName, algorithm.name),
    textItem('HAS CONCEPT MOD', CODES.algorithmVersion, algorithm.version),
    ...algorithmParameterTexts(algorithm, input.images).map((text) => textItem('HAS CONCEPT MOD', CODES.algorithmParameters, text)),
    codeItem('HAS CONCEPT MOD', CODES.algorithmFamily, CODES.artificialIntelligence),
    ...groups,
  ]);

  const evaluations: ContentItem[] = [codeItem('CONTAINS', CODES.priority, priorityCode(input.triage.priority))];
  if (input.triage.needsHumanReview) {
    evaluations.push(codeItem('CONTAINS', CODES.recommendation, CODES.needsHumanReview));
    if (input.triage.reviewReason) evaluations.push(textItem('CONTAINS', CODES.comment, input.triage.reviewReason));
  }

  return [
    codeItem('HAS CONCEPT MOD', CODES.languageOfContent, CODES.englishUS),
    codeItem('HAS OBS CONTEXT', CODES.observerType, CODES.device),
    uidRefItem('HAS OBS CONTEXT', CODES.deviceObserverUid, uids.deviceUid),
    textItem('HAS OBS CONTEXT', CODES.deviceObserverName, `${algorithm.name} ${algorithm.version}`),
    textItem('HAS OBS CONTEXT', CODES.deviceObserverManufacturer, MANUFACTURER),
    textItem('HAS OBS CONTEXT', CODES.deviceObserverModelName, algorithm.name),
    codeItem('HAS CONCEPT MOD', CODES.procedureReported, CODES.imagingProcedure),
    imageLibrary(input.images),
    measurements,
    containerItem('CONTAINS', CODES.qualitativeEvaluations, evaluations),
  ];
}

/** Current Requested Procedure Evidence: Study > Series > SOP, each SOP instance once (frames collapse). */
function evidenceSequence(studyUid: string, images: ImageResult[]): ContentItem[] {
  const series = new Map<string, Map<string, string>>();
  for (const image of images) {
    const sops = series.get(image.seriesInstanceUid) ?? new Map<string, string>();
    sops.set(image.sopInstanceUid, image.sopClassUid);
    series.set(image.seriesInstanceUid, sops);
  }
  return [{
    StudyInstanceUID: studyUid,
    ReferencedSeriesSequence: [...series.entries()].map(([seriesUid, sops]) => ({
      SeriesInstanceUID: seriesUid,
      ReferencedSOPSequence: [...sops.entries()].map(([sopUid, classUid]) => ({
        ReferencedSOPClassUID: classUid, ReferencedSOPInstanceUID: sopUid,
      })),
    })),
  }];
}

/** Private coding schemes (99 prefix) used anywhere in the dataset, for CodingSchemeIdentificationSequence. */
function privateSchemes(value: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => privateSchemes(v, found));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'CodingSchemeDesignator' && typeof v === 'string' && v.startsWith('99')) found.add(v);
      else privateSchemes(v, found);
    }
  }
  return found;
}

function hasNonAscii(value: unknown): boolean {
  if (typeof value === 'string') return !isAscii(value);
  if (Array.isArray(value)) return value.some(hasNonAscii);
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
    return Object.values(value).some(hasNonAscii);
  }
  return false;
}

/**
 * The AI-result SR (Comprehensive 3D SR, TID 1500) of one study: same study as the source header, a new series,
 * deterministic UIDs. Throws ReportError naming the bad field.
 */
export function buildAiResultSr(input: SrInput): BuiltSr {
  const studyUid = validateSrInput(input);
  const uids = deriveSrUids(studyUid, input.images, input.algorithm, input.triage);
  const { algorithm } = input;
  const offset = parseTimezoneOffset(input.sourceHeader.TimezoneOffsetFromUTC);
  const when = formatDateTime(input.contentDateTime ?? new Date(), offset ?? 0);

  const dataset: Record<string, unknown> = {
    SOPClassUID: COMPREHENSIVE_3D_SR_SOP_CLASS,
    SOPInstanceUID: uids.sopInstanceUid,
    InstanceCreationDate: when.date,
    InstanceCreationTime: when.time,
    ContentDate: when.date,
    ContentTime: when.time,
    SeriesDate: when.date,
    SeriesTime: when.time,
    Modality: 'SR',
    Manufacturer: MANUFACTURER,
    ManufacturerModelName: algorithm.name,
    DeviceSerialNumber: uids.deviceUid.slice(-16),
    SoftwareVersions: algorithm.version,
    SeriesDescription: SR_SERIES_DESCRIPTION,
    ...copySourceModules(input.sourceHeader),
    SeriesInstanceUID: uids.seriesInstanceUid,
    SeriesNumber: SR_SERIES_NUMBER,
    InstanceNumber: '1',
    ReferencedPerformedProcedureStepSequence: [],
    ContributingEquipmentSequence: [{
      PurposeOfReferenceCodeSequence: [codeSequenceItem(CODES.processingAlgorithm)],
      Manufacturer: MANUFACTURER,
      ManufacturerModelName: algorithm.name,
      SoftwareVersions: algorithm.version,
      DeviceUID: uids.deviceUid,
      ContributionDescription: (algorithm.demonstration ? `${DEMONSTRATION_SR_NOTICE}. ` : '')
        + `${algorithm.method} merging of ${algorithm.models.generalist.name} `
        + `${algorithm.models.generalist.version} and ${algorithm.models.expert.name} ${algorithm.models.expert.version}`,
    }],
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: evidenceSequence(studyUid, input.images),
    ...(input.predecessor ? {
      PredecessorDocumentsSequence: [{
        StudyInstanceUID: input.predecessor.studyInstanceUid,
        ReferencedSeriesSequence: [{
          SeriesInstanceUID: input.predecessor.seriesInstanceUid,
          ReferencedSOPSequence: [{
            ReferencedSOPClassUID: input.predecessor.sopClassUid,
            ReferencedSOPInstanceUID: input.predecessor.sopInstanceUid,
          }],
        }],
      }],
    } : {}),
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [codeSequenceItem(CODES.imagingMeasurementReport)],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: contentTree(input, uids, studyUid),
  };
  const schemes = [...privateSchemes(dataset, new Set())].sort();
  if (schemes.length > 0) {
    dataset.CodingSchemeIdentificationSequence = schemes.map((scheme) => ({
      CodingSchemeDesignator: scheme,
      ...(scheme === PRIVATE_SCHEME ? { CodingSchemeName: PRIVATE_SCHEME_NAME, CodingSchemeResponsibleOrganization: MANUFACTURER } : {}),
    }));
  }
  // dcmjs writes every string as UTF-8, so any non-ASCII value needs ISO_IR 192 declared (docs/SR.md).
  if (hasNonAscii(dataset)) dataset.SpecificCharacterSet = 'ISO_IR 192';

  let bytes: Uint8Array;
  try {
    // The one Part 10 writer (dicom/), as every file the project writes.
    bytes = writePart10(
      { transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, sopClassUid: COMPREHENSIVE_3D_SR_SOP_CLASS, sopInstanceUid: uids.sopInstanceUid },
      dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset),
    );
  } catch (error) {
    // Only copied source attributes can still break a VR rule here: everything else was checked above. The
    // value itself is left out of the message: it may be patient data.
    const vr = /vr: (\w+)/.exec((error as Error).message)?.[1] ?? 'unknown';
    throw new ReportError('sourceHeader', `a copied patient/study attribute breaks a DICOM ${vr} value rule`);
  }
  return { bytes, studyInstanceUid: studyUid, ...uids };
}
