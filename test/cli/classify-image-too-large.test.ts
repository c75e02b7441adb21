/** `classify` refuses an image by its declared decoded size, names the reason, and still classifies the others. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCliCaptured } from '../helpers/cli-run';
import { samplePath } from '../helpers/samples';
import { nativeMultiframe, rleBomb } from '../dicom/generated-images';

function lines(stdout: string): Record<string, any>[] {
  return stdout.trim().split('\n').map((l) => JSON.parse(l));
}

describe('orthanc-t3 classify and the decoded-size limit', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 't3-classify-size-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('gives a 40000×40000 RLE bomb image-too-large and exit 2; the other files classify', async () => {
    const bomb = path.join(tmp, 'bomb.dcm');
    writeFileSync(bomb, rleBomb());
    const ct = samplePath('pydicom_CT_small.dcm');
    const mr = samplePath('pydicom_MR_small.dcm');
    const started = performance.now();
    const { code, stdout } = await runCliCaptured(['classify', ct, bomb, mr]);
    expect(code).toBe(2);
    const [c, b, m] = lines(stdout);
    expect(b).toMatchObject({ file: bomb, ok: false, skipped: false, error_code: 'image-too-large' });
    expect(c.ok).toBe(true);
    expect(m.ok).toBe(true);
    // The engine's start dominates; decoding the bomb would have taken until the codec timeout.
    expect(performance.now() - started).toBeLessThan(60000);
  });

  it('takes the limit from --config (T3.inference.maxDecodedImageBytes)', async () => {
    // 1024×1024 16-bit: 2 MiB decoded, under the default limit and over a 1 MiB one.
    const large = path.join(tmp, 'large.dcm');
    writeFileSync(large, nativeMultiframe({ rows: 1024, columns: 1024, frames: 1 }));
    const config = path.join(tmp, 't3.json');
    writeFileSync(config, JSON.stringify({ T3: { inference: { maxDecodedImageBytes: 1024 * 1024 } } }));
    const limited = await runCliCaptured(['classify', '--config', config, large]);
    expect(limited.code).toBe(2);
    expect(lines(limited.stdout)[0]).toMatchObject({ ok: false, error_code: 'image-too-large' });
    const unlimited = await runCliCaptured(['classify', large]);
    expect(unlimited.code).toBe(0);
    expect(lines(unlimited.stdout)[0].ok).toBe(true);
  });
});
