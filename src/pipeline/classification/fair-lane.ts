/** Anything with a list of items to hand out a few at a time (a study's images waiting for the batcher). */
export interface FairLaneEntry {
  readonly inputs: readonly unknown[];
}

/** A contiguous run of one entry's items placed in one batch: items [start, start + count) of `entry.inputs`. */
export interface LaneSlice<E extends FairLaneEntry> {
  entry: E;
  start: number;
  count: number;
}

interface Waiting<E> {
  entry: E;
  /** Arrival order: the round-robin goes around in it. */
  seq: number;
  /** Items already handed out. */
  taken: number;
}

/**
 * One priority lane of the batcher, handing out its entries' items round-robin so that a small study arriving behind
 * a large one is in the next batch instead of waiting for the whole large study (issue 21, item 5). The round starts
 * after the entry served last, in arrival order; an entry that arrives meanwhile sorts after every earlier one, so it
 * is served before the round comes back to the large study, and every waiting entry gets a turn once per round (no
 * starvation, unlike smallest-first). Entries keep their items in order, so each study's images still enter batches
 * in the order the study gave them.
 */
export class FairLane<E extends FairLaneEntry> {
  private readonly waiting: Waiting<E>[] = [];
  private nextSeq = 0;
  /** Sequence number of the entry served last; -1 before the first. */
  private lastServed = -1;
  private untaken = 0;

  push(entry: E): void {
    if (entry.inputs.length === 0) return;
    this.waiting.push({ entry, seq: this.nextSeq++, taken: 0 });
    this.untaken += entry.inputs.length;
  }

  /** Entries with items not handed out yet. */
  get entries(): number {
    return this.waiting.length;
  }

  /** Items not handed out yet. */
  get items(): number {
    return this.untaken;
  }

  /** Drops an entry's items not handed out yet (its study failed); returns how many were dropped. */
  remove(entry: E): number {
    const at = this.waiting.findIndex((w) => w.entry === entry);
    if (at < 0) return 0;
    const [w] = this.waiting.splice(at, 1);
    const dropped = w.entry.inputs.length - w.taken;
    this.untaken -= dropped;
    return dropped;
  }

  /**
   * Hands out at most `room` items for one batch. `mix` false: from one entry only, the next in the round (a batch
   * of one study, so its λ_B depends on that study alone). `mix` true: one item at a time from each entry in round
   * order until the room is filled, so every waiting study has images in the batch. One slice per entry, in round
   * order.
   */
  take(room: number, mix: boolean): LaneSlice<E>[] {
    const slices: LaneSlice<E>[] = [];
    if (room <= 0 || this.waiting.length === 0) return slices;
    const first = this.waiting.findIndex((w) => w.seq > this.lastServed);
    const order = first <= 0 ? [...this.waiting] : [...this.waiting.slice(first), ...this.waiting.slice(0, first)];
    // The entry that got the last item: the next batch's round starts after it.
    let last = order[0];
    if (!mix) {
      slices.push(this.handOut(last, Math.min(room, last.entry.inputs.length - last.taken)));
    } else {
      const counts = new Map<Waiting<E>, number>();
      let left = room;
      let active = order;
      while (left > 0 && active.length > 0) {
        const still: Waiting<E>[] = [];
        for (const w of active) {
          if (left === 0) break;
          const given = (counts.get(w) ?? 0) + 1;
          counts.set(w, given);
          last = w;
          left--;
          if (w.taken + given < w.entry.inputs.length) still.push(w);
        }
        active = still;
      }
      for (const w of order) {
        const n = counts.get(w);
        if (n) slices.push(this.handOut(w, n));
      }
    }
    this.lastServed = last.seq;
    const unfinished = this.waiting.filter((w) => w.taken < w.entry.inputs.length);
    this.waiting.splice(0, this.waiting.length, ...unfinished);
    return slices;
  }

  private handOut(w: Waiting<E>, count: number): LaneSlice<E> {
    const slice = { entry: w.entry, start: w.taken, count };
    w.taken += count;
    this.untaken -= count;
    return slice;
  }
}
