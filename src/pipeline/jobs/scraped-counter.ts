import { Counter, type Registry } from 'prom-client';

/**
 * A Prometheus counter whose values another part already counts (a cache's hits, a watcher's claims): read from
 * `read` at each scrape, one series per key under `labelName`, rather than counted twice.
 */
export function counterReadAtScrape<L extends string>(registry: Registry, options: {
  name: string;
  help: string;
  labelName: L;
  read: () => Record<string, number>;
}): Counter<L> {
  const { labelName, read } = options;
  return new Counter<L>({
    name: options.name,
    help: options.help,
    labelNames: [labelName],
    registers: [registry],
    collect() {
      // The source's totals only grow, so setting the counter from them keeps it monotonic.
      this.reset();
      for (const [key, value] of Object.entries(read())) this.inc({ [labelName]: key } as Partial<Record<L, string>>, value);
    },
  });
}
