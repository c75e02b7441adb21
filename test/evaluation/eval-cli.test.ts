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
    expect(report.policies.map((p: { id: string }) => p.id)).toEqual(['generalist', 'expert', 'wise-0.5', 'ensemble', 'dawin', 't3', 't3b-1', 't3b-8']);
    const clean = report.splits.filter((s: { kind: string }) => s.kind === 'clean').map((s: { name: string }) => s.name);
    expect(clean).toEqual(['in-domain', 'shifted', 'mixed']);
    // The mixed split shuffles both clean splits into one stream, so its accuracy is their image-weighted mean.
    const mixed = report.splits.find((s: { name: string }) => s.name === 'mixed');
    expect(mixed.images).toBe(32);
    const acc = (id: string, split: string) => report.scores[id][split].accuracy;
    expect(acc('generalist', 'mixed')).toBeCloseTo((acc('generalist', 'in-domain') + acc('generalist', 'shifted')) / 2, 5);
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

  test('usage errors name the bad option', async () => {
    await expect(runCommand(evalCommand, ['--bundle', trainedBundleDir])).rejects.toThrow(UsageError);
    await expect(runCommand(evalCommand, ['--data', trainedEvalDir, '--corruptions', 'fog'])).rejects.toThrow(/unknown corruption "fog"/);
    await expect(runCommand(evalCommand, ['--data', trainedEvalDir, '--severities', '0,9'])).rejects.toThrow(/--severities/);
    await expect(runCommand(evalCommand, ['--bundle', trainedBundleDir, '--data', path.join(tmp, 'nowhere')])).rejects.toThrow(/data folder does not exist/);
  });
});
