export interface RetrySettings {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/** Delay before attempt number `attempt + 1`, after `attempt` failures: doubling from initialDelayMs, capped. */
export function retryDelayMs(settings: RetrySettings, attempt: number): number {
  const delay = settings.initialDelayMs * 2 ** Math.max(0, attempt - 1);
  return Math.min(settings.maxDelayMs, delay);
}

/** True when a job that has failed `attempts` times must be parked instead of retried. */
export function shouldPark(settings: RetrySettings, attempts: number): boolean {
  return attempts >= settings.maxAttempts;
}
