import { CORRUPTED_MEAN as CORRUPTED, type EvaluationResult } from './evaluation';

const pct = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : (100 * v).toFixed(digits));
const num = (v: number | null | undefined, digits = 3) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const signed = (v: number) => (v >= 0 ? '+' : '−') + Math.abs(100 * v).toFixed(1);

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** The splits each section reads: the clean ones (pooled stream included) and the corrupted ones. */
interface ReportSplits {
  clean: EvaluationResult['splits'];
  corrupted: EvaluationResult['splits'];
  /** Streams the evaluation built by pooling other splits, with the splits they pool. */
  pooled: Map<string, string[]>;
}

/** The opening paragraph: which images were evaluated and how mCE is defined here. */
function introduction(result: EvaluationResult, { clean, corrupted }: ReportSplits): string[] {
  const images = clean.map((s) => `${s.name} ${s.images}`).join(', ');
  const scale = result.corruptionScale;
  const scaled = result.corruptions.filter((c) => c.scaledToImageSize).map((c) => c.name);
  // Say so only where the scale changed something: 64 × 64 images keep the reference parameters.
  const scaleNote = scale && scaled.length && (scale.min !== 1 || scale.max !== 1)
    ? ` ${scaled.join(', ')} scaled to the image size: ×${num(scale.min, 2)}${scale.max !== scale.min ? `–${num(scale.max, 2)}` : ''} of the ${scale.referenceSide}-pixel parameters.`
    : '';
  const corruptedNote = corrupted.length
    ? `; ${corrupted.length} corrupted splits (${result.corruptions.length} corruptions × ${result.severities.length} severities) of ${corrupted[0].images} ${result.corruptionBase} images each. `
      + `mCE and relative mCE are ImageNet-C's, with the ${result.referencePolicy} as reference (100 = as robust as it; lower is better); `
      + `relative mCE's clean error is measured on the same ${corrupted[0].images} images (${result.corruptionCleanSplit})`
    : '';
  return [`Images: ${images}${corruptedNote}.${scaleNote}`, ''];
}

function accuracySection(result: EvaluationResult, { clean, corrupted }: ReportSplits): string[] {
  const header = ['policy', ...clean.map((s) => s.name)];
  if (corrupted.length) header.push('corrupted (mean)', 'mCE', 'relative mCE');
  header.push('agrees with T3', 'NLL (' + (clean[0]?.name ?? '') + ')');
  const rows = result.policies.map((p) => {
    const s = result.summary[p.id];
    const row = [p.label, ...clean.map((c) => pct(s.clean[c.name]))];
    if (corrupted.length) row.push(pct(s.corruptedAccuracy), pct(s.mce), pct(s.relativeMce));
    row.push(pct(s.agreementWithT3), num(clean[0] ? result.scores[p.id][clean[0].name].nll : null));
    return row;
  });
  return ['### Top-1 accuracy (%)', '', table(header, rows), ''];
}

/** Every merging policy against the better single model, with paired bootstrap intervals (needs both models). */
function againstBetterSection(result: EvaluationResult, { pooled }: ReportSplits): string[] {
  if (!result.summary.generalist || !result.summary.expert) return [];
  const level = Math.round(100 * result.bootstrap.level);
  const out = [`### Every policy against the better of generalist and expert (top-1 points, paired bootstrap ${level} % interval)`, ''];
  out.push(`The better single model is chosen per column. Intervals resample blocks of ${result.bootstrap.blockSize} consecutive images `
    + `(one T3B batch) ${result.bootstrap.replicates} times; the corruption average resamples the same base images in every corrupted split.`
    + [...pooled].map(([name, from]) => ` The ${name} stream holds the images of ${from.join(' and ')} again, so it is not independent of those columns.`).join(''), '');
  const columns = Object.keys(result.summary.generalist.againstBetter);
  const reference = result.summary.generalist.againstBetter;
  const header = ['policy', ...columns.map((c) => `${c}${pooled.has(c) ? ' (not independent)' : ''}`)];
  const cell = (id: string, column: string) => {
    const c = result.summary[id].againstBetter[column];
    return c ? `${signed(c.difference)} [${signed(c.low)}, ${signed(c.high)}]` : '–';
  };
  const merging = result.policies.filter((p) => p.id !== 'generalist' && p.id !== 'expert');
  out.push(table(header, [
    ['better single model', ...columns.map((c) => `${pct(reference[c].referenceAccuracy)} (${reference[c].reference})`)],
    ...merging.map((p) => [p.label, ...columns.map((c) => cell(p.id, c))]),
  ]));
  out.push('');
  // Split by split (independent clean splits and every corruption × severity): how often the policy is at least
  // as accurate as the better of the two models on that very split. A pooled stream repeats other splits' images.
  const counted = result.splits.filter((split) => split.kind !== 'corruption-base' && !split.pooledFrom);
  const atLeastBest = (id: string) => counted.filter((split) => {
    const acc = (pid: string) => result.scores[pid][split.name].accuracy;
    return acc(id) >= Math.max(acc('generalist'), acc('expert'));
  }).length;
  out.push(`Splits (of ${counted.length}: the independent clean splits and every corruption × severity) where the policy is at least as accurate as the better model on that split: `
    + merging.map((p) => `${p.label} ${atLeastBest(p.id)}`).join(', ') + '.', '');
  return out;
}

