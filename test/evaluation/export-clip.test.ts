import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { classifyCommand } from '../../src/cli/classify';
import { evalCommand } from '../../src/cli/eval';
import { loadBundle } from '../../src/engine';
import { repoRoot, runCommand, trainedEvalDir } from './cli-helpers';
import { samplesDir as samples } from '../helpers/samples';

const run = promisify(execFile);
const exportScript = path.join(repoRoot, 'scripts', 'export-clip', 'export_clip.py');

/**
 * End to end: scripts/export-clip exports its small CLIP-like generalist and a fine-tuned expert (checkpoints written
 * and read back) into a bundle; the bundle loads, runs through `eval` (PNG, 64 px resized to the model's 32 px) and
 * through `classify` on real DICOM files. Needs Debian's python3-torch and python3-onnx (/usr/bin/python3).
 */
describe('scripts/export-clip', () => {
  let tmp: string;
  let bundleDir: string;
  let exportSummary: { image_size: number; classes: number; nodes: number; initializers: number; differing_initializers: number };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-export-clip-'));
    bundleDir = path.join(tmp, 'tiny-clip');
    const { stdout } = await run('/usr/bin/python3', [exportScript, '--format', 'tiny', '--out', bundleDir, '--name', 'tiny-clip-selftest'], { maxBuffer: 16 << 20 });
    exportSummary = JSON.parse(stdout.trim().split('\n').pop()!);
  }, 300_000);

  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('writes a bundle whose two graphs are identical in structure and differ in every trained weight', async () => {
    expect(exportSummary.image_size).toBe(32);
    expect(exportSummary.classes).toBe(7);
    expect(exportSummary.differing_initializers).toBeGreaterThan(0);
    expect(exportSummary.differing_initializers).toBeLessThanOrEqual(exportSummary.initializers);
    const bundle = await loadBundle(bundleDir);
    expect(bundle.manifest.name).toBe('tiny-clip-selftest');
    expect(bundle.manifest.input).toMatchObject({ width: 32, height: 32, channels: 3 });
    expect(bundle.manifest.classes.map((c) => c.code.value)).toContain('36118008');
    expect(bundle.manifest.logitScale).toBeGreaterThan(1);
  });

  test('the exported pair runs through eval', async () => {
    const { code, stdout } = await runCommand(evalCommand, ['--bundle', bundleDir, '--data', trainedEvalDir, '--quick', '--corruptions', 'jpeg,contrast', '--providers', 'cpu']);
    expect(code).toBe(0);
    expect(stdout).toContain('| T3B (batch 8) |');
    expect(stdout).toContain('in-domain/jpeg/5');
  });

  test('the exported pair runs through classify on DICOM files', async () => {
    const files = ['pydicom_CT_small.dcm', 'pydicom_MR_small.dcm'].map((f) => path.join(samples, f));
    const { code, stdout } = await runCommand(classifyCommand, ['--bundle', bundleDir, '--batch-size', '2', '--providers', 'cpu', ...files]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line.ok).toBe(true);
      expect(line.predictions).toHaveLength(7);
      const total = line.predictions.reduce((s: number, p: { probability: number }) => s + p.probability, 0);
      expect(total).toBeCloseTo(1, 5);
      expect(Number.isFinite(line.batch_lambda)).toBe(true);
    }
  });
});
