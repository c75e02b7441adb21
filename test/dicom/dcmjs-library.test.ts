/**
 * dcmjs as src/dicom configures it: an Implicit VR file with "US or SS" elements reads without dcmjs's
 * "Invalid vr type xs" console errors, with the values dcmjs gave before, and real dcmjs errors still print.
 * Run in a child process because dcmjs's logger bound the console when it loaded, out of jest's reach.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fixturesDir, repoRoot } from './helpers';

const implicitMr = path.join(fixturesDir, 'pydicom', 'MR_small_implicit.dcm');

/**
 * Runs a script with tsx from the repository root; what it printed on stderr is collected and returned apart from
 * stdout.
 */
function runCapturingStderr(script: string): { stdout: string; stderr: string } {
  const wrapped = `const out = []; const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk) => { out.push(String(chunk)); return true; };
try { ${script} } finally { process.stderr.write = write; process.stdout.write(JSON.stringify({ stderr: out.join('') })); }`;
  const stdout = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', wrapped],
    { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const marker = stdout.lastIndexOf('{"stderr":');
  return { stdout: stdout.slice(0, marker), stderr: JSON.parse(stdout.slice(marker)).stderr as string };
}

test('plain dcmjs logs "Invalid vr type xs" for this file (the noise exists)', () => {
  const { stderr } = runCapturingStderr(`
    const dcmjs = require('dcmjs'); const bytes = require('fs').readFileSync(${JSON.stringify(implicitMr)});
    dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), { untilTag: '7FE00010' });`);
  expect(stderr).toContain('Invalid vr type xs');
});

test('through src/dicom the file reads silently, with the same US-or-SS values', () => {
  const { stdout, stderr } = runCapturingStderr(`
    const { readDicomInfo } = require('./src/dicom'); const bytes = require('fs').readFileSync(${JSON.stringify(implicitMr)});
    const info = readDicomInfo(bytes);
    console.log(JSON.stringify({ ts: info.transferSyntaxUid, smallest: info.header.SmallestImagePixelValue, largest: info.header.LargestImagePixelValue }));`);
  expect(stderr).toBe('');
  // The values pydicom's MR_small carries; dcmjs read them as US before the dictionary fix too.
  expect(JSON.parse(stdout)).toEqual({ ts: '1.2.840.10008.1.2', smallest: 0, largest: 4000 });
});

test('a real dcmjs validation error still prints', () => {
  const { stderr } = runCapturingStderr(`
    const { dcmjs } = require('./src/dicom');
    dcmjs.data.ValueRepresentation.createByTypeString('QQ');`);
  expect(stderr).toContain('Invalid vr type QQ');
});
