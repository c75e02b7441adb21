// Accuracy cost of T3B with λ_B from a sample (batching.coefficientSample), on the evaluation protocol of
// docs/EVALUATION.md: every clean split, the mixed split and every corruption × severity of the in-domain split, for
// full T3B at batch B and its "sampled k" variants (evaluation-policies.ts), with the 95 % Wilson interval of full
// T3B's accuracy on each split and whether each sampled variant falls inside it.
//   npx tsx bench/sampled-accuracy.ts [--bundle DIR] [--data DIR] [--batch 32] [--samples 2,4,8] [--corrupted-limit N] [--out FILE]
import { promises as fs } from 'node:fs';
import { T3Engine } from '../src/engine';
import { CORRUPTION_NAMES, SEVERITIES, evaluationPolicies, runEvaluation } from '../src/evaluation';
import { wilsonInterval } from '../src/evaluation/accuracy-interval';
import { loadBundleAndSplits, option } from './labelled-splits-args';

async function main(argv: string[]): Promise<void> {
  const batch = Number(option(argv, 'batch') ?? 32);
  const samples = (option(argv, 'samples') ?? '2,4,8').split(',').map(Number);
  const corruptedLimit = Number(option(argv, 'corrupted-limit') ?? 128);
  const { bundle, splits } = await loadBundleAndSplits(argv);
  const base = splits.find((s) => s.name === 'in-domain') ?? splits[0];
  const engine = await T3Engine.open(bundle, { executionProviders: ['cpu'], log: (line) => process.stderr.write(`${line}\n`) });
  const policies = evaluationPolicies({ wiseAlphas: [], t3bBatchSizes: [batch], defaultBatchSize: batch, hyperparameters: { ...bundle.manifest.t3 }, t3bCoefficientSamples: samples })
    .filter((p) => p.id === 'generalist' || p.config.name === 't3b');
  let result;
  try {
    result = await runEvaluation({
      runner: engine, spec: bundle.manifest.input, policies, splits,
      corruptionBase: { split: base, limit: corruptedLimit }, corruptions: [...CORRUPTION_NAMES], severities: [...SEVERITIES],
      referencePolicyId: 'generalist', mixedSplit: true, progress: (line) => process.stderr.write(`sampled-accuracy: ${line}\n`),
    });
  } finally {
    await engine.close();
  }
  const full = `t3b-${batch}`;
  const rows = result.splits.map((split) => {
    const f = result.scores[full][split.name];
    const interval = wilsonInterval(Math.round(f.accuracy * f.images), f.images);
    return {
      split: split.name, images: f.images, fullAccuracy: f.accuracy, interval,
      sampled: Object.fromEntries(samples.map((k) => {
        const a = result.scores[`${full}-sample-${k}`][split.name].accuracy;
        return [k, { accuracy: a, delta: a - f.accuracy, withinInterval: a >= interval.low && a <= interval.high }];
      })),
    };
  });
  const pct = (x: number) => (100 * x).toFixed(1);
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
  const header = ['split', 'n', `T3B ${batch} top-1 [95 % CI]`, ...samples.map((k) => `k=${k} (Δ)`)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(`| ${r.split} | ${r.images} | ${pct(r.fullAccuracy)} [${pct(r.interval.low)}, ${pct(r.interval.high)}] | ${samples.map((k) => {
      const s = r.sampled[k];
      return `${pct(s.accuracy)} (${signed(s.delta)})${s.withinInterval ? '' : ' **outside**'}`;
    }).join(' | ')} |`);
  }
  const summary = samples.map((k) => {
    const outside = rows.filter((r) => !r.sampled[k].withinInterval);
    const meanDelta = rows.reduce((s, r) => s + r.sampled[k].delta, 0) / rows.length;
    const worst = rows.reduce((m, r) => Math.min(m, r.sampled[k].delta), 0);
    return `k=${k}: within the interval on ${rows.length - outside.length}/${rows.length} splits${outside.length ? ` (outside: ${outside.map((r) => r.split).join(', ')})` : ''}; mean Δ ${signed(meanDelta)} points, worst ${signed(worst)}`;
  });
  process.stdout.write([...lines, '', ...summary, `(${result.seconds.toFixed(0)} s of evaluation)`].join('\n') + '\n');
  const out = option(argv, 'out');
  if (out) await fs.writeFile(out, JSON.stringify({ bundle: bundle.manifest.name, batch, samples, rows, summary }, null, 2) + '\n');
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`sampled-accuracy: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
