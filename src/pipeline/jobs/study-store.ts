import { CategorizedError } from '../../errors';
import type { FramePolicy } from '../../dicom';
import type { RunPriority } from '../results/study-result';

/** One instance of a study as the store describes it (no pixel data). */
export interface StudyInstance {
  orthancInstanceId: string;
  sopInstanceUid: string;
  sopClassUid: string;
  seriesInstanceUid: string;
  modality: string;
  bodyPartExamined: string;
  seriesDescription: string;
  callingAet: string | null;
  /** Manufacturer of the instance's series (tells our SRs from other vendors'). */
  manufacturer: string;
  /** Input set recorded on the instance (only our AI-result SRs carry it). */
  resultInputSetHash: string | null;
}

/** Triage state kept durably with the study (Orthanc metadata), read back on every run. */
export interface StoredTriageState {
  status: string | null;
  inputSetHash: string | null;
  srInstanceId: string | null;
  priority: string | null;
  review: string | null;
  topFinding: string | null;
  findings: string | null;
  /** Why the priority, in words (T3PriorityReason); optional: stores written before it have none. */
  priorityReason?: string | null;
  demonstration: string | null;
  finishedAt: string | null;
  lambda: string | null;
  /** Mean JS divergence of the images (T3Divergence) and the model identity (T3Model); optional: older stores lack them. */
  divergence?: string | null;
  model?: string | null;
  error: string | null;
  /** Why the SR of a classified study could not be written (its priority stands); null once one is stored. */
  reportError: string | null;
  attempts: number;
  runPriority: RunPriority | null;
}

export interface StudySnapshot {
  orthancStudyId: string;
  studyInstanceUid: string;
  studyDescription: string;
  /** Sorted by Orthanc instance id, so image indexes are stable. */
  instances: StudyInstance[];
  state: StoredTriageState;
}

/** An AI-result SR already in the store. */
export interface StoredSr {
  orthancInstanceId: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  /** Input set recorded on the SR instance; null when the crash came before it was recorded. */
  inputSetHash: string | null;
}

export type StudyRef = { orthancId?: string; studyInstanceUid?: string };

/** The study is not (or no longer) in the store. */
export class StudyNotFoundError extends CategorizedError {
  constructor(readonly ref: string) {
    super('not-found', `study ${ref} not found`);
  }
}

/** Where pixels come from: the stored file decoded here, or frames Orthanc decoded (rebuilt as an uncompressed file). */
export type PixelSourceName = 'local' | 'orthanc';

/**
 * What the pipeline needs from the image archive. orthanc/ implements it over Orthanc's REST API; the pipeline
 * does not know about HTTP. Writes must be idempotent: any of them may be repeated after a crash.
 */
export interface StudyStore {
  /** Orthanc id of the study; throws StudyNotFoundError. */
  resolve(ref: StudyRef): Promise<string>;
  snapshot(orthancStudyId: string): Promise<StudySnapshot>;
  /**
   * SOP Class UID of an instance without fetching it (null when unknown). Optional: speculation uses it to skip
   * non-image objects, our own SRs included, before downloading and parsing them.
   */
  instanceSopClassUid?(orthancInstanceId: string): Promise<string | null>;
  /** Part 10 bytes for the decoder; with source 'orthanc' only the frames `framePolicy` selects carry pixels. */
  /**
   * The instance's bytes. From 'orthanc', Orthanc decodes the frames and a file is rebuilt here: an image declaring
   * more than `maxDecodedImageBytes` is refused before Orthanc decodes anything (DicomError image-too-large).
   */
  fetchInstance(orthancInstanceId: string, source: PixelSourceName, framePolicy: FramePolicy, maxDecodedImageBytes?: number): Promise<Uint8Array>;
  /** Our AI-result SRs in the snapshot. */
  listResultSrs(snapshot: StudySnapshot): Promise<StoredSr[]>;
  /** Marks the SR as the result of `inputSetHash` (instance metadata). */
  tagSr(orthancInstanceId: string, inputSetHash: string): Promise<void>;
  storeSr(bytes: Uint8Array): Promise<{ orthancInstanceId: string; alreadyStored: boolean }>;
  writeState(orthancStudyId: string, state: Partial<StoredTriageState>): Promise<void>;
}
