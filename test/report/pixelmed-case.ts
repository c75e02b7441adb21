import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildAiResultSr } from '../../src/report';
import { srShapes } from './sr-fixtures';
import { pixelmed } from './validators';

/** One test per named shape: PixelMed finds TID 1500 and reports nothing beyond the acceptable lines. */
export function pixelmedCase(shapeNames: string[]): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-pixelmed-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const shapes = srShapes().filter((s) => shapeNames.includes(s.name));
  if (shapes.length !== shapeNames.length) throw new Error(`unknown shape among ${shapeNames.join(', ')}`);
  describe.each(shapes.map((s) => [s.name, s] as const))('PixelMed DicomSRValidator on shape %s', (name, shape) => {
    it('finds TID 1500 and reports nothing else', async () => {
      const file = path.join(dir, `${name}.dcm`);
      fs.writeFileSync(file, buildAiResultSr(shape.input).bytes);
      const result = await pixelmed(file);
      expect(result.findings).toEqual([]);
      expect(result.output).toEqual(expect.arrayContaining([
        'Found Comprehensive3DSR IOD', 'Found Root Template TID_1500 (MeasurementReport)',
        'Root Template Validation Complete', 'IOD validation complete']));
    }, 240_000);
  });
}
