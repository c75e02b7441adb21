import { loadModelInputs, nonImageKind, readDicomInfo, type DicomInstanceInfo, type FramePolicy, type ModelInputFrame } from '../../dicom';
import type { FixedPassEngine } from '../classification/classify-fixed-passes';
import { fixedPassKey, type FixedPassCache } from '../classification/fixed-pass-cache';
import { chooseBundle, type RouteTable } from '../routing/routing';
import type { PixelSourceName, StudyStore } from '../jobs/study-store';

/** One loaded model as speculation sees it. */
export interface SpeculationModel {
  name: string;
  engine: FixedPassEngine;
  /** Identity of the logits this model produces (bundle, model hashes, input spec, load generation). */
  identity: string;
  /** True when no readiness work is queued or running on this model: speculation never delays a ready study. */
  idle(): boolean;
}

export interface SpeculationSettings {
  routing: RouteTable;
  framePolicy: FramePolicy;
  /** Absent: dicom/'s default bound on an image's declared decoded size. */
  maxDecodedImageBytes?: number;
  pixelSource: PixelSourceName;
  batchSize: number;
  maxDelayMs: number;
  queueBound: number;
  decodeConcurrency: number;
}

export interface SpeculationDeps {
  store: StudyStore;
  models(): ReadonlyMap<string, SpeculationModel>;
  settings(): SpeculationSettings;
  cache: FixedPassCache;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

interface Offer {
  orthancInstanceId: string;
  epoch: number;
}

interface Prepared extends Offer {
  key: string;
  info: DicomInstanceInfo;
  frames: ModelInputFrame[];
}

/**
 * Speculative fixed-weight passes. The generalist (λ=0) and expert (λ=1) passes depend on the image alone, so they
 * run as instances arrive (NewInstance), batched across studies, and their logits wait in the cache for the study to
 * become ready. Best effort: a full queue drops new offers, a failure only logs; the readiness path computes whatever
 * is missing. An instance offered again (stored again) invalidates its entries and any speculation still in flight.
 */
export class SpeculativePasses {
  private readonly epochs = new Map<string, number>();
  private readonly queue: Offer[] = [];
  private decoding = 0;
  private readonly ready = new Map<string, { model: SpeculationModel; items: Prepared[]; timer: NodeJS.Timeout | null; running: boolean }>();
  private stopped = false;
  readonly stats = { offered: 0, dropped: 0, skipped: 0, failed: 0, stored: 0, passes: 0 };

  constructor(private readonly deps: SpeculationDeps) {}

  /** Instances offered and not yet stored or given up. */
  get inFlight(): number {
    return this.epochs.size;
  }

  /** True while this instance's speculation is queued or running (a readiness lookup then computes it itself). */
  isPending(orthancInstanceId: string): boolean {
    return this.epochs.has(orthancInstanceId);
  }

  offer(orthancInstanceId: string): void {
    if (this.stopped) return;
    this.stats.offered++;
    const epoch = (this.epochs.get(orthancInstanceId) ?? 0) + 1;
    this.deps.cache.invalidateInstance(orthancInstanceId);
    if (this.epochs.size >= this.deps.settings().queueBound && !this.epochs.has(orthancInstanceId)) {
      this.stats.dropped++;
      return;
    }
    this.epochs.set(orthancInstanceId, epoch);
    this.queue.push({ orthancInstanceId, epoch });
    this.pump();
  }

  /** Stops taking offers and drops what waits (engines are about to close). */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    for (const r of this.ready.values()) if (r.timer) clearTimeout(r.timer);
    this.ready.clear();
    this.epochs.clear();
  }

  private current(o: Offer): boolean {
    return this.epochs.get(o.orthancInstanceId) === o.epoch;
  }

  private giveUp(o: Offer): void {
    if (this.current(o)) this.epochs.delete(o.orthancInstanceId);
  }

  private pump(): void {
    while (this.decoding < this.deps.settings().decodeConcurrency && this.queue.length > 0) {
      const offer = this.queue.shift()!;
      if (!this.current(offer)) continue;
      this.decoding++;
      void this.prepare(offer)
        .catch((err: unknown) => {
          this.stats.failed++;
          this.giveUp(offer);
          this.deps.log?.('speculation-failed', { orthancInstanceId: offer.orthancInstanceId, error: err instanceof Error ? err.message : String(err) });
        })
        .finally(() => {
          this.decoding--;
          this.pump();
        });
    }
  }

