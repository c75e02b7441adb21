/**
 * Temperature scaling (Guo et al. 2017): the T > 0 minimising the mean negative log-likelihood of softmax(z / T) on
 * labelled data. The NLL is convex in 1/T, hence unimodal in u = ln T, so a golden-section search over u finds the
 * minimum without derivatives. Inputs may be logits or log-probabilities: softmax(z/T) does not change when a
 * constant is added to a row, and ln softmax(z) is z minus a per-row constant.
 */

export interface TemperatureFit {
  temperature: number;
  nllBefore: number;
  nllAfter: number;
  /** Golden-section iterations run. */
  iterations: number;
}

export class CalibrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalibrationError';
  }
}

/** Mean −ln softmax(z_i / T)[y_i] over the rows, computed in log space. */
export function temperatureNll(logits: readonly ArrayLike<number>[], labels: readonly number[], temperature: number): number {
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const row = logits[i];
    let max = -Infinity;
    for (let c = 0; c < row.length; c++) max = Math.max(max, row[c] / temperature);
    let total = 0;
    for (let c = 0; c < row.length; c++) total += Math.exp(row[c] / temperature - max);
    sum += max + Math.log(total) - row[labels[i]] / temperature;
  }
  return sum / logits.length;
}

export interface TemperatureSearch {
  /** Search interval of T (default 0.01 to 100). */
  min?: number;
  max?: number;
  /** Stop when the interval of ln T is narrower than this (default 1e-6). */
  tolerance?: number;
}

export function fitTemperature(logits: readonly ArrayLike<number>[], labels: readonly number[], search: TemperatureSearch = {}): TemperatureFit {
  if (logits.length === 0) throw new CalibrationError('no labelled images to calibrate on');
  if (logits.length !== labels.length) throw new CalibrationError(`${logits.length} outputs for ${labels.length} labels`);
  logits.forEach((row, i) => {
    if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= row.length) {
      throw new CalibrationError(`label ${labels[i]} of image ${i} is not a class index (0..${row.length - 1})`);
    }
    for (let c = 0; c < row.length; c++) {
      if (!Number.isFinite(row[c])) throw new CalibrationError(`image ${i} has a non-finite value (${row[c]}) in class ${c}`);
    }
  });
  const f = (u: number) => temperatureNll(logits, labels, Math.exp(u));
  let a = Math.log(search.min ?? 0.01);
  let b = Math.log(search.max ?? 100);
  const tolerance = search.tolerance ?? 1e-6;
  const ratio = (Math.sqrt(5) - 1) / 2;
  let c = b - ratio * (b - a);
  let d = a + ratio * (b - a);
  let fc = f(c);
  let fd = f(d);
  let iterations = 0;
  while (b - a > tolerance && iterations < 200) {
    iterations++;
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - ratio * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + ratio * (b - a);
      fd = f(d);
    }
  }
  const temperature = Math.exp((a + b) / 2);
  return { temperature, nllBefore: temperatureNll(logits, labels, 1), nllAfter: temperatureNll(logits, labels, temperature), iterations };
}
