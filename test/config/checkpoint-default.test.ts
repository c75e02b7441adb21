/**
 * The default change-feed checkpoint lives in a state folder that git ignores, so a sidecar run from a clone
 * (`npx orthanc-t3 serve` with no configuration) leaves nothing in `git status`; it is saved there, folder and all.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CHECKPOINT_PATH, loadSidecarConfig } from '../../src/config';
import { CheckpointStore } from '../../src/orthanc/checkpoint-store';

const repoRoot = path.resolve(__dirname, '..', '..');

test('with no configuration the checkpoint goes to the state folder', () => {
  const { config } = loadSidecarConfig({ env: {} });
  expect(config.follower.checkpointPath).toBe(DEFAULT_CHECKPOINT_PATH);
  expect(path.isAbsolute(DEFAULT_CHECKPOINT_PATH)).toBe(false);
  expect(path.dirname(DEFAULT_CHECKPOINT_PATH)).not.toBe('.');
});

test('git ignores the default checkpoint, its temp file and its folder in a clone', () => {
  const folder = path.dirname(DEFAULT_CHECKPOINT_PATH);
  for (const file of [DEFAULT_CHECKPOINT_PATH, `${DEFAULT_CHECKPOINT_PATH}.1234.tmp`, `${folder}/`]) {
    // check-ignore exits 0 and echoes the path when a rule ignores it, 1 when none does.
    expect(execFileSync('git', ['check-ignore', '--no-index', file], { cwd: repoRoot, encoding: 'utf8' }).trim()).toBe(file);
  }
});

test('the first save creates the state folder under the working directory', async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'orthanc-t3-state-'));
  try {
    const store = new CheckpointStore(path.resolve(work, DEFAULT_CHECKPOINT_PATH));
    expect(await store.load()).toBe(0);
    await store.save(42);
    expect(await new CheckpointStore(path.join(work, DEFAULT_CHECKPOINT_PATH)).load()).toBe(42);
    expect(fs.readdirSync(path.join(work, path.dirname(DEFAULT_CHECKPOINT_PATH)))).toEqual([path.basename(DEFAULT_CHECKPOINT_PATH)]);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
