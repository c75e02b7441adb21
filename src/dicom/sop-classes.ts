/** Secondary Capture Image Storage: what images made from bare pixels are stored as (PS3.4 B.5). */
export const SECONDARY_CAPTURE_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';

/**
 * SOP classes that carry no picture worth classifying, by UID prefix (PS3.4 Annex B / PS3.6 Annex A).
 * Order matters: the first matching prefix names the kind; exact image exceptions come first.
 */
const IMAGE_EXCEPTIONS = new Set([
  '1.2.840.10008.5.1.4.1.1.481.1', // RT Image Storage holds a real radiograph
]);

const NON_IMAGE_PREFIXES: [string, string][] = [
  ['1.2.840.10008.5.1.4.1.1.88.59', 'Key Object Selection document'],
  ['1.2.840.10008.5.1.4.1.1.88.', 'Structured Report'],
  ['1.2.840.10008.5.1.4.1.1.11.', 'Presentation State'],
  ['1.2.840.10008.5.1.4.1.1.481.', 'Radiotherapy object (plan, dose, structure set or record)'],
  ['1.2.840.10008.5.1.4.1.1.9.', 'Waveform'],
  ['1.2.840.10008.5.1.4.1.1.104.', 'Encapsulated document (PDF, CDA, STL, OBJ or MTL)'],
  ['1.2.840.10008.5.1.4.1.1.66.4', 'Segmentation'],
  ['1.2.840.10008.5.1.4.1.1.66', 'Raw data, registration or fiducials'],
  ['1.2.840.10008.5.1.4.1.1.67', 'Real World Value Mapping'],
  ['1.2.840.10008.5.1.4.1.1.68.', 'Surface object'],
  ['1.2.840.10008.5.1.4.1.1.78.', 'Measurement (lensometry, refraction, …)'],
  ['1.2.840.10008.5.1.4.1.1.79.', 'Macular grid thickness and volume report'],
  ['1.2.840.10008.5.1.4.1.1.80.', 'Ophthalmic visual field measurement'],
  ['1.2.840.10008.5.1.4.1.1.81.', 'Ophthalmic thickness map'],
  ['1.2.840.10008.5.1.4.1.1.82.', 'Corneal topography map'],
  ['1.2.840.10008.5.1.4.1.1.90.', 'Content assessment results'],
  ['1.2.840.10008.5.1.4.1.1.91.', 'Microscopy bulk simple annotations'],
  ['1.2.840.10008.5.1.4.1.1.200.', 'Protocol or device object'],
  ['1.2.840.10008.5.1.4.34.', 'Workflow object'],
  ['1.2.840.10008.5.1.4.38.', 'Hanging Protocol'],
  ['1.2.840.10008.5.1.4.39.', 'Color Palette'],
  ['1.2.840.10008.5.1.4.43.', 'Generic implant template'],
  ['1.2.840.10008.5.1.4.44.', 'Implant assembly template'],
  ['1.2.840.10008.5.1.4.45.', 'Implant template group'],
];

/** The kind of non-image object a SOP class is, or undefined for image (or unknown) classes. */
export function nonImageKind(sopClassUid: string): string | undefined {
  if (IMAGE_EXCEPTIONS.has(sopClassUid)) return undefined;
  for (const [prefix, kind] of NON_IMAGE_PREFIXES) {
    // "x." matches a family of classes; "x" matches that class and its sub-classes "x.*".
    const matches = prefix.endsWith('.') ? sopClassUid.startsWith(prefix)
      : sopClassUid === prefix || sopClassUid.startsWith(`${prefix}.`);
    if (matches) return kind;
  }
  return undefined;
}
