import { CategorizedError, errorCategory } from '../../errors';
import type { StudyResult } from './study-result';

/**
 * A study was classified, but its SR could not be written. The classification is not lost with it: `result` holds
 * the priority, findings and review flag (already recorded on the study), so the job runner publishes them with the
 * failure and every list keeps the study at its priority. The category is the cause's: a refused value is permanent
 * (the study is parked at once), an unavailable archive is retried.
 */
export class ReportNotWrittenError extends CategorizedError {
  constructor(override readonly cause: unknown, readonly result: StudyResult) {
    super(errorCategory(cause), `the SR could not be written: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
