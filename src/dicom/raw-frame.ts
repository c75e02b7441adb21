/** One frame's samples as a decoder hands them over, before BitsStored/HighBit/sign handling. */
export interface RawFrame {
  /** Sample words, little-endian, bytesPerSample wide each. */
  bytes: Uint8Array;
  bytesPerSample: 1 | 2 | 4;
  /** True when all samples of one component come before the next component's. */
  planar: boolean;
  /** Native YBR_FULL_422: Y0 Y1 Cb Cr per pixel pair, to be expanded to three samples per pixel. */
  subsampled422?: boolean;
  /** What the samples are after the decoder (e.g. libjpeg-turbo turns YBR into RGB). */
  photometricInterpretation: string;
}
