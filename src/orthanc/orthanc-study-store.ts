import { COMPREHENSIVE_3D_SR_SOP_CLASS, MANUFACTURER } from '../report';
import {
  StudyNotFoundError,
  type PixelSourceName,
  type StoredSr,
  type StoredTriageState,
  type StudyInstance,
  type StudyRef,
  type StudySnapshot,
  type StudyStore,
} from '../pipeline/jobs/study-store';
import { CategorizedError } from '../errors';
import { DEFAULT_MAX_DECODED_IMAGE_BYTES, type FramePolicy } from '../dicom';
import { OrthancClient, OrthancError } from './orthanc-client';
import { orthancDecodedInstance } from './orthanc-decoded-file';
import { readTriageMetadata, TRIAGE_METADATA, type TriageMetadataKey } from './triage-metadata';

interface OrthancStudy {
  ID: string;
  MainDicomTags: Record<string, string>;
  Series: string[];
}
interface OrthancSeries {
  ID: string;
  MainDicomTags: Record<string, string>;
  Instances: string[];
}
interface OrthancInstance {
  ID: string;
  MainDicomTags: Record<string, string>;
  ParentSeries: string;
}

async function mapWithLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The pipeline's StudyStore over Orthanc's REST API (study loader + result writer). */
export class OrthancStudyStore implements StudyStore {
  constructor(private readonly client: OrthancClient) {}

  private notFound(err: unknown, ref: string): never {
    if (err instanceof OrthancError && err.notFound) throw new StudyNotFoundError(ref);
    throw err;
  }

  async resolve(ref: StudyRef): Promise<string> {
    if (ref.orthancId) {
      try {
        await this.client.getJson(`/studies/${encodeURIComponent(ref.orthancId)}`);
      } catch (err) {
        this.notFound(err, ref.orthancId);
      }
      return ref.orthancId;
    }
    if (ref.studyInstanceUid) {
      const ids = await this.client.findStudies(ref.studyInstanceUid);
      if (ids.length === 0) throw new StudyNotFoundError(ref.studyInstanceUid);
      return ids[0];
    }
    throw new StudyNotFoundError('(empty reference)');
  }

  async snapshot(orthancStudyId: string): Promise<StudySnapshot> {
    const id = encodeURIComponent(orthancStudyId);
    let study: OrthancStudy;
    let series: OrthancSeries[];
    let instances: OrthancInstance[];
    let metadata: Record<string, string>;
    try {
      [study, series, instances, metadata] = await Promise.all([
        this.client.getJson<OrthancStudy>(`/studies/${id}`),
        this.client.getJson<OrthancSeries[]>(`/studies/${id}/series`),
        this.client.getJson<OrthancInstance[]>(`/studies/${id}/instances`),
        this.client.getJson<Record<string, string>>(`/studies/${id}/metadata?expand`),
      ]);
    } catch (err) {
      this.notFound(err, orthancStudyId);
    }
    const seriesById = new Map(series.map((s) => [s.ID, s]));
    instances.sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
    const described = await mapWithLimit(instances, 8, async (inst): Promise<StudyInstance | null> => {
      let meta: Record<string, string>;
      try {
        meta = await this.client.getJson<Record<string, string>>(`/instances/${encodeURIComponent(inst.ID)}/metadata?expand`);
      } catch (err) {
        if (err instanceof OrthancError && err.notFound) return null; // deleted meanwhile
        throw err;
      }
      const s = seriesById.get(inst.ParentSeries);
      const tags = s?.MainDicomTags ?? {};
      return {
        orthancInstanceId: inst.ID,
        sopInstanceUid: inst.MainDicomTags.SOPInstanceUID ?? '',
        sopClassUid: meta.SopClassUid ?? '',
        seriesInstanceUid: tags.SeriesInstanceUID ?? '',
        modality: tags.Modality ?? '',
        bodyPartExamined: tags.BodyPartExamined ?? '',
        seriesDescription: tags.SeriesDescription ?? '',
        callingAet: meta.RemoteAET ? meta.RemoteAET : null,
        manufacturer: tags.Manufacturer ?? '',
        resultInputSetHash: readTriageMetadata(meta, 'inputSetHash'),
      };
    });
    const attempts = Number(readTriageMetadata(metadata, 'attempts') ?? '0');
    const lane = readTriageMetadata(metadata, 'runPriority');
    const state: StoredTriageState = {
      status: readTriageMetadata(metadata, 'status'),
      inputSetHash: readTriageMetadata(metadata, 'inputSetHash'),
      srInstanceId: readTriageMetadata(metadata, 'srInstanceId'),
      priority: readTriageMetadata(metadata, 'priority'),
      review: readTriageMetadata(metadata, 'review'),
      topFinding: readTriageMetadata(metadata, 'topFinding'),
      findings: readTriageMetadata(metadata, 'findings'),
      priorityReason: readTriageMetadata(metadata, 'priorityReason'),
      demonstration: readTriageMetadata(metadata, 'demonstration'),
      finishedAt: readTriageMetadata(metadata, 'finishedAt'),
      lambda: readTriageMetadata(metadata, 'lambda'),
      error: readTriageMetadata(metadata, 'error'),
      reportError: readTriageMetadata(metadata, 'reportError'),
      attempts: Number.isFinite(attempts) ? attempts : 0,
      runPriority: lane === 'stat' || lane === 'routine' ? lane : null,
    };
    return {
      orthancStudyId,
      studyInstanceUid: study.MainDicomTags.StudyInstanceUID ?? '',
      studyDescription: study.MainDicomTags.StudyDescription ?? '',
      instances: described.filter((x): x is StudyInstance => x !== null),
      state,
    };
  }

