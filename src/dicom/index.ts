export { DicomError, type DicomErrorCode } from './errors';
export type { DicomInstanceInfo, FramePolicy, LoadModelInputsOptions, ModelInputFrame, ModelInputSpec, VoiFallback } from './types';
export { readDicomInfo, isImageObject } from './read-info';
export { nonImageKind, SECONDARY_CAPTURE_IMAGE_STORAGE } from './sop-classes';
export { loadModelInputs, decodeFrames, selectFrames, type DecodedFrame, type DecodeFramesOptions } from './decode';
export { closeSharedFramePool } from './frame-pool';
export { DEFAULT_MAX_DECODED_IMAGE_BYTES, declaredFrameBytes } from './decoded-size';
export {
  findTransferSyntax, EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
  type TransferSyntax, type FrameEncoding,
} from './transfer-syntax';
export { part10Header, wrapEncodedDataset, ORTHANC_T3_IMPLEMENTATION_CLASS_UID, type FileMetaIdentity } from './part10-header';
export { writePart10 } from './part10-writer';
export { dcmjs } from './dcmjs-library';
export {
  pixelArrayToDicom, newPixelArrayContext, PixelArrayError, type PixelArrayMessage, type PixelArrayContext,
} from './secondary-capture';
export { RESIZE_METHODS, type ResizeMethod } from './resize';
export type { PixelLayout } from './pixel-layout';
export type { StoredValues } from './stored-values';
