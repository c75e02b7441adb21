import { dawinCoefficient, dawinOffsetCoefficients } from './dawin';
import { entropyFromLogProbabilities } from './entropy';
import { T3InputError } from './errors';
import { guardEnabled, validateHyperparameters, type T3Hyperparameters } from './hyperparameters';
import { jsDivergence } from './js-divergence';
import { aggregateBatchLambda, applyExtrapolationGuard, t3Lambda } from './lambda';
import { logSoftmax } from './softmax';

/** Everything T3, T3B and DaWin derive from one image's pair of logit vectors. */
export interface ImageCoefficients {
  /** Entropies in nats of softmax(z_pt/T_pt) and softmax(z_ft/T_ft). */
  entropyPt: number;
  entropyFt: number;
  /** Jensen–Shannon divergence (nats unless hp.logBase is set). */
  js: number;
  /** T3 coefficient before the extrapolation guard. */
  lambda: number;
  extrapolationTriggered: boolean;
  /** λ' after the guard: the per-image coefficient of the t3 policy. */
  lambdaFinal: number;
  /** Plain DaWin coefficient. */
  dawinCoef: number;
}

export interface BatchCoefficients {
  images: ImageCoefficients[];
  /** T3B coefficient λ_B under hp.batchAggregation (the paper's: the mean of lambdaFinal over the batch). */
  batchLambda: number;
  /** DaWin offset-adjusted coefficients, one per image; null where the batch statistics are undefined. */
  dawinCoefOffset: (number | null)[];
}

function checkShapes(ptLogits: ArrayLike<number>[], ftLogits: ArrayLike<number>[]): number {
  if (!Array.isArray(ptLogits) || !Array.isArray(ftLogits)) {
    throw new T3InputError('logits must be given as arrays of rows (one row of class logits per image)');
  }
  if (ptLogits.length === 0) throw new T3InputError('empty batch: at least one image (row of logits) is needed');
  if (ftLogits.length !== ptLogits.length) {
    throw new T3InputError(`shape mismatch: generalist logits have ${ptLogits.length} rows, expert logits ${ftLogits.length}`);
  }
  const classes = ptLogits[0]?.length;
  if (typeof classes !== 'number' || classes === 0) {
    throw new T3InputError('generalist row 0 has no classes; every row needs at least one logit');
  }
  for (const [model, rows] of [['generalist', ptLogits], ['expert', ftLogits]] as const) {
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      if (row === null || typeof row !== 'object' || typeof row.length !== 'number') {
        throw new T3InputError(`${model} row ${r} is not an array of logits`);
      }
      if (row.length !== classes) {
        throw new T3InputError(`shape mismatch: ${model} row ${r} has ${row.length} classes, expected ${classes} (as generalist row 0)`);
      }
      for (let c = 0; c < classes; c++) {
        const z = row[c];
        if (typeof z !== 'number' || !Number.isFinite(z)) {
          throw new T3InputError(`${model} logit at row ${r}, column ${c} is ${String(z)}; logits must be finite numbers`);
        }
      }
    }
  }
  return classes;
}

/**
 * The entropies the guard compares: at one shared temperature when hp.guardTemperature is set (so the sharper model
 * really is the more confident one, not the one with the smaller fitted temperature), else the models' own.
 * Computed only when the guard can fire.
 */
function guardEntropies(
  ptRow: ArrayLike<number>,
  ftRow: ArrayLike<number>,
  entropyPt: number,
  entropyFt: number,
  hp: T3Hyperparameters,
): [number, number] {
  const t = hp.guardTemperature;
  if (t === null || !guardEnabled(hp)) return [entropyPt, entropyFt];
  return [entropyFromLogProbabilities(logSoftmax(ptRow, t)), entropyFromLogProbabilities(logSoftmax(ftRow, t))];
}

/**
 * Per-image entropies, JS, λ, λ', DaWin coefficients and the batch's λ_B and offset-adjusted DaWin coefficients
 * (docs/T3.md §2). Rows are images, columns classes; both models' logits must have the same shape.
 * Throws T3InputError for an empty batch, mismatched shapes, non-finite logits or invalid hyperparameters.
 */
export function computeBatchCoefficients(
  ptLogits: ArrayLike<number>[],
  ftLogits: ArrayLike<number>[],
  hp: T3Hyperparameters,
): BatchCoefficients {
  validateHyperparameters(hp);
  checkShapes(ptLogits, ftLogits);
  const jsOptions = { logBase: hp.logBase, eps: hp.eps };
  const images: ImageCoefficients[] = [];
  for (let i = 0; i < ptLogits.length; i++) {
    const logP = logSoftmax(ptLogits[i], hp.tPt);
    const logQ = logSoftmax(ftLogits[i], hp.tFt);
    const entropyPt = entropyFromLogProbabilities(logP);
    const entropyFt = entropyFromLogProbabilities(logQ);
    const js = jsDivergence(logP, logQ, jsOptions);
    const lambda = t3Lambda(js, hp);
    const guarded = applyExtrapolationGuard(lambda, ...guardEntropies(ptLogits[i], ftLogits[i], entropyPt, entropyFt, hp), hp);
    images.push({
      entropyPt,
      entropyFt,
      js,
      lambda,
      extrapolationTriggered: guarded.triggered,
      lambdaFinal: guarded.lambdaFinal,
      dawinCoef: dawinCoefficient(entropyPt, entropyFt),
    });
  }
  return {
    images,
    batchLambda: aggregateBatchLambda(images, hp),
    dawinCoefOffset: dawinOffsetCoefficients(
      images.map((im) => im.entropyPt),
      images.map((im) => im.entropyFt),
    ),
  };
}
