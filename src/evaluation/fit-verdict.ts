/**
 * Whether a fitted map may ship, and how it compares on validation. The fit re-measures its chosen map with real
 * merged passes (the search ranked maps on interpolated, smoothed accuracies), next to the paper's map, WiSE-FT and
 * both single models, on each validation stream. A map that does worse than simply deploying the better single model
 * costs three passes for a loss: it is refused. "Better single model" is the one with the higher mean over the
 * streams, weighted as the objective weighs them (equal weight per stream): the model a site would deploy instead.
 * Per stream the comparison column uses that stream's better model (as eval does), for information only.
 */

/** Accuracy (fraction) per policy, per validation stream. */
export type FitValidation = Record<string, Record<string, number>>;

export interface FitComparison {
  /** What the fitted map is compared with, e.g. "better single model", "paper's map", "WiSE-FT α=0.5". */
  against: string;
  /** Per stream and for "mean": the policy compared with and fitted − it (fraction). */
  byStream: Record<string, { reference: string; difference: number }>;
}

export interface FitVerdict {
  /** Mean over the streams per policy (equal weight). */
  mean: Record<string, number>;
  betterSingle: 'generalist' | 'expert';
  comparisons: FitComparison[];
  /** False when the fitted map's mean is below the better single model's; `reason` then says so in numbers. */
  ships: boolean;
  reason: string | null;
}

export const MEAN_COLUMN = 'mean';

const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;

/**
 * The verdict on `fitted` from validation accuracies of at least generalist, expert and fitted on every stream.
 * `others` are further policies to compare with (label → policy id), e.g. the paper's map and WiSE-FT.
 */
export function fitVerdict(validation: FitValidation, streams: readonly string[], fitted: string, others: Record<string, string>): FitVerdict {
  for (const id of ['generalist', 'expert', fitted, ...Object.values(others)]) {
    for (const s of streams) {
      if (typeof validation[id]?.[s] !== 'number') throw new RangeError(`no validation accuracy of "${id}" on "${s}"`);
    }
  }
  if (streams.length === 0) throw new RangeError('no validation streams');
  const mean = Object.fromEntries(Object.entries(validation).map(([id, byStream]) => [id, streams.reduce((sum, s) => sum + byStream[s], 0) / streams.length]));
  const betterSingle = mean.expert > mean.generalist ? 'expert' : 'generalist';
  const compare = (against: string, pick: (stream: string) => string): FitComparison => ({
    against,
    byStream: Object.fromEntries([...streams, MEAN_COLUMN].map((s) => {
      const reference = pick(s);
      const value = (id: string) => (s === MEAN_COLUMN ? mean[id] : validation[id][s]);
      return [s, { reference, difference: value(fitted) - value(reference) }];
    })),
  });
  const comparisons = [
    compare('better single model', (s) => (s === MEAN_COLUMN ? betterSingle : validation.expert[s] > validation.generalist[s] ? 'expert' : 'generalist')),
    ...Object.entries(others).map(([label, id]) => compare(label, () => id)),
  ];
  // A strict loss: a map that ties the better single model still ships (it is no worse on validation, and the
  // batch-wise choice is what carries it through shifts that validation does not hold).
  const loss = mean[fitted] < mean[betterSingle];
  return {
    mean, betterSingle, comparisons, ships: !loss,
    reason: loss
      ? `the fitted map scores ${(100 * mean[fitted]).toFixed(1)} % (mean over ${streams.join(', ')}), `
        + `${points(mean[fitted] - mean[betterSingle])} points against the ${betterSingle} alone (${(100 * mean[betterSingle]).toFixed(1)} %)`
      : null,
  };
}
