import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../src/cli/command';
import { evalCommand } from '../../src/cli/eval';
import { runCommand, trainedBundleDir, trainedEvalDir } from './cli-helpers';

test('eval --lambda-estimators adds t3b-<estimator>-<B> rows beside T3B, with passes per image and outcomes', async () => {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'eval-estimators-'));
  try {
    const { code, stderr } = await runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', trainedEvalDir, '--limit', '32', '--batch-sizes', '8',
      '--lambda-estimators', 'sequential,series', '--policies', 't3b', '--corruptions', 'none', '--oracle-lambdas', 'none', '--providers', 'cpu', '--out', out]);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(await fs.readFile(path.join(out, 'evaluation.json'), 'utf8'));
    expect(result.policies.map((p: { id: string }) => p.id)).toEqual(['t3b-8', 't3b-sequential-8', 't3b-series-8']);
    expect(result.policies[1]).toMatchObject({ policy: 't3b', batchSize: 8, lambdaEstimator: 'sequential' });
    const inDomain = (id: string) => result.scores[id]['in-domain'];
    expect(inDomain('t3b-8').passesPerImage).toBe(3);
    // The in-domain split counts as one series: its first batch in full, the three later ones checked.
    const series = inDomain('t3b-series-8');
    expect(Object.values(series.estimateOutcomes as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(3);
    expect(series.passesPerImage).toBeLessThan(3);
  } finally {
    await fs.rm(out, { recursive: true, force: true });
  }
});

test('eval --lambda-estimators refuses an unknown estimator before reading anything', async () => {
  const run = runCommand(evalCommand, ['--data', trainedEvalDir, '--lambda-estimators', 'sequential,bogus']);
  await expect(run).rejects.toBeInstanceOf(UsageError);
  await expect(run).rejects.toThrow(/--lambda-estimators: unknown estimator "bogus"; expected sequential, series, series-sequential/);
});
