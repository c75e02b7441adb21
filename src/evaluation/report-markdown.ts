import type { EvaluationResult } from './evaluation';

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

/** The evaluation as Markdown tables: accuracy per split, corruption errors, T3B against the better single model,
 *  and λ against severity. Every number comes from `result`. */
export function evaluationMarkdown(result: EvaluationResult, title = 'Evaluation'): string {
  const clean = result.splits.filter((s) => s.kind === 'clean');
  const corrupted = result.splits.filter((s) => s.kind === 'corrupted');
  const out: string[] = [`## ${title}`, ''];
  const images = clean.map((s) => `${s.name} ${s.images}`).join(', ');
  out.push(`Images: ${images}${corrupted.length ? `; ${corrupted.length} corrupted splits (${result.corruptions.length} corruptions × ${result.severities.length} severities) of ${corrupted[0].images} ${result.corruptionBase} images each. ` +
    `mCE and relative mCE are ImageNet-C's, with the ${result.referencePolicy} as reference (100 = as robust as it; lower is better)` : ''}.`);
  out.push('');

  out.push('### Top-1 accuracy (%)', '');
  const header = ['policy', ...clean.map((s) => s.name)];
  if (corrupted.length) header.push('corrupted (mean)', 'mCE', 'relative mCE');
  header.push('agrees with T3', 'NLL (' + (clean[0]?.name ?? '') + ')');
  out.push(table(header, result.policies.map((p) => {
    const s = result.summary[p.id];
    const row = [p.label, ...clean.map((c) => pct(s.clean[c.name]))];
    if (corrupted.length) row.push(pct(s.corruptedAccuracy), pct(s.mce), pct(s.relativeMce));
    row.push(pct(s.agreementWithT3), num(clean[0] ? result.scores[p.id][clean[0].name].nll : null));
    return row;
  })));
  out.push('');

  const t3b = result.policies.filter((p) => p.policy === 't3b');
  const hasPair = result.summary.generalist && result.summary.expert;
  if (hasPair && t3b.length) {
    out.push('### T3B against the better of generalist and expert (top-1 points)', '');
    const splitCols: { name: string; get: (id: string) => number | null }[] = [
      ...clean.map((c) => ({ name: c.name, get: (id: string) => result.summary[id].clean[c.name] ?? null })),
      ...(corrupted.length ? [{ name: 'corrupted (mean)', get: (id: string) => result.summary[id].corruptedAccuracy }] : []),
    ];
    const rows = splitCols.map((col) => {
      const g = col.get('generalist') ?? 0;
      const e = col.get('expert') ?? 0;
      const best = Math.max(g, e);
      return [col.name, `${pct(best)} (${g >= e ? 'generalist' : 'expert'})`, ...(result.summary.t3 ? [signed((col.get('t3') ?? 0) - best)] : []),
        ...t3b.map((p) => signed((col.get(p.id) ?? 0) - best))];
    });
    // Split by split (clean and every corruption × severity): how often the merged policy is at least as accurate
    // as the better of the two models on that very split.
    const atLeastBest = (id: string) => result.splits.filter((split) => {
      const acc = (pid: string) => result.scores[pid][split.name].accuracy;
      return acc(id) >= Math.max(acc('generalist'), acc('expert'));
    }).length;
    rows.push([`splits where ≥ the better model (of ${result.splits.length})`, '',
      ...(result.summary.t3 ? [String(atLeastBest('t3'))] : []), ...t3b.map((p) => String(atLeastBest(p.id)))]);
    out.push(table(['split', 'better single model', ...(result.summary.t3 ? ['T3 (per image)'] : []), ...t3b.map((p) => p.label)], rows));
    out.push('');
  }

  if (result.summary.t3 && t3b.length) {
    out.push('### T3B against sample-wise T3: images where both predict the same class (%)', '');
    const agreement = (id: string, names: string[]) => {
      const values = names.map((n) => result.scores[id][n].agreementWithT3).filter((v): v is number => v !== undefined);
      return values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
    };
    const cols = [...clean.map((c) => ({ name: c.name, splits: [c.name] })),
      ...(corrupted.length ? [{ name: 'corrupted (mean)', splits: corrupted.map((c) => c.name) }] : [])];
    out.push(table(['policy', ...cols.map((c) => c.name)], t3b.map((p) => [p.label, ...cols.map((c) => pct(agreement(p.id, c.splits)))])));
    out.push('');
  }

  if (corrupted.length) {
    out.push(`### Corruption error per corruption (%, ${result.referencePolicy} = 100)`, '');
    const names = result.corruptions.map((c) => c.name);
    out.push(table(['policy', ...names], result.policies.map((p) => [p.label, ...names.map((n) => pct(result.summary[p.id].ce?.[n]))])));
    out.push('');
  }

  if (result.lambdaBySeverity.some((l) => l.t3Lambda !== null)) {
    // λ_B averages λ′ over a batch, so its mean over a split equals T3's; its spread across batches is what differs.
    const sizes = [...new Set(t3b.filter((p) => !p.coefficientSample).map((p) => String(p.batchSize)))].filter((s) => s !== '1');
    out.push('### λ against shift: mean T3 λ′(x), range of T3B λ_B over the batches, mean JS divergence', '');
    const range = (v: { min: number; max: number } | null | undefined) => (v ? `${num(v.min, 4)}–${num(v.max, 4)}` : '–');
    const rows = result.lambdaBySeverity.map((l) => [
      l.split, l.severity === 0 ? 'clean' : String(l.severity), num(l.t3Lambda, 4), ...sizes.map((size) => range(l.t3bLambda[size])), num(l.js, 4),
    ]);
    out.push(table(['split', 'severity', 'T3 λ′ (mean)', ...sizes.map((size) => `λ_B range, batch ${size}`), 'JS (nats)'], rows));
    out.push('');
  }
  return out.join('\n');
}
