import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalCommand } from '../../src/cli/eval';
import { UsageError } from '../../src/cli/command';
import { runCommand, trainedBundleDir, trainedEvalDir } from './cli-helpers';
import { samplesDir as samples } from '../helpers/samples';

describe('orthanc-t3 eval', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-eval-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('--quick runs every policy on the trained bundle and writes JSON, Markdown and SVG', async () => {
    const out = path.join(tmp, 'quick');
    const { code, stdout, stderr } = await runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', trainedEvalDir, '--quick', '--out', out, '--providers', 'cpu']);
    expect(stderr).not.toMatch(/Error/);
    expect(code).toBe(0);
    expect(stdout).toContain('### Top-1 accuracy (%)');
    const report = JSON.parse(await fs.readFile(path.join(out, 'evaluation.json'), 'utf8'));
    expect(report.policies.map((p: { id: string }) => p.id)).toEqual(['generalist', 'expert', 'wise-0.5', 'ensemble', 'dawin', 't3', 't3b-1', 't3b-8', 't3b-grouped-1', 't3b-grouped-8']);
    const clean = report.splits.filter((s: { kind: string }) => s.kind === 'clean').map((s: { name: string }) => s.name);
    expect(clean).toEqual(['in-domain', 'shifted', 'pooled']);
    // The pooled stream shuffles both clean splits into one stream, so its accuracy is their image-weighted mean.
    const pooled = report.splits.find((s: { name: string }) => s.name === 'pooled');
    expect(pooled).toMatchObject({ images: 32, pooledFrom: ['in-domain', 'shifted'] });
    const acc = (id: string, split: string) => report.scores[id][split].accuracy;
    expect(acc('generalist', 'pooled')).toBeCloseTo((acc('generalist', 'in-domain') + acc('generalist', 'shifted')) / 2, 5);
    // 64 × 64 images: the blur keeps its 64-pixel σ, and the report does not mention a scale.
    expect(report.corruptionScale).toEqual({ referenceSide: 64, min: 1, max: 1 });
    expect(stdout).not.toMatch(/scaled to the image size/);
    const corrupted = report.splits.filter((s: { kind: string }) => s.kind === 'corrupted');
    expect(corrupted).toHaveLength(6 * 3);
    expect(corrupted.every((s: { images: number }) => s.images === 8)).toBe(true);
    expect(report.bundle.models.generalist.sha256).toMatch(/^[0-9a-f]{64}$/);
    for (const policy of report.policies) {
      for (const split of report.splits) {
        const score = report.scores[policy.id][split.name];
        expect(score.accuracy).toBeGreaterThanOrEqual(0);
        expect(score.accuracy).toBeLessThanOrEqual(1);
      }
    }
    // The reference has mCE 1 by definition; T3B with batches of one image is sample-wise T3.
    expect(report.summary.generalist.mce).toBeCloseTo(1, 12);
    expect(report.summary['t3b-1'].agreementWithT3).toBe(1);
    expect(report.summary.t3.agreementWithT3).toBe(1);
    // λ of the single-pass policies is their fixed merge coefficient.
    expect(report.scores['wise-0.5']['in-domain'].meanAppliedLambda).toBe(0.5);
    expect(report.scores.expert.shifted.meanAppliedLambda).toBe(1);
    // The paper's direction: the shifted split (more disagreement) gets less of the expert than the in-domain one.
    const meanLambda = (split: string) => report.lambdaBySeverity.find((l: { split: string }) => l.split === split).t3Lambda;
    expect(meanLambda('shifted')).toBeLessThan(meanLambda('in-domain'));
    // The corrupted images' clean copies are scored on their own, for relative mCE.
    expect(report.corruptionCleanSplit).toBe('in-domain/clean');
    expect(report.splits.find((s: { name: string }) => s.name === 'in-domain/clean')).toMatchObject({ kind: 'corruption-base', images: 8 });
    // The map and temperatures the engine ran with, the oracle-λ curve and the paired intervals are recorded.
    expect(report.applied.t3.tPt).toBe(report.bundle.temperatures.generalist);
    expect(report.applied.passTemperature).toMatch(/T_pt\^\(1−λ\)/);
    expect(report.oracle.lambdas).toEqual([0, 0.5, 1]);
    expect(report.oracle.accuracy['in-domain'][2]).toBeCloseTo(acc('expert', 'in-domain'), 12);
    const interval = report.summary['t3b-8'].againstBetter.shifted;
    expect(interval.reference).toBe(acc('generalist', 'shifted') >= acc('expert', 'shifted') ? 'generalist' : 'expert');
    expect(interval.low).toBeLessThanOrEqual(interval.difference);
    expect(interval.high).toBeGreaterThanOrEqual(interval.difference);
    expect(report.summary['t3b-8'].againstBetter['corrupted (mean)']).toBeDefined();
    const svg = await fs.readFile(path.join(out, 'evaluation.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect((await fs.readFile(path.join(out, 'evaluation.md'), 'utf8'))).toContain('mCE');
  });

  test('a bad image is reported and skipped; the rest of the split is evaluated (exit 2)', async () => {
    const data = path.join(tmp, 'bad');
    await fs.mkdir(data, { recursive: true });
    const labels = (await fs.readFile(path.join(trainedEvalDir, 'in-domain', 'labels.csv'), 'utf8')).split('\n').slice(0, 5);
    for (const line of labels.slice(1)) {
      const file = line.split(',')[0];
      await fs.copyFile(path.join(trainedEvalDir, 'in-domain', file), path.join(data, file));
    }
    await fs.writeFile(path.join(data, 'broken.png'), 'not a png');
    await fs.writeFile(path.join(data, 'labels.csv'), [...labels, 'broken.png,Normal', ''].join('\n'));
    const { code, stdout, stderr } = await runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', data, '--corruptions', 'none', '--batch-sizes', '2', '--wise-alphas', '0.5', '--providers', 'cpu']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/bad\/broken\.png: \S/);
    expect(stdout).toContain('bad 4');
  });

  test('reads labelled DICOM files through the DICOM decoder and corrupts them at model resolution', async () => {
    const data = path.join(tmp, 'dicom');
    await fs.mkdir(data, { recursive: true });
    for (const file of ['pydicom_CT_small.dcm', 'pydicom_MR_small.dcm']) await fs.copyFile(path.join(samples, file), path.join(data, file));
    await fs.writeFile(path.join(data, 'labels.csv'), 'file,label\npydicom_CT_small.dcm,Normal\npydicom_MR_small.dcm,27925004\n');
    const out = path.join(tmp, 'dicom-out');
    const { code, stderr } = await runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', data, '--corruptions', 'jpeg',
      '--severities', '5', '--batch-sizes', '2', '--wise-alphas', '0.5', '--out', out, '--providers', 'cpu']);
    expect(stderr).not.toMatch(/dicom\/pydicom/);
    expect(code).toBe(0);
    const report = JSON.parse(await fs.readFile(path.join(out, 'evaluation.json'), 'utf8'));
    expect(report.splits.map((s: { name: string; images: number }) => [s.name, s.images])).toEqual([['dicom', 2], ['dicom/jpeg/5', 2]]);
  });

  /** A folder of labelled splits: each named split holds the first `count` images of one committed split. */
  async function splitsFolder(name: string, splits: Record<string, string>, count: number): Promise<string> {
    const data = path.join(tmp, name);
    for (const [split, from] of Object.entries(splits)) {
      await fs.mkdir(path.join(data, split), { recursive: true });
      const lines = (await fs.readFile(path.join(trainedEvalDir, from, 'labels.csv'), 'utf8')).trim().split('\n');
      const rows = lines.slice(1, count + 1);
      for (const row of rows) await fs.copyFile(path.join(trainedEvalDir, from, row.split(',')[0]), path.join(data, split, row.split(',')[0]));
      await fs.writeFile(path.join(data, split, 'labels.csv'), [lines[0], ...rows].join('\n') + '\n');
    }
    return data;
  }

  const small = ['--corruptions', 'none', '--batch-sizes', '8', '--wise-alphas', '0.5', '--oracle-lambdas', 'none', '--bootstrap', '50', '--providers', 'cpu'];

  test('--policies runs and reports only the policies named (a name keeps all its rows, an id one row)', async () => {
    const out = path.join(tmp, 'policies');
    const { code, stdout } = await runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', trainedEvalDir, '--limit', '16', ...small,
      '--wise-alphas', '0.25,0.75', '--batch-sizes', '1,8', '--policies', 'expert,generalist,wise,t3b-8', '--out', out]);
    expect(code).toBe(0);
    const report = JSON.parse(await fs.readFile(path.join(out, 'evaluation.json'), 'utf8'));
    const ids = ['generalist', 'expert', 'wise-0.25', 'wise-0.75', 't3b-8'];
    expect(report.policies.map((p: { id: string }) => p.id)).toEqual(ids);
    expect(Object.keys(report.scores)).toEqual(ids);
    expect(Object.keys(report.summary)).toEqual(ids);
    expect(stdout).toContain('T3B (batch 8)');
    expect(stdout).not.toMatch(/DaWin|T3 \(per image\)|output ensemble|T3B \(batch 1\)/);
    // Without T3 nothing can be compared with it; the comparison with the better single model is still there.
    expect(report.summary['t3b-8'].agreementWithT3).toBeNull();
    expect(report.summary['t3b-8'].againstBetter.shifted).toBeDefined();
  }, 120_000);

  test('--policies refuses a name that matches no policy, naming it, before reading any image', async () => {
    await expect(runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', trainedEvalDir, '--policies', 'generalist,t3c', '--providers', 'cpu']))
      .rejects.toThrow(/--policies: unknown policy "t3c"; expected policy names \(generalist, expert, wise, ensemble, dawin, t3, t3b, t3b-grouped\) or row ids of this run \(generalist, expert, wise-0.25/);
    await expect(runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', trainedEvalDir, '--policies', 'wise-0.3', '--providers', 'cpu']))
      .rejects.toThrow(/unknown policy "wise-0.3"/);
    await expect(runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', trainedEvalDir, '--policies', ',', '--providers', 'cpu']))
      .rejects.toThrow(/--policies: the policy list is empty/);
  });

  test('a user split named "mixed" keeps its name and its images; the pooled stream has its own name and is the only one marked', async () => {
    const data = await splitsFolder('user-mixed', { mixed: 'shifted', 'in-domain': 'in-domain' }, 16);
    const out = path.join(tmp, 'user-mixed-out');
    const { code, stdout } = await runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', data, ...small, '--out', out]);
    expect(code).toBe(0);
    expect(stdout).toContain('Images: in-domain 16, mixed 16, pooled 32.');
    const report = JSON.parse(await fs.readFile(path.join(out, 'evaluation.json'), 'utf8'));
    expect(report.splits.map((s: { name: string; images: number; pooledFrom?: string[] }) => [s.name, s.images, s.pooledFrom ?? null]))
      .toEqual([['in-domain', 16, null], ['mixed', 16, null], ['pooled', 32, ['in-domain', 'mixed']]]);
    // The user's "mixed" holds its 16 images, scored on their own (not overwritten by the 32 of the pooled stream).
    const acc = (split: string) => report.scores.generalist[split].accuracy;
    expect(report.scores.generalist.mixed.images).toBe(16);
    expect(report.scores.generalist.pooled.images).toBe(32);
    expect(acc('pooled')).toBeCloseTo((acc('in-domain') + acc('mixed')) / 2, 12);
    expect(Object.keys(report.summary.generalist.clean)).toEqual(['in-domain', 'mixed', 'pooled']);
    // Independence goes by construction: only the pooled stream is marked, and the win count leaves only it out.
    expect(stdout).toMatch(/\| policy \| in-domain \| mixed \| pooled \(not independent\) \|/);
    expect(stdout).toContain('The pooled stream holds the images of in-domain and mixed again');
    expect(stdout).toMatch(/Splits \(of 2: the independent clean splits/);
  }, 120_000);

  test('with --no-pooled a user split named "mixed" is independent evidence like any other', async () => {
    const data = await splitsFolder('user-mixed-only', { mixed: 'shifted', 'in-domain': 'in-domain' }, 16);
    for (const flag of ['--no-pooled', '--no-mixed']) {
      const { code, stdout } = await runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', data, ...small, flag]);
      expect(code).toBe(0);
      expect(stdout).toContain('Images: in-domain 16, mixed 16.');
      expect(stdout).not.toContain('not independent');
      expect(stdout).toMatch(/Splits \(of 2: the independent clean splits/);
    }
  }, 120_000);

  test('a split that uses a reserved name is refused before any model is loaded', async () => {
    const data = await splitsFolder('user-pooled', { pooled: 'shifted', 'in-domain': 'in-domain' }, 2);
    await expect(runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', data, ...small]))
      .rejects.toThrow(/split "pooled" uses a name the evaluation reserves for its own streams \(pooled, corrupted \(mean\)\): rename the folder/);
  });

  test('usage errors name the bad option', async () => {
    await expect(runCommand(evalCommand, ['--bundle', trainedBundleDir])).rejects.toThrow(UsageError);
    await expect(runCommand(evalCommand, ['--data', trainedEvalDir, '--corruptions', 'fog'])).rejects.toThrow(/unknown corruption "fog"/);
    await expect(runCommand(evalCommand, ['--data', trainedEvalDir, '--severities', '0,9'])).rejects.toThrow(/--severities/);
    await expect(runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', path.join(tmp, 'nowhere')])).rejects.toThrow(/data folder does not exist/);
  });
});
