import { CategorizedError } from '../../errors';
/**
 * A claim on one study held by this sidecar while several sidecars share one PACS. orthanc/ implements it with study
 * metadata and revisions; the pipeline only checks it before each durable write, so a sidecar that lost its claim
 * (paused past its lease, taken over) never writes over the new owner's work.
 */
export interface StudyClaim {
  /** Who holds it (this sidecar's worker id). */
  readonly workerId: string;
  /** True once a renewal found that another worker took the study over. */
  readonly lost: boolean;
  /** Renews the lease now; false when the claim was lost. */
  confirm(): Promise<boolean>;
  /** Gives the study up (after its final state is written); a lost claim is left alone. */
  release(): Promise<void>;
}

/** The claim was taken over by another worker: this run stops without writing; the new owner finishes the study. */
export class ClaimLostError extends CategorizedError {
  readonly code = 'claim-lost';
  constructor(readonly orthancStudyId: string, readonly workerId: string) {
    super('unavailable', `claim on study ${orthancStudyId} held by worker ${workerId} was taken over by another worker`);
  }
}
