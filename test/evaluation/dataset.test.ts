import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import {
  createImage,
  decodePng,
  discoverSplits,
  ImageDecodeError,
  loadLabelledSplit,
  LabelsError,
  parseLabelsCsv,
  resizeImage,
  toModelTensor,
} from '../../src/evaluation';

const classes = [
  { label: 'Normal', code: { value: '17621005' } },
  { label: 'Pneumothorax', code: { value: '36118008' } },
];

function pngBytes(width: number, height: number, colorType: 0 | 2, bitDepth: 8 | 16, value: (x: number, y: number, c: number) => number): Buffer {
  const png = new PNG({ width, height, colorType, inputColorType: 6, bitDepth, inputHasAlpha: true });
  const max = bitDepth === 16 ? 65535 : 255;
  const data = bitDepth === 16 ? new Uint16Array(width * height * 4) : Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) data[(y * width + x) * 4 + c] = Math.round(value(x, y, c) * max);
      data[(y * width + x) * 4 + 3] = max;
    }
  }
  png.data = data as unknown as Buffer;
  return PNG.sync.write(png, { colorType, bitDepth, inputColorType: 6, inputHasAlpha: true });
}

describe('labelled data', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-eval-data-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('decodes grey 8-bit, grey 16-bit and RGB PNGs to [0,1] planes', () => {
    const grey = decodePng(pngBytes(4, 2, 0, 8, (x) => x / 3), 'g8.png');
    expect([grey.width, grey.height, grey.channels]).toEqual([4, 2, 1]);
    expect(Array.from(grey.data.slice(0, 4)).map((v) => Math.round(v * 3))).toEqual([0, 1, 2, 3]);
    const deep = decodePng(pngBytes(2, 1, 0, 16, (x) => (x === 0 ? 1000 / 65535 : 1)), 'g16.png');
    expect(deep.data[0]).toBeCloseTo(1000 / 65535, 9);
    const rgb = decodePng(pngBytes(1, 1, 2, 8, (_x, _y, c) => [0, 0.5, 1][c]), 'rgb.png');
    expect(rgb.channels).toBe(3);
    expect(Array.from(rgb.data)).toEqual([0, 128 / 255, 1].map((v) => Math.fround(v)));
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'junk.png')).toThrow(ImageDecodeError);
  });

  test('resizes with area, bilinear and nearest, and normalises to the model tensor', () => {
    const image = createImage(4, 4, 1);
    image.data.set([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
    expect(Array.from(resizeImage(image, 2, 2, 'area').data)).toEqual([0, 1, 0, 1]);
    expect(Array.from(resizeImage(image, 2, 2, 'nearest').data)).toEqual([0, 1, 0, 1]);
    expect(Array.from(resizeImage(image, 2, 2, 'bilinear').data)).toEqual([0, 1, 0, 1]);
    const up = resizeImage(image, 8, 8, 'bilinear');
    expect(up.data[3]).toBeGreaterThan(0);
    expect(up.data[3]).toBeLessThan(1);
    const tensor = toModelTensor(image, { width: 2, height: 2, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'area' });
    expect(Array.from(tensor)).toEqual([-2, 2, -2, 2, -2, 2, -2, 2, -2, 2, -2, 2]);
  });

  test('labels.csv: quoted cells, label or code columns, clear errors', () => {
    const rows = parseLabelsCsv('file,label\n"a,1.png",Normal\nb.png,"Pneumo""thorax"\n\n', 'labels.csv');
    expect(rows).toEqual([{ file: 'a,1.png', label: 'Normal', line: 2 }, { file: 'b.png', label: 'Pneumo"thorax', line: 3 }]);
    expect(parseLabelsCsv('code,file\n36118008,x.png', 'l.csv')[0].label).toBe('36118008');
    expect(() => parseLabelsCsv('name,class\nx,y', 'l.csv')).toThrow(/header must name a "file" column/);
    expect(() => parseLabelsCsv('file,label\nx.png,A\nx.png,B', 'l.csv')).toThrow(/line 3: file "x.png" is listed twice/);
    expect(() => parseLabelsCsv('file,label\n../x.png,A', 'l.csv')).toThrow(/inside the folder/);
    expect(() => parseLabelsCsv('file,label\n', 'l.csv')).toThrow(/lists no images/);
  });

  test('a split keeps its readable images and names the bad ones; unknown labels fail the split', async () => {
    const split = path.join(dir, 'in-domain');
    await fs.mkdir(split, { recursive: true });
    await fs.writeFile(path.join(split, 'a.png'), pngBytes(8, 8, 0, 8, () => 0.5));
    await fs.writeFile(path.join(split, 'b.png'), pngBytes(8, 8, 0, 8, () => 0.25));
    await fs.writeFile(path.join(split, 'broken.png'), Buffer.from('not an image'));
    await fs.writeFile(path.join(split, 'labels.csv'), 'file,label\na.png,Normal\nmissing.png,Normal\nbroken.png,Normal\nb.png,36118008\n');
    const loaded = await loadLabelledSplit(split, 'in-domain', classes);
    expect(loaded.images.map((i) => [i.file, i.classIndex])).toEqual([['a.png', 0], ['b.png', 1]]);
    expect(loaded.failures.map((f) => f.file)).toEqual(['missing.png', 'broken.png']);
    expect(loaded.failures[0].error).toMatch(/no such file/);
    expect(loaded.failures[1].error).toMatch(/not a PNG, and no DICOM reader/);
    expect((await loadLabelledSplit(split, 'in-domain', classes, { limit: 1 })).images).toHaveLength(1);

    const other = path.join(dir, 'shifted');
    await fs.mkdir(other, { recursive: true });
    await fs.writeFile(path.join(other, 'labels.csv'), 'file,label\na.png,Fracture\n');
    await expect(loadLabelledSplit(other, 'shifted', classes)).rejects.toThrow(/label "Fracture" is neither a class label nor a code/);
    await fs.mkdir(path.join(dir, 'calibration'));
    await fs.writeFile(path.join(dir, 'calibration', 'labels.csv'), 'file,label\na.png,Normal\n');
    expect((await discoverSplits(dir, ['calibration'])).map((s) => s.name)).toEqual(['in-domain', 'shifted']);
    expect((await discoverSplits(split)).map((s) => s.name)).toEqual(['in-domain']);
    await expect(discoverSplits(path.join(dir, 'nope'))).rejects.toThrow(LabelsError);
  });
});
