import { errorCategory } from '../../errors';
import type { DicomErrorCode } from '../../dicom/errors';

export interface RetrySettings {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Delay before attempt number `attempt + 1`, after `attempt` failures: doubling from initialDelayMs, capped, then
 * spread over its upper half by `random` (in [0, 1]): after an Orthanc outage the studies that failed together do not
 * all come back in the same millisecond. `random` = 1 gives the plain doubling delay.
 */
export function retryDelayMs(settings: RetrySettings, attempt: number, random: () => number = () => 1): number {
  const delay = Math.min(settings.maxDelayMs, settings.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(delay * (0.5 + 0.5 * Math.min(1, Math.max(0, random()))));
}

/** True when a job that has failed `attempts` times must be parked instead of retried. */
export function shouldPark(settings: RetrySettings, attempts: number): boolean {
  return attempts >= settings.maxAttempts;
}

/**
 * A failure that the same input gives again: a value the SR cannot hold, an unsupported transfer syntax, broken pixel
 * data. Retrying it only delays the "failed" mark a radiologist needs to see, so it is not retried. Everything else
 * (Orthanc unavailable, a timeout, a fault of this program) may pass and is retried with backoff.
 */
export function isPermanentFailure(err: unknown): boolean {
  return errorCategory(err) === 'invalid-argument';
}

/**
 * Per-image failure codes (StudyImageFailure.code) that the same file gives again: every DicomError but a codec
 * timeout (a loaded machine may decode in time later), and an image no rule routes. Fetch, inference and cancelled
 * failures may pass.
 */
const PERMANENT_IMAGE_FAILURES: ReadonlySet<string> = new Set([
  'truncated', 'not-dicom', 'no-pixel-data', 'pixel-length', 'unsupported-transfer-syntax', 'codec-failure',
  'not-an-image', 'bad-frame-index', 'unsupported-photometric', 'image-too-large', 'no-route',
] satisfies (DicomErrorCode | 'no-route')[]);

export function isPermanentImageFailure(code: string): boolean {
  return PERMANENT_IMAGE_FAILURES.has(code);
}
