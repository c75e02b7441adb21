import type { LabelCode } from './types';

/** Coded concepts of the AI-result SR (docs/SR.md; verified against dcmtk, pydicom and PixelMed dictionaries). */
function code(value: string, scheme: string, meaning: string): LabelCode { return { value, scheme, meaning }; }

/** Private coding scheme of this project, declared in CodingSchemeIdentificationSequence when used. */
export const PRIVATE_SCHEME = '99T3';
export const PRIVATE_SCHEME_NAME = 'orthanc-t3 private codes';

export const CODES = {
  imagingMeasurementReport: code('126000', 'DCM', 'Imaging Measurement Report'),
  languageOfContent: code('121049', 'DCM', 'Language of Content Item and Descendants'),
  englishUS: code('en-US', 'RFC5646', 'English (United States)'),
  observerType: code('121005', 'DCM', 'Observer Type'),
  device: code('121007', 'DCM', 'Device'),
  deviceObserverUid: code('121012', 'DCM', 'Device Observer UID'),
  deviceObserverName: code('121013', 'DCM', 'Device Observer Name'),
  deviceObserverManufacturer: code('121014', 'DCM', 'Device Observer Manufacturer'),
  deviceObserverModelName: code('121015', 'DCM', 'Device Observer Model Name'),
  procedureReported: code('121058', 'DCM', 'Procedure reported'),
  imagingProcedure: code('363679005', 'SCT', 'Imaging procedure'),
  imageLibrary: code('111028', 'DCM', 'Image Library'),
  imageLibraryGroup: code('126200', 'DCM', 'Image Library Group'),
  modality: code('121139', 'DCM', 'Modality'),
  imagingMeasurements: code('126010', 'DCM', 'Imaging Measurements'),
  algorithmName: code('111001', 'DCM', 'Algorithm Name'),
  algorithmVersion: code('111003', 'DCM', 'Algorithm Version'),
  algorithmParameters: code('111002', 'DCM', 'Algorithm Parameters'),
  algorithmFamily: code('111000', 'DCM', 'Algorithm Family'),
  artificialIntelligence: code('123110', 'DCM', 'Artificial Intelligence'),
  measurementGroup: code('125007', 'DCM', 'Measurement Group'),
  trackingIdentifier: code('112039', 'DCM', 'Tracking Identifier'),
  trackingUniqueIdentifier: code('112040', 'DCM', 'Tracking Unique Identifier'),
  finding: code('121071', 'DCM', 'Finding'),
  certaintyOfFinding: code('111012', 'DCM', 'Certainty of Finding'),
  percent: code('%', 'UCUM', 'Percent'),
  sourceOfMeasurement: code('121112', 'DCM', 'Source of Measurement'),
  qualitativeEvaluations: code('C0034375', 'UMLS', 'Qualitative Evaluations'),
  priority: code('260870009', 'SCT', 'Priority'),
  emergency: code('25876001', 'SCT', 'Emergency'),
  urgency: code('103391001', 'SCT', 'Urgency'),
  routine: code('ROUTINE', PRIVATE_SCHEME, 'Routine'),
  /**
   * "Needs human review" is written as CODE (121075, DCM, "Recommendation") = (HUMANREVIEW, 99T3, "Needs human
   * review"): DCM has no concept for "the two models disagree", Recommendation is the standard concept for what the
   * reader should do, and the reason follows as TEXT (121106, DCM, "Comment").
   */
  recommendation: code('121075', 'DCM', 'Recommendation'),
  needsHumanReview: code('HUMANREVIEW', PRIVATE_SCHEME, 'Needs human review'),
  comment: code('121106', 'DCM', 'Comment'),
  /**
   * Why the study has its priority, in words (the rule that fired and the finding that fired it), as TEXT after the
   * evaluations' CODE items (TID 1500 rows 13–14 keep CODEs before TEXTs). DCM has no concept for it; a concept of its
   * own keeps it apart from the review reason's Comment.
   */
  priorityReason: code('PRIORITYREASON', PRIVATE_SCHEME, 'Reason for priority'),
  processingAlgorithm: code('Newcode1', '99IHE', 'Processing Algorithm'),
} as const;

/**
 * Modality code meanings of CID 29 Acquisition Modality (DCM). A modality outside it (OT, SC) gets an Image Library
 * Group without the optional Modality item rather than a code the context group does not hold.
 */
export const MODALITY_MEANINGS: Readonly<Record<string, string>> = {
  CR: 'Computed Radiography',
  CT: 'Computed Tomography',
  DX: 'Digital Radiography',
  MG: 'Mammography',
  MR: 'Magnetic Resonance',
  NM: 'Nuclear Medicine',
  PT: 'Positron emission tomography',
  US: 'Ultrasound',
  XA: 'X-Ray Angiography',
  RF: 'Radiofluoroscopy',
  IO: 'Intra-oral Radiography',
  PX: 'Panoramic X-Ray',
  ES: 'Endoscopy',
  XC: 'External-camera Photography',
  OP: 'Ophthalmic Photography',
  SM: 'Slide Microscopy',
};
