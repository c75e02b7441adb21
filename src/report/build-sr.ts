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
import { sourceModules, type SourceModules } from './source-modules';
import { validateSrInput } from './validate-input';
import { formatDateTime, formatDecimalString, isAscii, parseTimezoneOffset } from './value-format';

export const COMPREHENSIVE_3D_SR_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.88.34';
export const MANUFACTURER = 'orthanc-t3';
export const SR_SERIES_NUMBER = '9100';
export const SR_SERIES_DESCRIPTION = 'AI triage results (orthanc-t3)';

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
  algorithm: AlgorithmRecord, triage: TriageDecision, rerun?: string): SrUids {
  const inputs = [...new Set(images.map(imageKey))].sort();
  const decision = { priority: triage.priority, needsHumanReview: triage.needsHumanReview, firedRule: triage.firedRule };
  // An explicit re-run is an analysis of its own: its id makes a new SR (the replays of one re-run share it).
  const identity = { study: studyInstanceUid, inputs, algorithm: algorithmIdentity(algorithm), decision, ...(rerun ? { rerun } : {}) };
  return {
    seriesInstanceUid: deriveUid('sr-series', identity),
    sopInstanceUid: deriveUid('sr-instance', identity),
    deviceUid: deriveUid('device', algorithmIdentity(algorithm)),
  };
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

function contentTree(input: SrInput, uids: SrUids, studyUid: string, source: SourceModules): ContentItem[] {
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
    ...[...algorithmParameterTexts(algorithm, input.images), ...(input.rerun ? [`rerun=${input.rerun}`] : []), ...sourceAdjustmentTexts(source)]
      .map((text) => textItem('HAS CONCEPT MOD', CODES.algorithmParameters, text)),
    codeItem('HAS CONCEPT MOD', CODES.algorithmFamily, CODES.artificialIntelligence),
    ...groups,
  ]);

  const evaluations: ContentItem[] = [codeItem('CONTAINS', CODES.priority, priorityCode(input.triage.priority))];
  if (input.triage.needsHumanReview) evaluations.push(codeItem('CONTAINS', CODES.recommendation, CODES.needsHumanReview));
  // TEXT items after every CODE item (TID 1500 row order): why the priority, then why human review.
  if (input.triage.priorityReason) evaluations.push(textItem('CONTAINS', CODES.priorityReason, input.triage.priorityReason));
  if (input.triage.needsHumanReview && input.triage.reviewReason) {
    evaluations.push(textItem('CONTAINS', CODES.comment, input.triage.reviewReason));
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

/**
 * Which copied attributes the SR does not hold as the source has them, by name: a reader of the SR (and an auditor
 * comparing it with the images) learns that the difference is deliberate.
 */
function sourceAdjustmentTexts(source: SourceModules): string[] {
  return [
    ...(source.adjusted.length ? [`sourceAttributesAdjusted=${source.adjusted.join(',')}`] : []),
    ...(source.nonConformant.length ? [`sourceAttributesNonConformant=${source.nonConformant.join(',')}`] : []),
  ];
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
  const uids = deriveSrUids(studyUid, input.images, input.algorithm, input.triage, input.rerun);
  const { algorithm } = input;
  const offset = parseTimezoneOffset(input.sourceHeader.TimezoneOffsetFromUTC);
  const when = formatDateTime(input.contentDateTime ?? new Date(), offset ?? 0);
  const source = sourceModules(input.sourceHeader);

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
    ...source.attributes,
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
    ContentSequence: contentTree(input, uids, studyUid, source),
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
  return { bytes, studyInstanceUid: studyUid, ...uids, adjustedSourceAttributes: source.adjusted, nonConformantSourceAttributes: source.nonConformant };
}
