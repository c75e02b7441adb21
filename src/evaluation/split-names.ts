import { EvaluationInputError } from './evaluation-input-error';

/**
 * Names the evaluation gives to the streams it builds itself. A user's split is a folder name, and a folder may be
 * called anything, "mixed" included: the evaluation's own streams take names of their own, and a user split that
 * uses one of them is refused before any image is read, so that no table or JSON key silently holds two things.
 */

/** The stream that pools every clean split's images in one shuffled order (T3B batches then mix domains). */
export const POOLED_SPLIT = 'pooled';

/** Column of the corruption average in summaries, intervals and the oracle curve. */
export const CORRUPTED_MEAN = 'corrupted (mean)';

const RESERVED_SPLIT_NAMES: readonly string[] = Object.freeze([POOLED_SPLIT, CORRUPTED_MEAN]);

/**
 * Refuses split names that would collide with the evaluation's own: a reserved name, a name with "/" (corrupted and
 * corruption-base splits are named "<split>/…"), or the same name twice.
 */
export function checkSplitNames(names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (RESERVED_SPLIT_NAMES.includes(name)) {
      throw new EvaluationInputError(`split "${name}" uses a name the evaluation reserves for its own streams (${RESERVED_SPLIT_NAMES.join(', ')}): `
        + 'rename the folder, or leave it out with --exclude');
    }
    if (name.includes('/')) {
      throw new EvaluationInputError(`split "${name}" contains "/", which the evaluation reserves for the splits it derives (<split>/clean, <split>/<corruption>/<severity>)`);
    }
    if (seen.has(name)) throw new EvaluationInputError(`two splits are named "${name}": every split needs its own name`);
    seen.add(name);
  }
}
