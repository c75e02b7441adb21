import { algorithmParameterTexts, imageKey } from './algorithm-parameters';
import { CODES, MODALITY_MEANINGS } from './codes';
import {
  type ContentItem, type ImageReference, codeItem, codeSequenceItem, containerItem, imageItem, numItem, textItem, uidRefItem,
} from './content-items';
import type { ImageResult, LabelCode, RankedFinding, SrInput } from './types';
import { deriveUid } from './uids';
import { isMultiframeSopClass } from './multiframe-sop-classes';
import { formatDecimalString } from './value-format';

/**
 * The content of the AI-result SR: the TID 1500 Measurement Report tree (observation context, image library, one
 * TID 1501 measurement group per finding, the qualitative evaluations that carry the triage decision). What it says
 * and nothing about the document that carries it: patient, study, series, equipment and the SR document modules are
 * sr-document.ts's, as highdicom keeps sr/templates.py apart from sr/sop.py. parse-sr.ts reads this tree back.
 */

/**
 * The IMAGE reference of a result: with its frame number only for multi-frame SOP classes (see
 * multiframe-sop-classes.ts); for other classes the frame stays in the tracking identifier and parameter keys.
 */
function imageReference(image: ImageResult): ImageReference {
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

/** One TID 1501 group per finding of each image, then the study-level findings. */
function measurementGroups(input: SrInput, sopInstanceUid: string, studyInstanceUid: string): ContentItem[] {
  const groups: ContentItem[] = [];
  input.images.forEach((image, i) => {
    image.predictions.forEach((finding, rank) => {
      const trackingUid = deriveUid('tracking', { sr: sopInstanceUid, image: imageKey(image), scheme: finding.code.scheme, code: finding.code.value });
      const where = image.frameNumber === undefined ? `image ${i + 1}` : `image ${i + 1} frame ${image.frameNumber}`;
      groups.push(findingGroup(`${where} rank ${rank + 1}: ${finding.label}`, trackingUid, finding, image));
    });
  });
  (input.studyFindings ?? []).forEach((finding, rank) => {
    const trackingUid = deriveUid('tracking', { sr: sopInstanceUid, image: `study:${studyInstanceUid}`, scheme: finding.code.scheme, code: finding.code.value });
    groups.push(findingGroup(`study rank ${rank + 1}: ${finding.label}`, trackingUid, finding, null));
  });
  return groups;
}

/** The triage decision: priority and recommendation as codes, then the reasons as text. */
function qualitativeEvaluations(triage: SrInput['triage']): ContentItem {
  const evaluations: ContentItem[] = [codeItem('CONTAINS', CODES.priority, priorityCode(triage.priority))];
  if (triage.needsHumanReview) evaluations.push(codeItem('CONTAINS', CODES.recommendation, CODES.needsHumanReview));
  // TEXT items after every CODE item (TID 1500 row order): why the priority, then why human review.
  if (triage.priorityReason) evaluations.push(textItem('CONTAINS', CODES.priorityReason, triage.priorityReason));
  if (triage.needsHumanReview && triage.reviewReason) evaluations.push(textItem('CONTAINS', CODES.comment, triage.reviewReason));
  return containerItem('CONTAINS', CODES.qualitativeEvaluations, evaluations);
}

/** What the tree needs from the document that carries it. */
export interface ReportContext {
  studyInstanceUid: string;
  /** The SR's own instance: tracking UIDs derive from it, so each SR's findings have UIDs of their own. */
  sopInstanceUid: string;
  /** The device observer (the algorithm): its UID and manufacturer, as the document's equipment names them. */
  deviceUid: string;
  manufacturer: string;
  /** Extra algorithm-parameter texts from the document (which copied source attributes it adjusted). */
  parameterNotes: string[];
}

/** The TID 1500 tree as the root content item's attributes (the SR document holds them at its top level). */
export function measurementReport(input: SrInput, context: ReportContext): Record<string, unknown> {
  const { algorithm } = input;
  const measurements = containerItem('CONTAINS', CODES.imagingMeasurements, [
    textItem('HAS CONCEPT MOD', CODES.algorithmName, algorithm.name),
    textItem('HAS CONCEPT MOD', CODES.algorithmVersion, algorithm.version),
    ...[...algorithmParameterTexts(algorithm, input.images), ...(input.rerun ? [`rerun=${input.rerun}`] : []), ...context.parameterNotes]
      .map((text) => textItem('HAS CONCEPT MOD', CODES.algorithmParameters, text)),
    codeItem('HAS CONCEPT MOD', CODES.algorithmFamily, CODES.artificialIntelligence),
    ...measurementGroups(input, context.sopInstanceUid, context.studyInstanceUid),
  ]);
  return {
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [codeSequenceItem(CODES.imagingMeasurementReport)],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: [
      codeItem('HAS CONCEPT MOD', CODES.languageOfContent, CODES.englishUS),
      codeItem('HAS OBS CONTEXT', CODES.observerType, CODES.device),
      uidRefItem('HAS OBS CONTEXT', CODES.deviceObserverUid, context.deviceUid),
      textItem('HAS OBS CONTEXT', CODES.deviceObserverName, `${algorithm.name} ${algorithm.version}`),
      textItem('HAS OBS CONTEXT', CODES.deviceObserverManufacturer, context.manufacturer),
      textItem('HAS OBS CONTEXT', CODES.deviceObserverModelName, algorithm.name),
      codeItem('HAS CONCEPT MOD', CODES.procedureReported, CODES.imagingProcedure),
      imageLibrary(input.images),
      measurements,
      qualitativeEvaluations(input.triage),
    ],
  };
}
