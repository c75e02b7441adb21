/**
 * Image SOP classes whose IOD is multi-frame (PS3.3; the set dciodvfy applies). ReferencedFrameNumber may only be
 * written for these: dciodvfy reports an error for a frame reference into any other class, even when the instance
 * carries NumberOfFrames > 1 (the pydicom 2-frame Secondary Capture sample is such a case).
 */
const PREFIX = '1.2.840.10008.5.1.4.1.1.';
const MULTIFRAME_SUFFIXES = [
  '2.1', '2.2', // Enhanced CT, Legacy Converted Enhanced CT
  '3.1', // Ultrasound Multi-frame
  '4.1', '4.2', '4.3', '4.4', // Enhanced MR, MR Spectroscopy, Enhanced MR Color, Legacy Converted Enhanced MR
  '6.2', '6.3', // Enhanced US Volume, Photoacoustic
  '7.1', '7.2', '7.3', '7.4', // Multi-frame Secondary Capture (single bit, grayscale byte/word, true color)
  '12.1', '12.1.1', '12.2', '12.2.1', // XA, Enhanced XA, XRF, Enhanced XRF
  '12.3', // X-Ray Angiographic Bi-plane (retired)
  '13.1.1', '13.1.2', '13.1.3', '13.1.4', '13.1.5', // 3D angio/craniofacial, breast tomosynthesis, breast projection
  '14.1', '14.2', // Intravascular OCT
  '20', // Nuclear Medicine
  '30', // Parametric Map
  '66.4', '66.7', '66.8', // Segmentation, Label Map Segmentation, Height Map Segmentation
  '77.1.1.1', '77.1.2.1', '77.1.4.1', // video endoscopic, microscopic, photographic
  '77.1.5.1', '77.1.5.2', '77.1.5.4', // ophthalmic photography 8/16 bit, ophthalmic tomography
  '77.1.6', // VL Whole Slide Microscopy
  '128.1', '128.2', '130', // Enhanced PET, Legacy Converted Enhanced PET, Enhanced PET (2nd edition)
];
const MULTIFRAME_SOP_CLASSES = new Set(MULTIFRAME_SUFFIXES.map((suffix) => PREFIX + suffix));

export function isMultiframeSopClass(sopClassUid: string): boolean {
  return MULTIFRAME_SOP_CLASSES.has(sopClassUid);
}
