import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalCommand } from '../../src/cli/eval';
import { loadBundle } from '../../src/engine';
import { runCommand, trainedBundleDir, trainedEvalDir } from './cli-helpers';

// eval's pooled stream hands grouped T3B the split each image came from: with the shipped bundle's groupBy series,
// a pooled batch splits by split, a batch of one split stays one group (T3B's λ_B).
test('eval: grouped T3B by series splits pooled batches by source split, and leaves homogeneous batches as T3B', async () => {
  expect((await loadBundle(trainedBundleDir)).manifest.t3).toMatchObject({ groupBy: 'series', maxGroups: 2 });
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-eval-series-'));
  try {
    const { code } = await runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', trainedEvalDir, '--limit', '64', '--policies', 't3b,t3b-grouped',
      '--batch-sizes', '32', '--corruptions', 'none', '--oracle-lambdas', 'none', '--out', out, '--providers', 'cpu']);
    expect(code).toBe(0);
    type Score = { accuracy: number; batchLambdas: number[] };
    const report = JSON.parse(await fs.readFile(path.join(out, 'evaluation.json'), 'utf8')) as { scores: Record<string, Record<string, Score>> };
    const grouped = report.scores['t3b-grouped-32'];
    const plain = report.scores['t3b-32'];
    for (const split of ['in-domain', 'shifted']) {
      expect(grouped[split].batchLambdas).toEqual(plain[split].batchLambdas);
      expect(grouped[split].accuracy).toBe(plain[split].accuracy);
    }
    // 128 pooled images in 4 batches of 32, each mixing both splits: more than one λ per batch.
    expect(plain.pooled.batchLambdas).toHaveLength(4);
    expect(grouped.pooled.batchLambdas.length).toBeGreaterThan(4);
  } finally {
    await fs.rm(out, { recursive: true, force: true });
  }
}, 300_000);
