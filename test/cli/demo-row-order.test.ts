import { inWorklistOrder, worklistGroup } from '../../src/cli/demo-row-order';
import { queuedStudyResult } from '../../src/pipeline/results/study-result';
import type { StudyResult } from '../../src/pipeline';

/** A finished study: with a priority and an SR, or with nothing to classify. */
function done(id: string, priority: 'routine' | 'urgent' | 'emergency' | null): StudyResult {
  const base = queuedStudyResult({ orthancStudyId: id, studyInstanceUid: `1.2.${id.length}`, policy: 't3b', runPriority: 'routine', status: 'done' });
  if (priority === null) return base;
  return {
    ...base,
    triage: { priority } as StudyResult['triage'],
    images: [{} as StudyResult['images'][number]],
    sr: { orthancInstanceId: `sr-${id}`, sopInstanceUid: '1.2.3', seriesInstanceUid: '1.2.4', predecessorSopInstanceUid: null, reused: false },
  };
}

test('the demo lists studies as the worklist does: emergency, urgent, not triaged yet, routine, nothing to analyse', () => {
  const results = new Map<string, StudyResult>([
    ['routine-1', done('routine-1', 'routine')],
    ['urgent-1', done('urgent-1', 'urgent')],
    ['sr-only', done('sr-only', null)],
    ['emergency-1', done('emergency-1', 'emergency')],
    ['parked', queuedStudyResult({ orthancStudyId: 'parked', studyInstanceUid: '1.2.9', policy: 't3b', runPriority: 'routine', status: 'parked', error: 'header value too long' })],
    ['urgent-2', done('urgent-2', 'urgent')],
  ]);
  // 'missing' never got a result (still queued when the demo printed): it stays above routine work.
  const order = inWorklistOrder(['routine-1', 'urgent-1', 'sr-only', 'emergency-1', 'missing', 'parked', 'urgent-2'], (id) => results.get(id));
  expect(order).toEqual(['emergency-1', 'urgent-1', 'urgent-2', 'missing', 'parked', 'routine-1', 'sr-only']);
  expect(worklistGroup(undefined)).toBe('waiting');
  // A decided emergency whose SR could not be written stays an emergency.
  expect(worklistGroup({ ...done('x', 'emergency'), status: 'parked', sr: null })).toBe('emergency');
});
