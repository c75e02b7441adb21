import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calibrateCommand } from '../../src/cli/calibrate';
import { loadBundle } from '../../src/engine';
import { runCommand, trainedBundleDir, trainedEvalDir } from './cli-helpers';

describe('orthanc-t3 calibrate', () => {
  let tmp: string;
  let bundleCopy: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-calibrate-'));
    bundleCopy = path.join(tmp, 'bundle');
    await fs.mkdir(bundleCopy);
    for (const file of ['bundle.json', 'generalist.onnx', 'expert.onnx']) {
      await fs.copyFile(path.join(trainedBundleDir, file), path.join(bundleCopy, file));
    }
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('fits both temperatures, lowers each model\'s NLL and changes nothing else in bundle.json', async () => {
    const before = JSON.parse(await fs.readFile(path.join(bundleCopy, 'bundle.json'), 'utf8'));
    const { code, stdout } = await runCommand(calibrateCommand, ['--bundle', bundleCopy, '--data', trainedEvalDir, '--limit', '96', '--providers', 'cpu']);
    expect(code).toBe(0);
    const fit = JSON.parse(stdout.trim());
    expect(fit.images).toBe(96);
    expect(fit.written).toBe(true);
    for (const role of ['generalist', 'expert']) {
      expect(fit[role].nll_after).toBeLessThan(fit[role].nll_before);
      expect(fit[role].temperature).toBeGreaterThan(0);
      expect(fit[role].temperature).not.toBeCloseTo(1, 2);
    }
    const after = JSON.parse(await fs.readFile(path.join(bundleCopy, 'bundle.json'), 'utf8'));
    expect(after.temperatures).toEqual({ generalist: fit.generalist.temperature, expert: fit.expert.temperature });
    expect({ ...after, temperatures: null }).toEqual({ ...before, temperatures: null });
    // The bundle still loads, and the engine now scales with the fitted temperatures.
    const bundle = await loadBundle(bundleCopy);
    expect(bundle.manifest.temperatures.expert).toBe(fit.expert.temperature);

    // Calibrating again from the fitted state fits the same temperatures (the fit ignores the bundle's current ones).
    const again = JSON.parse((await runCommand(calibrateCommand, ['--bundle', bundleCopy, '--data', trainedEvalDir, '--limit', '96', '--dry-run', '--providers', 'cpu'])).stdout);
    expect(again.written).toBe(false);
    expect(again.generalist.temperature).toBeCloseTo(fit.generalist.temperature, 4);
    expect(again.expert.temperature).toBeCloseTo(fit.expert.temperature, 4);
  });

  test('refuses a folder without labels', async () => {
    await expect(runCommand(calibrateCommand, ['--bundle', bundleCopy, '--data', tmp])).rejects.toThrow(/holds labels\.csv/);
  });

  test('without --bundle the shipped demo bundle is not rewritten; --out writes a copy; a 2-image fit is warned about', async () => {
    const shipped = await fs.readFile(path.join(trainedBundleDir, 'bundle.json'), 'utf8');
    const { code, stdout, stderr } = await runCommand(calibrateCommand, ['--data', trainedEvalDir, '--limit', '2', '--providers', 'cpu']);
    expect(code).toBe(0);
    const fit = JSON.parse(stdout.trim());
    expect(fit.written).toBe(false);
    expect(await fs.readFile(path.join(trainedBundleDir, 'bundle.json'), 'utf8')).toBe(shipped);
    expect(stderr).toMatch(/nothing written: the demo bundle .* is rewritten only when named with --bundle; or give --out FILE/);
    expect(stderr).toMatch(/only 2 labelled image\(s\)/);
    expect(fit.warnings.some((w: string) => /only 2 labelled image/.test(w))).toBe(true);
    const edge = fit.warnings.filter((w: string) => /at the edge of the search range/.test(w));
    // On 2 images NLL keeps falling towards one of the bounds for at least one model (the issue saw ≈ 100 for both).
    for (const role of ['generalist', 'expert']) {
      const t = fit[role].temperature;
      if (t > 95 || t < 0.0105) expect(edge.some((w: string) => w.includes(role))).toBe(true);
    }

    const out = path.join(tmp, 'calibrated.json');
    const copy = JSON.parse((await runCommand(calibrateCommand, ['--data', trainedEvalDir, '--limit', '8', '--providers', 'cpu', '--out', out])).stdout.trim());
    expect(copy).toMatchObject({ written: true, writtenTo: out });
    expect(JSON.parse(await fs.readFile(out, 'utf8')).temperatures).toEqual({ generalist: copy.generalist.temperature, expert: copy.expert.temperature });
    expect(await fs.readFile(path.join(trainedBundleDir, 'bundle.json'), 'utf8')).toBe(shipped);
  });
});
