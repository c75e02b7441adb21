import dcmjs from 'dcmjs';

/**
 * dcmjs as this project uses it, with one dictionary correction applied once, on first import.
 *
 * DICOM gives some elements the VR "US or SS" (PixelPaddingValue, Smallest/LargestImagePixelValue, the LUT and
 * palette descriptors…): which one depends on Pixel Representation. dcmjs 0.51.1's dictionary spells that "xs".
 * In an Implicit VR file the VR comes from the dictionary, so for every such element dcmjs logs
 * "Invalid vr type xs - using US" at error level and reads it as US. Nothing is wrong: US is what the readers here
 * expect, and render-plan.ts brings a padding value back into the signed range when Pixel Representation is 1.
 * Giving those entries US up front makes dcmjs read exactly as before without the message, while its logger stays
 * as it was, so a real validation error still prints.
 */
const US_OR_SS = 'xs';

function resolveUsOrSsAsUs(): void {
  const { nameMap, dictionary } = dcmjs.data.DicomMetaDictionary;
  for (const entry of Object.values(nameMap)) {
    if (entry.vr !== US_OR_SS) continue;
    const resolved = { ...entry, vr: 'US' };
    nameMap[entry.name] = resolved;
    // The dictionary is looked up as "(GGGG,EEEE)" when reading and as "GGGGEEEE" elsewhere; own keys win over its
    // generated entries.
    dictionary[entry.tag] = resolved;
    dictionary[dcmjs.data.DicomMetaDictionary.unpunctuateTag(entry.tag)] = resolved;
  }
}

resolveUsOrSsAsUs();

export { dcmjs };
