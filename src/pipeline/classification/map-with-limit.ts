/**
 * `items.map(fn)` with at most `limit` calls in flight, results in input order. A study's instances are fetched
 * through it so that one large study does not put hundreds of requests on Orthanc at once: those queue in Orthanc's
 * HTTP threads ahead of the change-feed poll and of every other study's requests (issue 21, item 5).
 */
export async function mapWithLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // After a failure the others take nothing new: the caller has its answer, the rest would be wasted requests.
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return out;
}
