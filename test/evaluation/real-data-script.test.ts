import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { evalCommand } from '../../src/cli/eval';
import { loadBundle } from '../../src/engine';
import { repoRoot, runCommand } from './cli-helpers';

const run = promisify(execFile);
const script = path.join(repoRoot, 'scripts', 'real-data', 'fashion_mnist_pair.py');

/**
 * scripts/real-data trains a pair on Fashion-MNIST's real photographs (Debian's dataset-fashion-mnist, installed by
 * scripts/install-debian-packages.sh --test) and writes a bundle and labelled splits. Its --quick mode (a few hundred
 * images, one epoch) checks here that the bundle loads and runs through eval, that the splits are what the docs
 * say, and that two runs give the same models (seeded, deterministic). Needs /usr/bin/python3 with torch.
 */
describe('scripts/real-data (Fashion-MNIST pair)', () => {
  let tmp: string;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'orthanc-t3-real-data-'));
    for (const out of ['a', 'b']) await run('/usr/bin/python3', [script, '--quick', '--out', path.join(tmp, out)], { maxBuffer: 16 << 20 });
  }, 300_000);

  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const sha256 = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex');

  test('writes a loadable 28×28 ten-class bundle, validation and test splits of the --quick sizes', async () => {
    const bundle = await loadBundle(path.join(tmp, 'a', 'bundle'));
    expect(bundle.manifest.input).toMatchObject({ width: 28, height: 28, channels: 3 });
    expect(bundle.manifest.classes.map((c) => c.label)).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    const rows = async (split: string) => (await fs.readFile(path.join(tmp, 'a', split, 'labels.csv'), 'utf8')).trim().split('\n').length - 1;
    expect(await rows('validation/in-domain')).toBe(128);
    expect(await rows('validation/broad')).toBe(128);
    expect(await rows('eval/in-domain')).toBe(128);
    expect(await rows('eval/shifted')).toBe(128);
    expect(await rows('eval/calibration')).toBe(64);
  });

  test('is deterministic: two runs give the same models and the same images', async () => {
    for (const file of ['bundle/generalist.onnx', 'bundle/expert.onnx', 'eval/shifted/img0007.png', 'validation/broad/labels.csv']) {
      expect(await sha256(path.join(tmp, 'b', file))).toBe(await sha256(path.join(tmp, 'a', file)));
    }
  });

  test('the pair runs through eval on its own test splits', async () => {
    const { code, stdout } = await runCommand(evalCommand, ['--bundle', path.join(tmp, 'a', 'bundle'), '--data', path.join(tmp, 'a', 'eval'), '--quick', '--corruptions', 'none', '--providers', 'cpu']);
    expect(code).toBe(0);
    expect(stdout).toContain('Images: in-domain 16, shifted 16, pooled 32.');
  }, 120_000);
});
