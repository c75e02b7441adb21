/**
 * Time as the job runner sees it. The running sidecar uses the system clock; tests of retry and park inject a
 * manual one, so no test depends on how busy the machine is.
 */
export interface JobClock {
  now(): Date;
  /** Calls `fn` after `ms`; returns a handle for cancel. */
  schedule(fn: () => void, ms: number): unknown;
  cancel(handle: unknown): void;
}

export const systemClock: JobClock = {
  now: () => new Date(),
  schedule: (fn, ms) => setTimeout(fn, ms),
  cancel: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
