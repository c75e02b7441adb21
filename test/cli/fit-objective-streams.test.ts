import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fitCommand } from '../../src/cli/fit';
import { copySplit, runCommand, trainedBundleDir, trainedEvalDir } from '../evaluation/cli-helpers';

type Summary = {
  t3Fit: {
    objective: string;
    search: { pooledStream: boolean; pooledBySeries: false | { groupBy: string; minGroupSize: number; maxGroups: number } };
    validation: Record<string, Record<string, number>>;
    warnings: string[];
  };
};

describe('orthanc-t3 fit: the pooled stream of the objective, whole or split by series', () => {
  let tmp: string;
  let data: string;

  beforeAll(async () => {
    // The committed shifted split stands for a second site's validation split.
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-fit-pooled-'));
    data = path.join(tmp, 'validation');
    await copySplit(path.join(trainedEvalDir, 'in-domain'), path.join(data, 'in-domain'), 160);
    await copySplit(path.join(trainedEvalDir, 'shifted'), path.join(data, 'broad'), 160);
  });

  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const summary = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Summary;

  test('by default the pooled stream enters whole, and the record says so', async () => {
    const r = await runCommand(fitCommand, ['--bundle', trainedBundleDir, '--data', data, '--providers', 'cpu']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/estimated top-1 \(%\) at λ_B per stream of the objective: in-domain \d+\.\d, broad \d+\.\d, pooled \d+\.\d\n/);
    const { t3Fit } = summary(r.stdout);
    expect(t3Fit.search.pooledBySeries).toBe(false);
    expect(t3Fit.objective).toMatch(/\(their images shuffled into mixed batches\)/);
    expect(Object.keys(t3Fit.validation['t3b-fitted'])).toEqual(['in-domain', 'broad', 'pooled']);
  }, 300_000);

  test('--pooled-by-series scores the pooled stream split by series, and records the grouping it assumed', async () => {
    const r = await runCommand(fitCommand, ['--bundle', trainedBundleDir, '--data', data, '--providers', 'cpu', '--pooled-by-series']);
    expect(r.code).toBe(0);
    const { t3Fit } = summary(r.stdout);
    expect(t3Fit.search.pooledBySeries).toEqual({ groupBy: 'series', minGroupSize: 8, maxGroups: 2 });
    expect(t3Fit.objective).toMatch(/their images shuffled into mixed batches, each split by series as t3b-grouped serves it/);
    // Whether grouping by series is chosen or not, the command says when the map meets whole mixed batches it was not fitted for.
    const chosen = (JSON.parse(r.stdout.trim().split('\n').pop()!) as { t3: { groupBy?: string; maxGroups: number } }).t3;
    const bySeries = chosen.groupBy === 'series' && chosen.maxGroups >= 2;
    expect(t3Fit.warnings.some((w) => /fitted with --pooled-by-series .* not by series/.test(w))).toBe(!bySeries);
  }, 300_000);
});
