import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExitCode } from '../../src/cli/command';
import { fitCommand } from '../../src/cli/fit';
import { loadBundle } from '../../src/engine';
import { copySplit, runCommand, trainedBundleDir, trainedEvalDir } from '../evaluation/cli-helpers';

// The committed labelled splits (in-domain and shifted; calibration is excluded by default) exercise the command.
// The shipped map was fitted on bundles/demo-trained/validation, which scripts/train-demo writes and git ignores.
const validationDir = trainedEvalDir;

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await fs.readFile(file)).digest('hex');
}

describe('orthanc-t3 fit', () => {
  let tmp: string;
  let shippedBefore: string;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-fit-'));
    shippedBefore = await sha256(path.join(trainedBundleDir, 'bundle.json'));
  });

  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
    // Whatever happened above, the shipped bundle was not rewritten.
    expect(await sha256(path.join(trainedBundleDir, 'bundle.json'))).toBe(shippedBefore);
  });

  test('fits on validation data, prints its choice and the three models\' scores, writes nothing without --out', async () => {
    const r = await runCommand(fitCommand, ['--bundle', trainedBundleDir, '--data', validationDir, '--limit', '160', '--providers', 'cpu']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/λ = .*σ\(.*\(JS − .*\)\), aggregation (mean-lambda|lambda-of-mean-js), guard (off|on)/);
    for (const policy of ['generalist', 'expert', 't3b-paper', 't3b-fitted']) expect(r.stdout).toMatch(new RegExp(`\\n\\s+${policy}\\s+\\d+\\.\\d`));
    expect(r.stderr).toMatch(/nothing written/);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(summary.written).toBeNull();
  }, 300_000);

  test('--out writes a loadable bundle with the fitted map and its provenance', async () => {
    const out = path.join(tmp, 'fitted');
    const r = await runCommand(fitCommand, ['--bundle', trainedBundleDir, '--data', validationDir, '--limit', '160', '--out', out, '--providers', 'cpu']);
    expect(r.code).toBe(0);
    const bundle = await loadBundle(out);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(bundle.manifest.t3).toEqual(summary.t3);
    const fit = bundle.manifest.t3Fit!;
    expect(fit.data.images).toBe(320);
    expect(fit.data.splits.map((s) => [s.name, s.images])).toEqual([['in-domain', 160], ['shifted', 160]]);
    expect(fit.data.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(fit.command).toBe(`orthanc-t3 fit --bundle ${trainedBundleDir} --data ${validationDir} --limit 160 --out ${out} --providers cpu`);
    expect(Number.isNaN(Date.parse(fit.date))).toBe(false);
    expect(fit.objective).toMatch(/T3B top-1 accuracy/);
    expect(fit.batchSize).toBe(32);
    // t3b-grouped is measured only when the fit chose to group (maxGroups 2).
    const grouping = fit.grouping as { chosen: { minGroupSize: number; maxGroups: number }; reason: string; estimated: { maxGroups: number }[] };
    expect(bundle.manifest.t3).toMatchObject(grouping.chosen);
    expect(grouping.reason.length).toBeGreaterThan(0);
    expect(grouping.estimated[0].maxGroups).toBe(1);
    expect(Object.keys(fit.validation as object)).toEqual(['generalist', 'expert', 'wise-0.5', 't3b-paper', 't3b-fitted', ...(grouping.chosen.maxGroups >= 2 ? ['t3b-grouped'] : [])]);
    // Mixed batches are in the objective: the pooled stream is fitted on and measured like a split.
    expect(fit.objective).toMatch(/and the pooled stream \(their images shuffled into mixed batches\)/);
    expect((fit.search as { pooledStream: boolean }).pooledStream).toBe(true);
    const validation = fit.validation as Record<string, Record<string, number>>;
    expect(Object.keys(validation['t3b-fitted'])).toEqual(['in-domain', 'shifted', 'pooled']);
    // A single model treats every image alone: on the pooled stream it scores the mean of the two splits.
    expect(validation.generalist.pooled).toBeCloseTo((validation.generalist['in-domain'] + validation.generalist.shifted) / 2, 12);
    expect((fit.comparison as { betterSingle: string }).betterSingle).toMatch(/^(generalist|expert)$/);
    // The models are copied unchanged.
    expect(bundle.manifest.models).toEqual((await loadBundle(trainedBundleDir)).manifest.models);
  }, 300_000);

  test('widened search ranges are searched, recorded and named in the warnings', async () => {
    const r = await runCommand(fitCommand, ['--bundle', trainedBundleDir, '--data', validationDir, '--limit', '160', '--providers', 'cpu',
      '--gamma-range', '0.5,1024', '--js-threshold-range', '0,0.6', '--guard-deltas', '0.1', '--min-group-sizes', '6,4,40', '--max-groups', '1,2']);
    expect(r.code).toBe(0);
    const { t3Fit } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(t3Fit.search.gammas).toEqual([0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    expect(t3Fit.search.jsThreshold).toEqual({ min: 0, max: 0.6, step: 0.005 });
    expect(t3Fit.search.guardDeltas).toEqual([0.1]);
    // The grouping candidates as given (sorted), each estimated after plain T3B, by the step and by series (the default modes).
    expect(t3Fit.grouping.search.minGroupSizes).toEqual([4, 6, 40]);
    expect(t3Fit.grouping.search.groupBys).toEqual(['js-step', 'series']);
    type Estimated = { groupBy: string; minGroupSize: number; maxGroups: number; perStream: Record<string, number> };
    const estimated = t3Fit.grouping.estimated as Estimated[];
    expect(estimated[0].maxGroups).toBe(1);
    expect(estimated.slice(1).map((c) => `${c.groupBy}/${c.minGroupSize}/${c.maxGroups}`))
      .toEqual(['js-step/4/2', 'js-step/6/2', 'js-step/40/2', 'series/4/2', 'series/6/2', 'series/40/2']);
    // A group of 40 cannot form in a batch of 32: those candidates are plain T3B, batch for batch.
    expect(estimated[3].perStream).toEqual(estimated[0].perStream);
    expect(estimated[6].perStream).toEqual(estimated[0].perStream);
    // By series a homogeneous split is one series: every series candidate is plain T3B on it.
    for (const c of estimated.slice(4)) for (const split of ['in-domain', 'shifted']) expect(c.perStream[split]).toBe(estimated[0].perStream[split]);
    // Every candidate was scored: 2 aggregations × 12 γ × 121 τ_JS × 29² endpoint pairs, then 4 × 1 guards.
    expect(t3Fit.search.candidates).toBe(2 * 12 * 121 * 29 * 29 + 4);
    expect(t3Fit.warnings.join('\n')).not.toMatch(/\[0\.5, 256\]|\[0, 0\.5\]/);
    for (const w of t3Fit.warnings.filter((x: string) => x.startsWith('γ'))) expect(w).toMatch(/\[0\.5, 1024\]/);
  }, 300_000);

  test('refuses to ship a map that loses to the better single model on held-out data, and keeps the previous map', async () => {
    // Fitted where the generalist rules (shifted images), checked where the expert rules (in-domain images): the map
    // does not carry, and the expert alone is better on the check data (measured: 88.1 % against 90.0 %).
    const data = path.join(tmp, 'generalist-rules');
    const check = path.join(tmp, 'expert-rules');
    await copySplit(path.join(validationDir, 'shifted'), path.join(data, 'shifted'), 160);
    await copySplit(path.join(validationDir, 'in-domain'), path.join(check, 'in-domain'), 160);
    const copy = path.join(tmp, 'bundle-copy');
    await fs.mkdir(copy);
    for (const file of ['bundle.json', 'generalist.onnx', 'expert.onnx']) await fs.copyFile(path.join(trainedBundleDir, file), path.join(copy, file));
    const before = await sha256(path.join(copy, 'bundle.json'));
    const r = await runCommand(fitCommand, ['--bundle', copy, '--data', data, '--check-data', check, '--out', copy, '--providers', 'cpu']);
    expect(r.code).toBe(ExitCode.refused);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/held-out check data \(.*expert-rules\) top-1/);
    expect(r.stdout).toMatch(/verdict: refused: the fitted map scores \d+\.\d % \(mean over in-domain\), −\d+\.\d points against the expert alone \(\d+\.\d %\)/);
    expect(r.stderr).toMatch(/fit: refused: .*nothing written, the bundle keeps its map/);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(summary.written).toBeNull();
    expect(summary.refused).toMatch(/against the expert alone/);
    expect(summary.t3Fit.comparison.on).toBe('held-out check data');
    expect(summary.t3Fit.comparison.mean['t3b-fitted']).toBeLessThan(summary.t3Fit.comparison.mean.expert);
    expect(await sha256(path.join(copy, 'bundle.json'))).toBe(before);
    // Nor is a new folder made for a refused map.
    const fresh = path.join(tmp, 'never-written');
    expect((await runCommand(fitCommand, ['--bundle', trainedBundleDir, '--data', data, '--check-data', check, '--out', fresh, '--providers', 'cpu'])).code).toBe(3);
    await expect(fs.stat(fresh)).rejects.toThrow(/ENOENT/);
  }, 300_000);

  test('refuses a folder of 2 images, saying why', async () => {
    const data = path.join(tmp, 'two');
    await copySplit(path.join(validationDir, 'in-domain'), path.join(data, 'in-domain'), 2);
    await expect(runCommand(fitCommand, ['--bundle', trainedBundleDir, '--data', data, '--providers', 'cpu']))
      .rejects.toThrow(/split "in-domain" has 2 images \(1 batch of 32\): the fit needs at least 4 batches per split/);
  });

  test('refuses two models that are right on the same images (nothing to trade off)', async () => {
    // A bundle whose expert is its generalist: whatever λ, the merged model is the same.
    const same = path.join(tmp, 'same-models');
    await fs.mkdir(same);
    const manifest = JSON.parse(await fs.readFile(path.join(trainedBundleDir, 'bundle.json'), 'utf8'));
    await fs.copyFile(path.join(trainedBundleDir, 'generalist.onnx'), path.join(same, 'generalist.onnx'));
    manifest.models.expert = { ...manifest.models.generalist, file: 'generalist.onnx' };
    await fs.writeFile(path.join(same, 'bundle.json'), JSON.stringify(manifest));
    await expect(runCommand(fitCommand, ['--bundle', same, '--data', validationDir, '--limit', '128', '--providers', 'cpu']))
      .rejects.toThrow(/right on exactly the same images: no coefficient map can do better than either model/);
  }, 300_000);

  test('requires --bundle and --data', async () => {
    await expect(runCommand(fitCommand, ['--data', validationDir])).rejects.toThrow(/--bundle DIR is required/);
    await expect(runCommand(fitCommand, ['--bundle', trainedBundleDir])).rejects.toThrow(/--data DIR is required/);
  });
});
