import type { LabelCode } from './types';
import { MAX_SH } from './value-format';

/**
 * Small typed builders of SR content items in dcmjs's naturalized form (keyword → value, sequences as arrays).
 * dcmjs's own `sr` module cannot build TID 1501 groups or a device observer (docs/SR.md), hence these.
 */
export type RelationshipType = 'CONTAINS' | 'HAS OBS CONTEXT' | 'HAS CONCEPT MOD' | 'HAS ACQ CONTEXT' | 'HAS PROPERTIES' | 'INFERRED FROM' | 'SELECTED FROM';

/** A naturalized content item (or any naturalized dataset). */
export type ContentItem = Record<string, unknown>;

/** A Code Sequence item; values longer than 16 characters go into LongCodeValue (SH limit of CodeValue). */
export function codeSequenceItem(code: LabelCode): ContentItem {
  const value = code.value.length > MAX_SH ? { LongCodeValue: code.value } : { CodeValue: code.value };
  return { ...value, CodingSchemeDesignator: code.scheme, CodeMeaning: code.meaning };
}

function item(relationship: RelationshipType, valueType: string, concept: LabelCode | null, fields: ContentItem): ContentItem {
  return {
    RelationshipType: relationship,
    ValueType: valueType,
    ...(concept ? { ConceptNameCodeSequence: [codeSequenceItem(concept)] } : {}),
    ...fields,
  };
}

export function containerItem(relationship: RelationshipType, concept: LabelCode, children: ContentItem[],
  template?: string): ContentItem {
  return item(relationship, 'CONTAINER', concept, {
    ContinuityOfContent: 'SEPARATE',
    ...(template ? { ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: template }] } : {}),
    ...(children.length > 0 ? { ContentSequence: children } : {}),
  });
}

export function codeItem(relationship: RelationshipType, concept: LabelCode, value: LabelCode): ContentItem {
  return item(relationship, 'CODE', concept, { ConceptCodeSequence: [codeSequenceItem(value)] });
}

export function textItem(relationship: RelationshipType, concept: LabelCode, text: string): ContentItem {
  return item(relationship, 'TEXT', concept, { TextValue: text });
}

export function uidRefItem(relationship: RelationshipType, concept: LabelCode, uid: string): ContentItem {
  return item(relationship, 'UIDREF', concept, { UID: uid });
}

/** NUM with one value; `decimalString` is already formatted as DS (≤ 16 characters). */
export function numItem(relationship: RelationshipType, concept: LabelCode, decimalString: string, unit: LabelCode): ContentItem {
  return item(relationship, 'NUM', concept, {
    MeasuredValueSequence: [{ NumericValue: decimalString, MeasurementUnitsCodeSequence: [codeSequenceItem(unit)] }],
  });
}

export interface ImageReference { sopClassUid: string; sopInstanceUid: string; frameNumber?: number; }

/** IMAGE item; `concept` null for Image Library entries (TID 1601 has no concept name). */
export function imageItem(relationship: RelationshipType, concept: LabelCode | null, ref: ImageReference): ContentItem {
  return item(relationship, 'IMAGE', concept, {
    ReferencedSOPSequence: [{
      ReferencedSOPClassUID: ref.sopClassUid,
      ReferencedSOPInstanceUID: ref.sopInstanceUid,
      ...(ref.frameNumber !== undefined ? { ReferencedFrameNumber: String(ref.frameNumber) } : {}),
    }],
  });
}
