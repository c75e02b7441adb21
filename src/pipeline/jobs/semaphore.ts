/** A counting semaphore whose limit can change while it is in use (configuration updates apply at once). */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private limit: number) {}

  setLimit(n: number): void {
    this.limit = n;
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!();
    }
  }

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.setLimit(this.limit);
    }
  }

  get pending(): number {
    return this.waiting.length;
  }
}