  async instanceSopClassUid(orthancInstanceId: string): Promise<string | null> {
    try {
      const meta = await this.client.getJson<Record<string, string>>(`/instances/${encodeURIComponent(orthancInstanceId)}/metadata?expand`);
      return meta.SopClassUid ?? null;
    } catch (err) {
      this.notFound(err, orthancInstanceId);
    }
  }

  async fetchInstance(orthancInstanceId: string, source: PixelSourceName, framePolicy: FramePolicy,
    maxDecodedImageBytes = DEFAULT_MAX_DECODED_IMAGE_BYTES): Promise<Uint8Array> {
    try {
      return source === 'orthanc'
        ? await orthancDecodedInstance(this.client, orthancInstanceId, framePolicy, maxDecodedImageBytes)
        : await this.client.instanceFile(orthancInstanceId);
    } catch (err) {
      this.notFound(err, orthancInstanceId);
    }
  }

  async listResultSrs(snapshot: StudySnapshot): Promise<StoredSr[]> {
    // Ours: Comprehensive 3D SR from a series whose Manufacturer is the one report/ writes.
    const ours = snapshot.instances.filter((i) => i.sopClassUid === COMPREHENSIVE_3D_SR_SOP_CLASS && i.manufacturer === MANUFACTURER);
    return ours.map((i) => ({
      orthancInstanceId: i.orthancInstanceId,
      studyInstanceUid: snapshot.studyInstanceUid,
      seriesInstanceUid: i.seriesInstanceUid,
      sopInstanceUid: i.sopInstanceUid,
      sopClassUid: i.sopClassUid,
      inputSetHash: i.resultInputSetHash,
    }));
  }

  async tagSr(orthancInstanceId: string, inputSetHash: string): Promise<void> {
    await this.client.putTextReplacing(`/instances/${encodeURIComponent(orthancInstanceId)}/metadata/${TRIAGE_METADATA.inputSetHash.index}`, inputSetHash);
  }

  async storeSr(bytes: Uint8Array): Promise<{ orthancInstanceId: string; alreadyStored: boolean }> {
    const res = await this.client.storeInstance(bytes);
    // Orthanc answers 200 with Status "FilteredOut" when a filter of the site (a Lua ReceivedInstanceFilter, a plugin)
    // refused the instance: nothing was stored, and recording the study as done would point at an SR that is not
    // there. A filter is configuration: it may be changed, so the study is retried, then parked with this reason.
    if (res.Status !== 'Success' && res.Status !== 'AlreadyStored') {
      throw new CategorizedError('failed-precondition', `Orthanc did not store the SR (status ${String(res.Status)}): a filter of this Orthanc refused it`);
    }
    return { orthancInstanceId: res.ID, alreadyStored: res.Status === 'AlreadyStored' };
  }

  async writeState(orthancStudyId: string, state: Partial<StoredTriageState>): Promise<void> {
    const id = encodeURIComponent(orthancStudyId);
    // The status goes last: a reader that sees "done" sees the rest too.
    // Only the entries of the triage state: the workflow entries (T3Ack, T3Feedback) are the plugin's to write.
    type StateKey = TriageMetadataKey & keyof StoredTriageState;
    const keys = (Object.keys(state) as (keyof StoredTriageState)[]).filter(
      (k): k is StateKey => k in TRIAGE_METADATA && k !== 'status',
    );
    const writeOne = async (key: StateKey): Promise<void> => {
      const value = state[key];
      const index = TRIAGE_METADATA[key].index;
      try {
        // With revisions on (several sidecars, PostgreSQL) a plain PUT over an existing value is refused: these
        // send the current revision. Exclusion between sidecars comes from the study's claim, checked before.
        if (value === null || value === undefined) await this.client.deleteReplacing(`/studies/${id}/metadata/${index}`);
        else await this.client.putTextReplacing(`/studies/${id}/metadata/${index}`, String(value));
      } catch (err) {
        if (err instanceof OrthancError && err.notFound) {
          if (value === null || value === undefined) return; // deleting what is not there
          throw new StudyNotFoundError(orthancStudyId);
        }
        throw err;
      }
    };
    // The other entries together (each is its own request), then the status alone.
    const settled = await Promise.allSettled(keys.map(writeOne));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if ('status' in state) await writeOne('status');
  }
}
