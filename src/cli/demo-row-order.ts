import type { StudyResult } from '../pipeline';

/**
 * The worklist's groups, in its order (orthanc-config/plugin/t3_worklist.py, GROUP_ORDER): the demo prints its studies
 * the way a radiologist's worklist would show them, so an emergency is never listed below routine work and a study
 * without a result (not triaged yet, parked, failed) stays above routine ones.
 */
const GROUP_ORDER = { emergency: 0, urgent: 1, waiting: 2, routine: 3, skipped: 4 } as const;
export type WorklistGroup = keyof typeof GROUP_ORDER;

/**
 * A study's group: its triage priority once one was decided (even when its SR could not be written: the priority is
 * what must stay visible), `skipped` when done with nothing to classify, else `waiting`.
 */
export function worklistGroup(r: StudyResult | undefined): WorklistGroup {
  if (r?.triage) return r.triage.priority;
  if (r?.status === 'done' && r.images.length === 0) return 'skipped';
  return 'waiting';
}

/** Sorts items by their study's worklist group; items of one group keep their order (arrival, in the demo). */
export function inWorklistOrder<T>(items: readonly T[], resultOf: (item: T) => StudyResult | undefined): T[] {
  return items.map((item, i) => ({ item, i, rank: GROUP_ORDER[worklistGroup(resultOf(item))] }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i)
    .map(({ item }) => item);
}
