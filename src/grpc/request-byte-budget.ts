/**
 * The total size of request messages the server holds at once. A message is counted from the moment its length
 * prefix arrives until its call ends (received, waiting for admission, running), so the bytes held in requests are
 * bounded whatever the number of calls: a call that would go beyond the budget is refused before its body is read.
 */
export class RequestByteBudget {
  private held = 0;
  private refused = 0;

  /** `onReleased(bytes, heldBytes)` hears every release (the server reclaims memory after a burst with it). */
  constructor(readonly limitBytes: number, private readonly onReleased?: (bytes: number, heldBytes: number) => void) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes < 1) throw new RangeError(`the request byte budget must be a positive integer, got ${limitBytes}`);
  }

  /** Bytes of the requests currently held. */
  get heldBytes(): number {
    return this.held;
  }

  /** Calls refused because the budget was used up. */
  get refusedTotal(): number {
    return this.refused;
  }

  /** Reserves `bytes`; returns the function that gives them back (idempotent), or null when they do not fit. */
  tryReserve(bytes: number): (() => void) | null {
    if (this.held + bytes > this.limitBytes) {
      this.refused++;
      return null;
    }
    this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
      this.onReleased?.(bytes, this.held);
    };
  }
}
