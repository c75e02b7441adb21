import { CategorizedError } from '../errors';
/** Why a DICOM object could not be read or turned into model input. */
export type DicomErrorCode =
  | 'truncated'
  | 'not-dicom'
  | 'no-pixel-data'
  | 'pixel-length'
  | 'unsupported-transfer-syntax'
  | 'codec-failure'
  | 'codec-timeout'
  | 'not-an-image'
  | 'bad-frame-index'
  | 'unsupported-photometric'
  /** The header declares more decoded bytes than the configured limit; refused before decoding. */
  | 'image-too-large';

/**
 * The only error src/dicom throws for bad input. The message always names the source (file name or
 * SOP Instance UID, whichever the caller or the header could give) and the cause, so one line in a log
 * is enough to find the offending object.
 */
export class DicomError extends CategorizedError {
  readonly code: DicomErrorCode;
  readonly source?: string;

  constructor(code: DicomErrorCode, cause: string, source?: string) {
    super('invalid-argument', `${source ?? 'DICOM object'}: ${code}: ${cause}`);
    this.code = code;
    this.source = source;
  }
}
