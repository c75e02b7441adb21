import type { ResizeMethod } from './resize';

/** Which frames of a (multi-frame) image become model inputs: a number is a 0-based frame index. */
export type FramePolicy = 'first' | 'middle' | 'all' | number;

/** The model's input layout; the bundle.json "input" object satisfies it. */
export interface ModelInputSpec {
  width: number;
  height: number;
  channels: number;
  mean: number[];
  std: number[];
  resize: ResizeMethod;
}

export interface DicomInstanceInfo {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  modality: string;
  numberOfFrames: number;
  transferSyntaxUid: string;
  rows: number;
  columns: number;
  photometricInterpretation: string;
  /** naturalized dcmjs dataset of the header (no pixel data), used by report/ to copy patient/study modules */
  header: Record<string, unknown>;
}

export interface ModelInputFrame {
  /** 1-based, as DICOM numbers frames. */
  frameNumber: number;
  /** [channels, height, width], preprocessed per ModelInputSpec. */
  tensor: Float32Array;
}

/** VOI applied when the file carries no window and no VOI LUT. */
export type VoiFallback = 'minmax' | { center: number; width: number };

export interface LoadModelInputsOptions {
  framePolicy: FramePolicy;
  /** File name or other label used in error messages; the SOP Instance UID is used when absent. */
  source?: string;
  voiFallback?: VoiFallback;
  /** Per-frame decode limit; the worker is terminated when it is exceeded. Default 10 000 ms. */
  frameTimeoutMs?: number;
  /**
   * Bound on the decoded bytes the header declares for the frames the policy selects (rows × columns × samples ×
   * bytes per sample × frames); over it the image is refused as image-too-large before decoding. Default 256 MiB
   * (decoded-size.ts).
   */
  maxDecodedImageBytes?: number;
}