  private async prepare(offer: Offer): Promise<void> {
    const s = this.deps.settings();
    // Non-image objects (our own SRs above all) are skipped before they are downloaded and parsed.
    const sopClassUid = this.deps.store.instanceSopClassUid ? await this.deps.store.instanceSopClassUid(offer.orthancInstanceId) : null;
    if (sopClassUid !== null && nonImageKind(sopClassUid) !== undefined) {
      this.stats.skipped++;
      this.giveUp(offer);
      return;
    }
    const bytes = await this.deps.store.fetchInstance(offer.orthancInstanceId, s.pixelSource, s.framePolicy, s.maxDecodedImageBytes);
    const header = readDicomInfo(bytes, offer.orthancInstanceId);
    const h = header.header;
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    const bundle = nonImageKind(header.sopClassUid) === undefined
      ? chooseBundle(s.routing, {
          modality: header.modality,
          sopClassUid: header.sopClassUid,
          bodyPartExamined: text(h.BodyPartExamined),
          studyDescription: text(h.StudyDescription),
          seriesDescription: text(h.SeriesDescription),
          // Orthanc's RemoteAET is not in the file; a rule on the calling AE that routes differently only costs a miss.
          callingAet: null,
        })
      : null;
    const model = bundle === null ? undefined : this.deps.models().get(bundle);
    if (!model || !this.current(offer)) {
      this.stats.skipped++;
      this.giveUp(offer);
      return;
    }
    const { info, frames } = await loadModelInputs(bytes, model.engine.bundle.manifest.input,
      { framePolicy: s.framePolicy, source: offer.orthancInstanceId, maxDecodedImageBytes: s.maxDecodedImageBytes });
    if (!this.current(offer) || frames.length === 0) {
      this.giveUp(offer);
      return;
    }
    const key = fixedPassKey({ modelIdentity: model.identity, framePolicy: s.framePolicy, pixelSource: s.pixelSource, sopInstanceUid: info.sopInstanceUid });
    let slot = this.ready.get(model.name);
    if (!slot || slot.model.identity !== model.identity) {
      // The model was reloaded: what waited for the old one is dropped.
      if (slot) for (const p of slot.items) this.giveUp(p);
      if (slot?.timer) clearTimeout(slot.timer);
      this.ready.set(model.name, (slot = { model, items: [], timer: null, running: false }));
    }
    slot.items.push({ ...offer, key, info, frames });
    this.schedule(model.name);
  }

  private schedule(name: string, delayMs?: number): void {
    const slot = this.ready.get(name);
    if (!slot || slot.running || slot.items.length === 0 || this.stopped) return;
    const s = this.deps.settings();
    const frames = slot.items.reduce((n, p) => n + p.frames.length, 0);
    const wait = delayMs ?? (frames >= s.batchSize ? 0 : s.maxDelayMs);
    if (slot.timer) {
      if (wait > 0) return;
      clearTimeout(slot.timer);
    }
    slot.timer = setTimeout(() => {
      slot.timer = null;
      void this.flush(name);
    }, wait);
  }

  private async flush(name: string): Promise<void> {
    const slot = this.ready.get(name);
    if (!slot || slot.running || this.stopped) return;
    if (!slot.model.idle()) return this.schedule(name, 10);
    const s = this.deps.settings();
    const take: Prepared[] = [];
    let count = 0;
    while (slot.items.length > 0 && (count === 0 || count + slot.items[0].frames.length <= s.batchSize)) {
      const p = slot.items.shift()!;
      if (!this.current(p)) continue;
      take.push(p);
      count += p.frames.length;
    }
    if (count === 0) return this.schedule(name);
    slot.running = true;
    try {
      const spec = slot.model.engine.bundle.manifest.input;
      const K = slot.model.engine.bundle.manifest.classes.length;
      const size = spec.channels * spec.height * spec.width;
      const pixels = new Float32Array(count * size);
      let at = 0;
      for (const p of take) for (const f of p.frames) pixels.set(f.tensor, size * at++);
      const { generalist: pt, expert: ft } = await slot.model.engine.fixedPassLogits(pixels, count);
      this.stats.passes += 2;
      at = 0;
      const stillLoaded = this.deps.models().get(name)?.identity === slot.model.identity;
      for (const p of take) {
        const frames = p.frames.map((f) => {
          const row = at++;
          return { frameNumber: f.frameNumber, tensor: f.tensor, pt: pt.slice(row * K, (row + 1) * K), ft: ft.slice(row * K, (row + 1) * K) };
        });
        if (stillLoaded && this.current(p)) {
          this.deps.cache.set({ key: p.key, orthancInstanceId: p.orthancInstanceId, info: p.info, frames });
          this.stats.stored++;
        }
        this.giveUp(p);
      }
    } catch (err) {
      this.stats.failed += take.length;
      for (const p of take) this.giveUp(p);
      this.deps.log?.('speculation-failed', { bundle: name, images: count, error: err instanceof Error ? err.message : String(err) });
    } finally {
      slot.running = false;
      this.schedule(name);
    }
  }
}
