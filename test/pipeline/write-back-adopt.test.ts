// A worker that stored its SR and stopped before tagging it (kill -9, or a claim taken over) leaves an SR the archive
// cannot name. The next run recognises it by the input set the SR records about itself, tags it and writes no second
// SR; an untagged SR of other inputs is left alone.
import { buildAiResultSr } from '../../src/report';
import { WriteBack, type Job, type StoredSr, type StoredTriageState, type StudySnapshot, type StudyStore } from '../../src/pipeline';
import { algorithm, FIXED_TIME, imageResult, rankedFindings, ROUTINE, sampleHeader } from '../report/sr-fixtures';

const HASH = 'a'.repeat(32);

function srWithInputSet(inputSetHash: string): Uint8Array {
  const header = sampleHeader('pydicom_CT_small.dcm');
  return buildAiResultSr({
    sourceHeader: header,
    images: [imageResult(header, rankedFindings(3))],
    algorithm: algorithm([0.5], { inputSetHash }),
    triage: ROUTINE,
    contentDateTime: FIXED_TIME,
  }).bytes;
}

function fakeStore(srs: { stored: StoredSr; bytes: Uint8Array }[]) {
  const tagged: [string, string][] = [];
  const states: Partial<StoredTriageState>[] = [];
  const store = {
    listResultSrs: async () => srs.map((s) => s.stored),
    fetchInstance: async (id: string) => srs.find((s) => s.stored.orthancInstanceId === id)!.bytes,
    tagSr: async (id: string, hash: string) => void tagged.push([id, hash]),
    writeState: async (_id: string, state: Partial<StoredTriageState>) => void states.push(state),
  } as unknown as StudyStore;
  return { store, tagged, states };
}

const stored = (id: string): StoredSr => ({ orthancInstanceId: id, studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3', sopInstanceUid: `1.2.3.${id.length}`, sopClassUid: '1.2.840.10008.5.1.4.1.1.88.34', inputSetHash: null });
const job = { orthancStudyId: 'study', attempts: 1, claim: null } as unknown as Job;
const snapshot = { state: { status: 'running', inputSetHash: null } } as unknown as StudySnapshot;

test('an untagged SR that records this input set is adopted and tagged', async () => {
  const { store, tagged, states } = fakeStore([{ stored: stored('other'), bytes: srWithInputSet('b'.repeat(32)) }, { stored: stored('ours'), bytes: srWithInputSet(HASH) }]);
  const reusable = await new WriteBack(store, () => undefined).findReusable(job, snapshot, HASH);
  expect(reusable).toMatchObject({ srInstanceId: 'ours' });
  expect(tagged).toEqual([['ours', HASH]]);
  expect(states).toEqual([expect.objectContaining({ status: 'done', inputSetHash: HASH, srInstanceId: 'ours' })]);
});

test('an untagged SR of other inputs is not adopted', async () => {
  const { store, tagged } = fakeStore([{ stored: stored('other'), bytes: srWithInputSet('b'.repeat(32)) }]);
  expect(await new WriteBack(store, () => undefined).findReusable(job, snapshot, HASH)).toBeNull();
  expect(tagged).toEqual([]);
});
