/**
 * PixelMed DicomSRValidator (template rows, content item order, code meanings) on combined shapes; with
 * validators-pixelmed-50-labels.test.ts they hold every shape's features: here multi-frame + study-level + several
 * batches + predecessor + human review + emergency, and a 2-frame source of a single-frame SOP class with urgent
 * priority. PixelMed takes 15–50 s a file, so the shapes are split over two test files that jest runs in parallel.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildAiResultSr } from '../../src/report';
import { pixelmedCase } from './pixelmed-case';
import { srShapes } from './sr-fixtures';
import { pixelmed } from './validators';

pixelmedCase(['several-batches', 'study-level']);

it('the PixelMed filter catches a real finding (a Finding concept TID 1501 does not have)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-pixelmed-negative-'));
  try {
    const bytes = Buffer.from(buildAiResultSr(srShapes()[0].input).bytes);
    const at = bytes.indexOf(Buffer.from('121071', 'latin1')); // the Finding concept of the one measurement group
    bytes.write('121072', at, 'latin1');
    const file = path.join(dir, 'wrong-concept.dcm');
    fs.writeFileSync(file, bytes);
    const result = await pixelmed(file);
    expect(result.findings).toEqual([expect.stringMatching(/^Warning: .*CODE \(121072,DCM,"Finding"\): Content Item not in template$/)]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 240_000);
