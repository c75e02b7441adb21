import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fitCommand } from '../../src/cli/fit';
import { loadBundle } from '../../src/engine';
import { runCommand, trainedBundleDir, trainedEvalDir } from '../evaluation/cli-helpers';

// --grouping-only keeps the bundle's map and chooses only groupBy, minGroupSize and maxGroups.
describe('orthanc-t3 fit --grouping-only', () => {
  let tmp: string;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-fit-grouping-'));
  });

  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('keeps the map and its provenance, records the grouping with its own command, and groups by series when searched', async () => {
    const shipped = await loadBundle(trainedBundleDir);
    const out = path.join(tmp, 'grouped');
    const argv = ['--bundle', trainedBundleDir, '--data', trainedEvalDir, '--limit', '160', '--grouping-only', '--group-by', 'js-step,series', '--out', out, '--providers', 'cpu'];
    const r = await runCommand(fitCommand, argv);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/grouping only for .*, the bundle's map kept/);
    const bundle = await loadBundle(out);
    const { t3, t3Fit } = bundle.manifest;
    const map = (hp: typeof t3) => ({ lambdaMin: hp.lambdaMin, lambdaMax: hp.lambdaMax, gamma: hp.gamma, jsThreshold: hp.jsThreshold, batchAggregation: hp.batchAggregation, extDelta: hp.extDelta });
    expect(map(t3)).toEqual(map(shipped.manifest.t3));
    // The map's provenance is the shipped one; the grouping carries this run's.
    expect(t3Fit?.command).toBe(shipped.manifest.t3Fit?.command);
    expect(t3Fit?.date).toBe(shipped.manifest.t3Fit?.date);
    expect(t3Fit?.data).toEqual(shipped.manifest.t3Fit?.data);
    const grouping = t3Fit?.grouping as {
      chosen: { groupBy: string; minGroupSize: number; maxGroups: number }; command: string; data: { images: number };
      search: { groupBys: string[] }; estimated: { groupBy: string; maxGroups: number }[]; validation: Record<string, Record<string, number>>;
    };
    expect(grouping.command).toBe(['orthanc-t3', 'fit', ...argv].join(' '));
    expect(grouping.data.images).toBe(320);
    expect(grouping.search.groupBys).toEqual(['js-step', 'series']);
    expect(t3).toMatchObject(grouping.chosen);
    // Both modes were estimated, plain T3B first.
    expect(grouping.estimated[0].maxGroups).toBe(1);
    expect(new Set(grouping.estimated.slice(1).map((c) => c.groupBy))).toEqual(new Set(['js-step', 'series']));
    expect(Object.keys(grouping.validation['t3b-fitted'])).toEqual(['in-domain', 'shifted', 'pooled']);
    // On the homogeneous splits grouping by series is T3B exactly (one series per batch): when chosen, it is measured equal there.
    if (grouping.chosen.maxGroups >= 2 && grouping.chosen.groupBy === 'series') {
      for (const split of ['in-domain', 'shifted']) expect(grouping.validation['t3b-grouped'][split]).toBe(grouping.validation['t3b-fitted'][split]);
    }
  }, 300_000);

  test('refuses an unknown --group-by mode', async () => {
    await expect(runCommand(fitCommand, ['--bundle', trainedBundleDir, '--data', trainedEvalDir, '--grouping-only', '--group-by', 'series,study']))
      .rejects.toThrow(/--group-by must be a comma-separated list of js-step, series, got "series,study"/);
  });
});