/** The oracle-λ curve with the best λ per column in bold, and where the batch-32 T3B (or the last one) put λ_B. */
function oracleSection(result: EvaluationResult, t3b: EvaluationResult['policies']): string[] {
  const oracle = result.oracle;
  if (!oracle) return [];
  const main = t3b.find((p) => p.batchSize === 32) ?? t3b[t3b.length - 1];
  const columns = Object.keys(oracle.accuracy).filter((name) => !name.includes('/'));
  const marks = (name: string) => {
    if (!main) return '–';
    const lambdas = name === CORRUPTED ? result.splits.filter((s) => s.kind === 'corrupted').flatMap((s) => result.scores[main.id][s.name].batchLambdas ?? [])
      : result.scores[main.id][name]?.batchLambdas ?? [];
    if (!lambdas.length) return '–';
    const mean = lambdas.reduce((a, v) => a + v, 0) / lambdas.length;
    return `${num(mean, 2)} (${num(Math.min(...lambdas), 2)}–${num(Math.max(...lambdas), 2)})`;
  };
  const best = (values: number[]) => values.indexOf(Math.max(...values));
  return ['### Oracle-λ curve: top-1 (%) of the merged model at fixed λ, and where T3B put λ_B', '', table(['λ', ...columns], [
    ...oracle.lambdas.map((lambda, i) => [num(lambda, 1), ...columns.map((c) => (i === best(oracle.accuracy[c]) ? `**${pct(oracle.accuracy[c][i])}**` : pct(oracle.accuracy[c][i])))]),
    [`λ_B of ${main ? main.label : 'T3B'}: mean (range)`, ...columns.map(marks)],
    // Without a T3B row (eval --policies) there is nothing to mark: the row shows dashes.
    [`${main ? main.label : 'T3B'} top-1`, ...columns.map((c) => (main ? pct(c === CORRUPTED ? result.summary[main.id].corruptedAccuracy : result.summary[main.id].clean[c]) : '–'))],
  ]), ''];
}

function t3AgreementSection(result: EvaluationResult, t3b: EvaluationResult['policies'], { clean, corrupted }: ReportSplits): string[] {
  if (!result.summary.t3 || !t3b.length) return [];
  const agreement = (id: string, names: string[]) => {
    const values = names.map((n) => result.scores[id][n].agreementWithT3).filter((v): v is number => v !== undefined);
    return values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
  };
  const cols = [...clean.map((c) => ({ name: c.name, splits: [c.name] })),
    ...(corrupted.length ? [{ name: 'corrupted (mean)', splits: corrupted.map((c) => c.name) }] : [])];
  return ['### T3B against sample-wise T3: images where both predict the same class (%)', '',
    table(['policy', ...cols.map((c) => c.name)], t3b.map((p) => [p.label, ...cols.map((c) => pct(agreement(p.id, c.splits)))])), ''];
}

function corruptionErrorSection(result: EvaluationResult, { corrupted }: ReportSplits): string[] {
  if (!corrupted.length) return [];
  const names = result.corruptions.map((c) => c.name);
  return [`### Corruption error per corruption (%, ${result.referencePolicy} = 100)`, '',
    table(['policy', ...names], result.policies.map((p) => [p.label, ...names.map((n) => pct(result.summary[p.id].ce?.[n]))])), ''];
}

function lambdaSection(result: EvaluationResult, t3b: EvaluationResult['policies']): string[] {
  if (!result.lambdaBySeverity.some((l) => l.t3Lambda !== null)) return [];
  // λ_B averages λ′ over a batch, so its mean over a split equals T3's; its spread across batches is what differs.
  const sizes = [...new Set(t3b.filter((p) => !p.coefficientSample && !p.lambdaEstimator).map((p) => String(p.batchSize)))].filter((s) => s !== '1');
  const range = (v: { min: number; max: number } | null | undefined) => (v ? `${num(v.min, 4)}–${num(v.max, 4)}` : '–');
  const rows = result.lambdaBySeverity.map((l) => [
    l.split, l.severity === 0 ? 'clean' : String(l.severity), num(l.t3Lambda, 4), ...sizes.map((size) => range(l.t3bLambda[size])), num(l.js, 4),
  ]);
  return ['### λ against shift: mean T3 λ′(x), range of T3B λ_B over the batches, mean JS divergence', '',
    table(['split', 'severity', 'T3 λ′ (mean)', ...sizes.map((size) => `λ_B range, batch ${size}`), 'JS (nats)'], rows), ''];
}

/** The evaluation as Markdown tables: accuracy per split, corruption errors, T3B against the better single model,
 *  and λ against severity. Every number comes from `result`. */
export function evaluationMarkdown(result: EvaluationResult, title = 'Evaluation'): string {
  const splits: ReportSplits = {
    clean: result.splits.filter((s) => s.kind === 'clean'),
    corrupted: result.splits.filter((s) => s.kind === 'corrupted'),
    // Streams the evaluation built by pooling other splits repeat their images: they are marked and not counted as
    // independent evidence, whatever they are called.
    pooled: new Map(result.splits.filter((s) => s.pooledFrom).map((s) => [s.name, s.pooledFrom!])),
  };
  const t3b = result.policies.filter((p) => p.policy === 't3b');
  return [
    `## ${title}`, '',
    ...introduction(result, splits),
    ...accuracySection(result, splits),
    ...againstBetterSection(result, splits),
    ...oracleSection(result, t3b),
    ...t3AgreementSection(result, t3b, splits),
    ...corruptionErrorSection(result, splits),
    ...lambdaSection(result, t3b),
  ].join('\n');
}
