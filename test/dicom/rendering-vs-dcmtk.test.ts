/**
 * Display values (modality LUT, VOI, palette, YBR conversion, MONOCHROME1) compared with dcmtk's renderer
 * dcmj2pnm on the same files: an 8-bit output level apart at most, the rounding of an 8-bit image.
 * (dcmtk cannot render segmented palettes: preprocessing.test.ts checks those against PS3.3 C.7.9.2.)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { closeSharedFramePool, loadModelInputs, readDicomInfo } from '../../src/dicom';
import { fixturesDir, samplePath, samplesDir, tempDir } from './helpers';

afterAll(() => closeSharedFramePool());

/** Runs dcmj2pnm and reads its binary PGM/PPM: colour-by-pixel 8-bit samples. */
function dcmtkRender(file: string, options: string[]): { channels: number; data: Uint8Array } {
  const dir = tempDir('pnm');
  try {
    const out = path.join(dir, 'out.pnm');
    execFileSync('dcmj2pnm', ['--write-raw-pnm', ...options, file, out], { stdio: 'pipe' });
    const bytes = fs.readFileSync(out);
    const header = bytes.toString('latin1', 0, 64).split(/\s+/);
    const channels = header[0] === 'P6' ? 3 : 1;
    const headerLength = bytes.indexOf(0x0a, bytes.indexOf(0x0a, bytes.indexOf(0x0a) + 1) + 1) + 1;
    return { channels, data: bytes.subarray(headerLength) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const cases: [string, string, string[], number][] = [
  ['CT, rescale + first window of two', path.join(fixturesDir, 'ct12s_3f_explicit_le.dcm'), ['+Wi', '1'], 1],
  ['CT frame 3', path.join(fixturesDir, 'ct12s_3f_big_endian.dcm'), ['+Wi', '1', '+F', '3'], 1],
  ['Modality LUT + VOI LUT sequences', path.join(fixturesDir, 'modality_voi_lut_sequences.dcm'), ['+Wl', '1'], 1],
  ['MONOCHROME1 min–max', path.join(fixturesDir, 'xa8_mono1_4f_explicit_le.dcm'), ['+Wm'], 1],
  ['PALETTE COLOR', path.join(fixturesDir, 'palette8_explicit_le.dcm'), [], 1],
  ['PALETTE COLOR big endian', path.join(fixturesDir, 'palette8_big_endian.dcm'), [], 1],
  ['PALETTE COLOR US, RLE', samplePath('octave_US-PAL-8-10x-echo.dcm'), [], 1],
  ['YBR_FULL_422 native (dcmtk converts in integers)', path.join(fixturesDir, 'pydicom', 'SC_ybr_full_422_uncompressed.dcm'), [], 2],
  ['RGB JPEG', path.join(samplesDir, 'pydicom_SC_rgb_jpeg_dcmtk.dcm'), [], 1],
  ['MR, window from file', path.join(samplesDir, 'pydicom_MR_small.dcm'), ['+Wi', '1'], 1],
];

test.each(cases)('%s', async (_name, file, options, tolerance) => {
  const bytes = fs.readFileSync(file);
  const info = readDicomInfo(bytes);
  const frameOption = options.indexOf('+F');
  const frameIndex = frameOption >= 0 ? Number(options[frameOption + 1]) - 1 : 0;
  const reference = dcmtkRender(file, options);
  const channels = reference.channels;
  // Same size and mean 0, std 1: the tensor is the display image in [0,1].
  const { frames } = await loadModelInputs(bytes, { width: info.columns, height: info.rows, channels,
    mean: Array(channels).fill(0), std: Array(channels).fill(1), resize: 'bilinear' }, { framePolicy: frameIndex });
  const tensor = frames[0].tensor;
  const pixels = info.rows * info.columns;
  expect(reference.data.length).toBe(pixels * channels);
  let worst = 0;
  for (let p = 0; p < pixels; p++) for (let c = 0; c < channels; c++) {
    worst = Math.max(worst, Math.abs(tensor[c * pixels + p] * 255 - reference.data[p * channels + c]));
  }
  expect(worst).toBeLessThanOrEqual(tolerance);
});
