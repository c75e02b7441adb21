export { DicomError, type DicomErrorCode } from './errors';
export type { DicomInstanceInfo, FramePolicy, LoadModelInputsOptions, ModelInputFrame, ModelInputSpec, VoiFallback } from './types';
export { readDicomInfo, isImageObject } from './read-info';
export { nonImageKind } from './sop-classes';
export { loadModelInputs, decodeFrames, selectFrames, type DecodedFrame, type DecodeFramesOptions } from './decode';
export { closeSharedFramePool, setFramePoolSize } from './frame-pool';
export { SUPPORTED_TRANSFER_SYNTAXES, findTransferSyntax, type TransferSyntax, type FrameEncoding } from './transfer-syntax';
export type { PixelLayout } from './pixel-layout';
export type { StoredValues } from './stored-values';
