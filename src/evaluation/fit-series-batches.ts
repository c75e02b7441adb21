// The engine's own membership rule: the fit must split a batch exactly as the engine will.
import { seriesGroupMembership, type GroupingParameters } from '../t3';
import type { FitBatch, FitSplit } from './coefficient-fit';
import { fitBatchOf, type FitImageTable } from './fit-data';

/**
 * A pooled stream as grouped T3B by series serves it: each consecutive batch of `batchSize` split into the groups
 * that t3b-grouped with `groupBy: series` and `grouping` forms from the images' sources (seriesGroupMembership), each
 * group a batch of its own, since the engine gives each group the map's λ of its own images.
 *
 * Why: the pooled stream stands for batches that mix sites. A PACS knows each image's series, and a site that serves
 * mixed batches with t3b-grouped by series never runs one T3B pass over a mixed batch: the map then only ever meets
 * one-series groups. Fitting it on whole mixed batches instead makes it answer a question deployment does not ask
 * (what λ suits a batch half in-domain, half broad), and the answer (a λ between the models at the batch-mean JS
 * of a mix) is the wrong one for a one-site batch from another site whose mean JS is the same (issue 25: the
 * shifted site's batches sit exactly there).
 *
 * `sourceOf[i]` is the index of the split image i came from (its series, as a PACS would know it).
 */
export function seriesSplitFitImages(
  name: string, table: FitImageTable, sourceOf: readonly number[], batchSize: number, grouping: GroupingParameters, pooledFrom: readonly string[],
): FitSplit {
  const count = table.images.length;
  if (sourceOf.length !== count) throw new RangeError(`${sourceOf.length} sources for ${count} images`);
  const batches: FitBatch[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(start + batchSize, count);
    const { groupOf } = seriesGroupMembership(sourceOf.slice(start, end).map(String), { ...grouping, groupBy: 'series' });
    const groups = Math.max(...groupOf) + 1;
    for (let g = 0; g < groups; g++) {
      const members: number[] = [];
      for (let i = start; i < end; i++) if (groupOf[i - start] === g) members.push(i);
      batches.push(fitBatchOf(table, members));
    }
  }
  return { name, batches, pooledFrom: [...pooledFrom] };
}
