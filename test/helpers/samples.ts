/**
 * Where the tests find the real-world sample studies: the permissively licensed ones are committed in samples/dicom/
 * (what `orthanc-t3 demo` uploads); the GPL-3+ palette-colour ultrasound is not redistributed by this repository and
 * is unpacked from Debian's octave-dicom by `scripts/install-debian-packages.sh --test` (samples/dicom/SOURCES.md).
 */
import fs from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..');
export const samplesDir = path.join(repoRoot, 'samples', 'dicom');
export const debianSamplesDir = path.join(repoRoot, 'test', 'fixtures', 'debian');
/** US 430×600, PALETTE COLOR, 10 frames, RLE Lossless: the tests' only real palette-colour multi-frame image. */
export const OCTAVE_ECHO = 'octave_US-PAL-8-10x-echo.dcm';

/** Both sample folders, for helpers that take folders (storescu, dicomFiles). */
export function sampleFolders(): string[] {
  requireDebianSamples();
  return [samplesDir, debianSamplesDir];
}

function requireDebianSamples(): void {
  if (!fs.existsSync(path.join(debianSamplesDir, OCTAVE_ECHO))) {
    throw new Error(`${path.relative(repoRoot, path.join(debianSamplesDir, OCTAVE_ECHO))} is missing: run scripts/install-debian-packages.sh --test`);
  }
}

/** The path of a sample by file name, in whichever of the two folders holds it. */
export function samplePath(name: string): string {
  if (name === OCTAVE_ECHO) {
    requireDebianSamples();
    return path.join(debianSamplesDir, name);
  }
  return path.join(samplesDir, name);
}

/** Every sample's file name (both folders), sorted. */
export function sampleNames(): string[] {
  requireDebianSamples();
  return [...fs.readdirSync(samplesDir).filter((f) => f.endsWith('.dcm')), OCTAVE_ECHO].sort();
}

/** Every sample's path (both folders), sorted by file name. */
export function sampleFiles(): string[] {
  return sampleNames().map(samplePath);
}
