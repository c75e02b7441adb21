/**
 * Every SR shape through dciodvfy and dsrdump -v (fast), asserting on their output lines: no error, and no warning
 * beyond the acceptable ones of docs/SR.md. PixelMed runs in validators-pixelmed.test.ts (about 20–50 s a file).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildAiResultSr } from '../../src/report';
import { samplesDir, srShapes } from './sr-fixtures';
import { dciodvfy, dciodvfyLines, dsrdump } from './validators';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-validators-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.each(srShapes().map((s) => [s.name, s] as const))('validators on shape %s', (name, shape) => {
  const file = path.join(dir, `${name}.dcm`);
  beforeAll(() => fs.writeFileSync(file, buildAiResultSr(shape.input).bytes));

  it('dciodvfy: no error, only acceptable or source-inherited warnings', async () => {
    const inherited = await dciodvfyLines(path.join(samplesDir, shape.sourceFile));
    const result = await dciodvfy(file, inherited);
    expect(result.findings).toEqual([]);
    expect(result.exitCode).toBe(0);
  });

  it('dsrdump -v: no E:/W: line beyond the ISO_IR 192 note, and the whole tree is printed', async () => {
    const result = await dsrdump(file);
    expect(result.findings).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('Comprehensive 3D SR Document');
    expect(result.output.some((l) => l.includes('<contains CONTAINER:(,,"Qualitative Evaluations")=SEPARATE>'))).toBe(true);
  });
});

it('the acceptance filters still catch real findings', async () => {
  // A file dciodvfy must complain about: the SR with its SOP Class UID removed from the meta and dataset is not an IOD.
  const broken = path.join(dir, 'broken.dcm');
  const bytes = Buffer.from(buildAiResultSr(srShapes()[0].input).bytes);
  const marker = Buffer.from('1.2.840.10008.5.1.4.1.1.88.34', 'latin1');
  let at = bytes.indexOf(marker);
  while (at >= 0) { bytes.write('1.2.840.10008.5.1.4.1.1.88.99', at, 'latin1'); at = bytes.indexOf(marker, at + 1); }
  fs.writeFileSync(broken, bytes);
  const result = await dciodvfy(broken);
  expect(result.findings.length).toBeGreaterThan(0);

  // A relationship the Comprehensive 3D SR IOD forbids (same byte length, so the file stays well-formed).
  const good = Buffer.from(buildAiResultSr(srShapes()[0].input).bytes);
  const at2 = good.indexOf(Buffer.from('HAS OBS CONTEXT', 'latin1'));
  good.write('HAS PROPERTIES ', at2, 'latin1');
  const badRelationship = path.join(dir, 'bad-relationship.dcm');
  fs.writeFileSync(badRelationship, good);
  const dump = await dsrdump(badRelationship);
  expect(dump.findings).toContain('E: Cannot add "has properties CODE" to CONTAINER in Comprehensive 3D SR');
});
