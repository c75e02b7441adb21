import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BundleError, demoBundleDir, loadBundle, sha256Hex } from '../../src/engine';
import { copyDemoBundle, demoDir, removeTempDirs, tempDir } from './onnx-test-helpers';

afterAll(removeTempDirs);

async function editManifest(dir: string, edit: (m: Record<string, any>) => void): Promise<void> {
  const file = path.join(dir, 'bundle.json');
  const manifest = JSON.parse(await fs.readFile(file, 'utf8'));
  edit(manifest);
  await fs.writeFile(file, JSON.stringify(manifest));
}

async function expectBundleError(dir: string, pattern: RegExp): Promise<BundleError> {
  const error = await loadBundle(dir).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(BundleError);
  expect((error as Error).message).toMatch(pattern);
  return error as BundleError;
}

describe('loadBundle', () => {
  test('the embedded default is the trained demo pair, with the same classes as the generated one', async () => {
    expect(path.basename(demoBundleDir())).toBe('demo-trained');
    const trained = await loadBundle(demoBundleDir());
    const generated = await loadBundle(demoDir);
    expect(trained.manifest.classes.map((c) => c.code.value)).toEqual(generated.manifest.classes.map((c) => c.code.value));
    expect(trained.manifest.input).toEqual(generated.manifest.input);
  });

  test('the generated demo bundle loads with 7 SNOMED-coded chest classes', async () => {
    const bundle = await loadBundle(demoDir);
    const m = bundle.manifest;
    expect(m.input).toMatchObject({ name: 'pixel_values', width: 64, height: 64, channels: 3, resize: 'bilinear' });
    expect(m.classes.map((c) => c.code.value)).toEqual(['17621005', '36118008', '60046008', '287272002', '27925004', '4147007', '19242006']);
    expect(m.classes.every((c) => c.code.scheme === 'SCT')).toBe(true);
    expect(bundle.generalistPath).toBe(path.join(demoDir, 'generalist.onnx'));
    expect(m.models.expert.sha256).toBe(sha256Hex(await fs.readFile(bundle.expertPath)));
    expect(m.t3.gamma).toBe(0.5);
    // The paper's direction (docs/T3.md §2): disagreement defers to the generalist; the guard off.
    expect(m.t3.lambdaMin).toBeGreaterThan(m.t3.lambdaMax);
    expect(m.t3.extDelta).toBe(0);
    expect(m.t3Fit).toBeNull();
  });

  test('the shipped trained bundle carries a fitted map in the paper\'s direction, with its provenance', async () => {
    const m = (await loadBundle(demoBundleDir())).manifest;
    expect(m.t3.lambdaMin).toBeGreaterThan(m.t3.lambdaMax);
    expect(m.t3Fit).not.toBeNull();
    expect(m.t3Fit!.data.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.t3Fit!.data.splits.map((s) => s.name).sort()).toEqual(['broad', 'in-domain']);
    expect(m.t3Fit!.command).toMatch(/^orthanc-t3 fit --bundle bundles\/demo-trained --data bundles\/demo-trained\/validation /);
    expect(m.t3Fit!.warnings).toEqual([]);
  });

  test('a missing folder names the folder', async () => {
    const missing = path.join(await tempDir('nothing'), 'no-such-bundle');
    await expectBundleError(missing, /no-such-bundle: bundle folder does not exist/);
  });

  test('a missing bundle.json', async () => {
    const dir = await tempDir('empty');
    await expectBundleError(dir, /bundle\.json: missing/);
  });

  test('invalid JSON', async () => {
    const dir = await copyDemoBundle();
    await fs.writeFile(path.join(dir, 'bundle.json'), '{"formatVersion": 1,');
    await expectBundleError(dir, /bundle\.json: invalid JSON/);
  });

  test('a missing ONNX file names the field and the file', async () => {
    const dir = await copyDemoBundle();
    await fs.rm(path.join(dir, 'expert.onnx'));
    const e = await expectBundleError(dir, /models\.expert\.file: ONNX file .*expert\.onnx does not exist/);
    expect(e.field).toBe('models.expert.file');
  });

  test('a file that is not an ONNX model (with a matching sha256)', async () => {
    const dir = await copyDemoBundle();
    const junk = Buffer.from('this is a text file, not a protobuf model\n'.repeat(10));
    await fs.writeFile(path.join(dir, 'generalist.onnx'), junk);
    await editManifest(dir, (m) => { m.models.generalist.sha256 = sha256Hex(junk); });
    await expectBundleError(dir, /generalist\.onnx: models\.generalist\.file: not an ONNX model/);
  });

  test('a sha256 mismatch', async () => {
    const dir = await copyDemoBundle();
    await editManifest(dir, (m) => { m.models.expert.sha256 = '0'.repeat(64); });
    await expectBundleError(dir, /expert\.onnx: models\.expert\.sha256: sha256 mismatch: bundle\.json says 0{64}, the file has [0-9a-f]{64}/);
  });

  test.each([
    ['classes empty', (m: any) => { m.classes = []; }, /bundle\.json: classes: must list at least one class/],
    ['mean length != channels', (m: any) => { m.input.mean = [0.5, 0.5]; }, /input\.mean: has 2 values but input\.channels is 3/],
    ['std not positive', (m: any) => { m.input.std = [0.25, 0, 0.25]; }, /input\.std\[1\]: must be a positive number/],
    ['bad resize', (m: any) => { m.input.resize = 'cubic'; }, /input\.resize: must be one of bilinear, nearest, area/],
    ['missing class code', (m: any) => { delete m.classes[2].code; }, /classes\[2\]\.code: missing/],
    ['bad formatVersion', (m: any) => { m.formatVersion = 2; }, /formatVersion: must be 1/],
    ['bad temperature', (m: any) => { m.temperatures.expert = -1; }, /temperatures\.expert: must be a positive number/],
    ['unknown t3 key', (m: any) => { m.t3.lambada = 1; }, /t3\.lambada: unknown hyperparameter/],
    ['guard on without one temperature', (m: any) => { m.t3.extDelta = 0.1; m.t3.guardTemperature = null; }, /t3\.guardTemperature: must be a positive number when the extrapolation guard is on/],
    ['bad batch aggregation', (m: any) => { m.t3.batchAggregation = 'median'; }, /t3\.batchAggregation: must be one of mean-lambda, lambda-of-mean-js/],
    ['fit provenance without a data hash', (m: any) => { m.t3Fit = { objective: 'x', command: 'y', date: 'z', data: { images: 1, splits: [] } }; }, /t3Fit\.data\.sha256: missing/],
    ['bad sha256 text', (m: any) => { m.models.generalist.sha256 = 'abc'; }, /models\.generalist\.sha256: must be 64 hexadecimal digits/],
    ['class count differs from the model output', (m: any) => { m.classes.pop(); }, /classes: graph output "logits" has shape \[\?, 7\], but bundle\.json lists 6 classes/],
    ['input size differs from the model', (m: any) => { m.input.width = 32; }, /input: graph input "pixel_values" has shape \[\?, 3, 64, 64\], bundle\.json says \[\?, 3, 64, 32\]/],
  ])('%s', async (_what, edit, pattern) => {
    const dir = await copyDemoBundle();
    await editManifest(dir, edit);
    await expectBundleError(dir, pattern);
  });
});
