import type { DicomInstanceInfo } from '../../dicom';

/** One frame's model input and the logits of the two fixed-weight passes on it. */
export interface FixedPassFrame {
  /** 1-based frame number in the source object. */
  frameNumber: number;
  /** Preprocessed model input [channels, H, W] (the merged pass at λ_B still needs it). */
  tensor: Float32Array;
  /** Generalist (λ=0) logits, one per class. */
  pt: Float32Array;
  /** Expert (λ=1) logits, one per class. */
  ft: Float32Array;
}

/** The fixed passes of one instance under one model identity. */
export interface FixedPassEntry {
  key: string;
  /** The Orthanc instance they were computed from; a lookup for another instance id misses. */
  orthancInstanceId: string;
  info: DicomInstanceInfo;
  frames: FixedPassFrame[];
}

/**
 * Key of an instance's fixed passes: model identity (bundle, both models' sha256, input spec, load generation), the
 * frame and pixel-source settings that chose the tensors, and the SOP Instance UID. Anything that changes the logits
 * changes the key, so a changed model can never hit an entry of the old one.
 */
export function fixedPassKey(parts: { modelIdentity: string; framePolicy: string | number; pixelSource: string; sopInstanceUid: string }): string {
  return `${parts.modelIdentity}|${parts.framePolicy}|${parts.pixelSource}|${parts.sopInstanceUid}`;
}

function entryBytes(e: FixedPassEntry): number {
  let n = 512 + JSON.stringify(e.info.header).length * 2;
  for (const f of e.frames) n += f.tensor.byteLength + f.pt.byteLength + f.ft.byteLength + 64;
  return n;
}

/** Least-recently-used cache of fixed passes, bounded in bytes. */
export class FixedPassCache {
  private readonly entries = new Map<string, { entry: FixedPassEntry; bytes: number }>();
  private total = 0;
  readonly stats = { hits: 0, misses: 0, stored: 0, evicted: 0, invalidated: 0 };

  constructor(private maxBytes: number) {}

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  /** The entry for `key` computed from this Orthanc instance, or undefined (counted as a hit or a miss). */
  get(key: string, orthancInstanceId: string): FixedPassEntry | undefined {
    const found = this.entries.get(key);
    if (!found || found.entry.orthancInstanceId !== orthancInstanceId) {
      this.stats.misses++;
      return undefined;
    }
    // Refresh its place in the LRU order.
    this.entries.delete(key);
    this.entries.set(key, found);
    this.stats.hits++;
    return found.entry;
  }

  set(entry: FixedPassEntry): void {
    this.remove(entry.key);
    const bytes = entryBytes(entry);
    if (bytes > this.maxBytes) return;
    this.entries.set(entry.key, { entry, bytes });
    this.total += bytes;
    this.stats.stored++;
    this.evict();
  }

  /** Drops every entry of this Orthanc instance (it was stored again: its content may have changed). */
  invalidateInstance(orthancInstanceId: string): number {
    let n = 0;
    for (const [key, { entry }] of this.entries) {
      if (entry.orthancInstanceId === orthancInstanceId) {
        this.remove(key);
        n++;
      }
    }
    this.stats.invalidated += n;
    return n;
  }

  /** Drops everything (models reloaded). */
  clear(): void {
    this.stats.invalidated += this.entries.size;
    this.entries.clear();
    this.total = 0;
  }

  private remove(key: string): void {
    const found = this.entries.get(key);
    if (!found) return;
    this.entries.delete(key);
    this.total -= found.bytes;
  }

  private evict(): void {
    while (this.total > this.maxBytes && this.entries.size > 0) {
      const oldest = this.entries.keys().next().value as string;
      this.remove(oldest);
      this.stats.evicted++;
    }
  }
}
