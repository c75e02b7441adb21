import fs from 'node:fs/promises';
import path from 'node:path';

/** The saved position in Orthanc's change log: every change with Seq ≤ `seq` is finished. */
export interface Checkpoint {
  seq: number;
  savedAt: string;
}

export class CheckpointError extends Error {
  constructor(file: string, reason: string) {
    super(`checkpoint ${file}: ${reason}`);
    this.name = 'CheckpointError';
  }
}

/**
 * Persists the change-feed checkpoint atomically: write a temp file in the same folder, fsync, rename over the old
 * one. A crash leaves either the old or the new file, never a torn one.
 */
export class CheckpointStore {
  constructor(readonly file: string) {}

  /** 0 when no checkpoint was saved yet. */
  async load(): Promise<number> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw new CheckpointError(this.file, (err as Error).message);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CheckpointError(this.file, 'is not JSON');
    }
    const seq = (parsed as Partial<Checkpoint>).seq;
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0) throw new CheckpointError(this.file, 'has no valid "seq"');
    return seq;
  }

  async save(seq: number): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const body: Checkpoint = { seq, savedAt: new Date().toISOString() };
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(body) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, this.file);
  }
}
