import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BundleError, loadBundle } from '../../src/engine';
import { copyDemoBundle, removeTempDirs } from './onnx-test-helpers';

afterAll(removeTempDirs);

async function withGroupBy(value: unknown): Promise<string> {
  const dir = await copyDemoBundle();
  const file = path.join(dir, 'bundle.json');
  const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as { t3: Record<string, unknown> };
  manifest.t3.groupBy = value;
  await fs.writeFile(file, JSON.stringify(manifest));
  return dir;
}

describe('bundle t3.groupBy (grouped T3B by the step or by series)', () => {
  test('absent: js-step, as bundles written before the key behaved', async () => {
    const dir = await copyDemoBundle();
    expect((await loadBundle(dir)).manifest.t3.groupBy).toBe('js-step');
  });

  test.each(['js-step', 'series'])('"%s" is read', async (mode) => {
    expect((await loadBundle(await withGroupBy(mode))).manifest.t3.groupBy).toBe(mode);
  });

  test.each([['an unknown mode', 'study'], ['a number', 2]])('%s is refused with the key path', async (_what, value) => {
    const error = await loadBundle(await withGroupBy(value)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as Error).message).toMatch(/t3\.groupBy: must be one of js-step, series, got /);
  });
});
