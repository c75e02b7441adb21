import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCliCaptured } from '../helpers/cli-run';
import { sampleFiles as allSampleFiles, samplesDir } from '../helpers/samples';

const sampleFiles = allSampleFiles();

function lines(stdout: string): Record<string, any>[] {
  return stdout.trim().split('\n').map((l) => JSON.parse(l));
}

describe('orthanc-t3 classify', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 't3-classify-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('classifies every sample that holds an image and explains the one it skips', async () => {
    const { code, stdout, stderr } = await runCliCaptured(['classify', '--batch-size', '4', ...sampleFiles]);
    expect(stderr).toMatch(/classified 7 of 8 file\(s\), skipped 1/);
    expect(code).toBe(0);
    // Default providers on a machine without a GPU: at most one short line about them (the details are `doctor`'s).
    const providerLines = stderr.split('\n').filter((l) => /provider|cuda|webgpu/i.test(l));
    expect(providerLines.length).toBeLessThanOrEqual(1);
    for (const line of providerLines) expect(line.length).toBeLessThan(260);
    const results = lines(stdout);
    expect(results.map((r) => r.file)).toEqual(sampleFiles);
    for (const r of results) {
      if (path.basename(r.file) === 'pydicom_test-SR.dcm') {
        expect(r).toMatchObject({ ok: false, skipped: true, error_code: 'not-an-image' });
        expect(r.error).toMatch(/Structured Report/);
        continue;
      }
      expect(r.ok).toBe(true);
      expect(r.predictions).toHaveLength(7);
      const total = r.predictions.reduce((s: number, p: any) => s + p.probability, 0);
      expect(total).toBeCloseTo(1, 6);
      for (let i = 1; i < r.predictions.length; i++) expect(r.predictions[i - 1].probability).toBeGreaterThanOrEqual(r.predictions[i].probability);
      expect(r.js).toBeGreaterThanOrEqual(0);
      expect(r.js).toBeLessThanOrEqual(Math.log(2));
      expect(typeof r.batch_lambda).toBe('number');
      expect(r.applied_lambda).toBe(r.batch_lambda);
    }
    // T3B: images of one batch share one λ_B; 7 images in batches of 4 make two batches.
    const batches = new Map<string, number>();
    for (const r of results.filter((r) => r.ok)) batches.set(r.batch_id, r.batch_lambda);
    expect(batches.size).toBe(2);
  });

  it('keeps going past a truncated file and an unreadable path, and exits 2', async () => {
    const ct = readFileSync(path.join(samplesDir, 'pydicom_CT_small.dcm'));
    const truncated = path.join(tmp, 'truncated.dcm');
    writeFileSync(truncated, ct.subarray(0, Math.floor(ct.length / 2)));
    const missing = path.join(tmp, 'no-such-file.dcm');
    const good = path.join(samplesDir, 'pydicom_MR_small.dcm');
    const { code, stdout } = await runCliCaptured(['classify', truncated, missing, good]);
    expect(code).toBe(2);
    const [t, m, g] = lines(stdout);
    expect(t).toMatchObject({ file: truncated, ok: false, skipped: false });
    expect(t.error).toContain('truncated.dcm');
    expect(m).toMatchObject({ file: missing, ok: false, error_code: 'unreadable' });
    expect(m.error).toMatch(/no such file/);
    expect(g.ok).toBe(true);
  });

  it('gives the same prediction for a file whether it is batched alone or with others under a fixed-weight policy', async () => {
    const file = path.join(samplesDir, 'pydicom_CT_small.dcm');
    const alone = lines((await runCliCaptured(['classify', '--policy', 'generalist', file])).stdout)[0];
    const batched = lines((await runCliCaptured(['classify', '--policy', 'generalist', ...sampleFiles])).stdout).find((r) => r.file === file)!;
    alone.predictions.forEach((p: any, i: number) => expect(batched.predictions[i].probability).toBeCloseTo(p.probability, 5));
  });

  it('rejects bad usage with exit 1 and a message naming the option', async () => {
    const policy = await runCliCaptured(['classify', '--policy', 'magic', sampleFiles[0]]);
    expect(policy.code).toBe(1);
    expect(policy.stderr).toMatch(/magic/);
    const batch = await runCliCaptured(['classify', '--batch-size', '0', sampleFiles[0]]);
    expect(batch.code).toBe(1);
    expect(batch.stderr).toMatch(/--batch-size/);
    const bundle = await runCliCaptured(['classify', '--bundle', path.join(tmp, 'nowhere'), sampleFiles[0]]);
    expect(bundle.code).toBe(1);
    expect(bundle.stderr).toMatch(/nowhere/);
    const providers = await runCliCaptured(['classify', '--providers', 'gpu', sampleFiles[0]]);
    expect(providers.code).toBe(1);
    expect(providers.stderr).toMatch(/--providers: unknown execution provider "gpu"/);
    const none = await runCliCaptured(['classify']);
    expect(none.code).toBe(1);
  });
});

describe('orthanc-t3 classify --sr-out', () => {
  it('writes one SR per study of the inputs that parses back to the same predictions and λ', async () => {
    const { parseAiResultSr } = await import('../../src/report');
    const { readDicomInfo } = await import('../../src/dicom');
    const out = mkdtempSync(path.join(os.tmpdir(), 't3-sr-out-'));
    try {
      const images = sampleFiles.filter((f) => !f.endsWith('test-SR.dcm'));
      const studies = new Set(images.map((f) => readDicomInfo(new Uint8Array(readFileSync(f))).studyInstanceUid));
      const { code, stdout } = await runCliCaptured(['classify', '--sr-out', out, '--frames', 'first', ...images]);
      expect(code).toBe(0);
      const all = lines(stdout);
      const fileLines = all.filter((l) => 'file' in l);
      const studyLines = all.filter((l) => 'study' in l);
      expect(new Set(studyLines.map((l) => l.study))).toEqual(studies);
      expect(readdirSync(out).sort()).toEqual([...studies].map((s) => `${s}.dcm`).sort());
      for (const line of studyLines) {
        expect(['emergency', 'urgent', 'routine']).toContain(line.priority);
        const parsed = parseAiResultSr(new Uint8Array(readFileSync(line.sr)));
        expect(parsed.sopInstanceUid).toBe(line.sop_instance_uid);
        for (const file of line.files as string[]) {
          const fileLine = fileLines.find((l) => l.file === file)!;
          const groups = parsed.groups.filter((g: any) => g.image?.sopInstanceUid === fileLine.sop_instance_uid);
          expect(groups.length).toBe(fileLine.predictions.length);
          const top = groups.find((g: any) => g.code.value === fileLine.predictions[0].code)!;
          expect(top.probability).toBeCloseTo(fileLine.predictions[0].probability, 4);
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
