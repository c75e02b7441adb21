import dcmjs from 'dcmjs';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../dicom/transfer-syntax';
import { writePart10 } from '../dicom/part10-writer';
import { DEMONSTRATION_SR_NOTICE } from './algorithm-parameters';
import { CODES, PRIVATE_SCHEME, PRIVATE_SCHEME_NAME } from './codes';
import { type ContentItem, codeSequenceItem } from './content-items';
import { ReportError } from './errors';
import type { SrUids } from './sr-identity';
import type { AlgorithmRecord, ImageResult, SrInput } from './types';
import { isAscii } from './value-format';

/**
 * The SR document around a content tree: the Comprehensive 3D SR SOP instance with its patient and study (copied from
 * the source, source-modules.ts), a new SR series, the equipment (the algorithm as manufacturer model and
 * contributing equipment), the SR document general module (flags, evidence, predecessor), SOP common (UIDs, character
 * set, private coding schemes) and its Part 10 bytes. What the tree says is measurement-report.ts's, as highdicom keeps
 * sr/sop.py apart from sr/templates.py.
 */

export const COMPREHENSIVE_3D_SR_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.88.34';
export const MANUFACTURER = 'orthanc-t3';
const SR_SERIES_NUMBER = '9100';
const SR_SERIES_DESCRIPTION = 'AI triage results (orthanc-t3)';

export interface SrDocumentParts {
  uids: SrUids;
  studyInstanceUid: string;
  /** DICOM DA and TM of the content (and of the instance and series: the SR is made at once). */
  when: { date: string; time: string };
  /** Patient and study attributes copied from the source header. */
  sourceAttributes: Record<string, unknown>;
  algorithm: AlgorithmRecord;
  /** The images the content refers to: the evidence the document lists. */
  images: ImageResult[];
  predecessor?: SrInput['predecessor'];
  /** The root content item's attributes (measurement-report.ts). */
  content: Record<string, unknown>;
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

/** The algorithm as contributing equipment: who processed what, and a demonstration model said so. */
function contributingEquipment(algorithm: AlgorithmRecord, deviceUid: string): ContentItem[] {
  return [{
    PurposeOfReferenceCodeSequence: [codeSequenceItem(CODES.processingAlgorithm)],
    Manufacturer: MANUFACTURER,
    ManufacturerModelName: algorithm.name,
    SoftwareVersions: algorithm.version,
    DeviceUID: deviceUid,
    ContributionDescription: (algorithm.demonstration ? `${DEMONSTRATION_SR_NOTICE}. ` : '')
      + `${algorithm.method} merging of ${algorithm.models.generalist.name} `
      + `${algorithm.models.generalist.version} and ${algorithm.models.expert.name} ${algorithm.models.expert.version}`,
  }];
}

function predecessorDocuments(predecessor: NonNullable<SrInput['predecessor']>): ContentItem[] {
  return [{
    StudyInstanceUID: predecessor.studyInstanceUid,
    ReferencedSeriesSequence: [{
      SeriesInstanceUID: predecessor.seriesInstanceUid,
      ReferencedSOPSequence: [{ ReferencedSOPClassUID: predecessor.sopClassUid, ReferencedSOPInstanceUID: predecessor.sopInstanceUid }],
    }],
  }];
}

/** The naturalized dataset of the SR document (dcmjs names), attributes in the order they have always been written. */
export function srDocumentDataset(parts: SrDocumentParts): Record<string, unknown> {
  const { uids, when, algorithm } = parts;
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
    ...parts.sourceAttributes,
    SeriesInstanceUID: uids.seriesInstanceUid,
    SeriesNumber: SR_SERIES_NUMBER,
    InstanceNumber: '1',
    ReferencedPerformedProcedureStepSequence: [],
    ContributingEquipmentSequence: contributingEquipment(algorithm, uids.deviceUid),
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: evidenceSequence(parts.studyInstanceUid, parts.images),
    ...(parts.predecessor ? { PredecessorDocumentsSequence: predecessorDocuments(parts.predecessor) } : {}),
    ...parts.content,
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
  return dataset;
}

/** The document as a Part 10 file (Explicit VR Little Endian), through the one writer every file of the project uses. */
export function writeSrDocument(dataset: Record<string, unknown>, sopInstanceUid: string): Uint8Array {
  try {
    return writePart10(
      { transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, sopClassUid: COMPREHENSIVE_3D_SR_SOP_CLASS, sopInstanceUid },
      dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset),
    );
  } catch (error) {
    // Only copied source attributes can still break a VR rule here: everything else was checked before. The
    // value itself is left out of the message: it may be patient data.
    const vr = /vr: (\w+)/.exec((error as Error).message)?.[1] ?? 'unknown';
    throw new ReportError('sourceHeader', `a copied patient/study attribute breaks a DICOM ${vr} value rule`);
  }
}
