import { measurementReport } from './measurement-report';
import { MANUFACTURER, srDocumentDataset, writeSrDocument } from './sr-document';
import { deriveSrUids } from './sr-identity';
import { sourceModules, type SourceModules } from './source-modules';
import type { BuiltSr, SrInput } from './types';
import { validateSrInput } from './validate-input';
import { formatDateTime, parseTimezoneOffset } from './value-format';

export { COMPREHENSIVE_3D_SR_SOP_CLASS, MANUFACTURER } from './sr-document';
export { deriveSrUids } from './sr-identity';

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

/**
 * The AI-result SR (Comprehensive 3D SR, TID 1500) of one study: same study as the source header, a new series,
 * deterministic UIDs. The TID 1500 content tree (measurement-report.ts) goes into the SR document
 * (sr-document.ts), which is written as Part 10. Throws ReportError naming the bad field.
 */
export function buildAiResultSr(input: SrInput): BuiltSr {
  const studyUid = validateSrInput(input);
  const uids = deriveSrUids(studyUid, input.images, input.algorithm, input.triage, input.rerun);
  const offset = parseTimezoneOffset(input.sourceHeader.TimezoneOffsetFromUTC);
  const when = formatDateTime(input.contentDateTime ?? new Date(), offset ?? 0);
  const source = sourceModules(input.sourceHeader);
  const content = measurementReport(input, {
    studyInstanceUid: studyUid, sopInstanceUid: uids.sopInstanceUid, deviceUid: uids.deviceUid, manufacturer: MANUFACTURER,
    parameterNotes: sourceAdjustmentTexts(source),
  });
  const dataset = srDocumentDataset({
    uids, studyInstanceUid: studyUid, when, sourceAttributes: source.attributes, algorithm: input.algorithm, images: input.images,
    ...(input.predecessor ? { predecessor: input.predecessor } : {}), content,
  });
  const bytes = writeSrDocument(dataset, uids.sopInstanceUid);
  return { bytes, studyInstanceUid: studyUid, ...uids, adjustedSourceAttributes: source.adjusted, nonConformantSourceAttributes: source.nonConformant };
}
