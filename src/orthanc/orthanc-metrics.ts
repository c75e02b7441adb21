import { Gauge, type Registry } from 'prom-client';
import { counterReadAtScrape } from '../pipeline';
import type { ChangeFollower } from './change-follower';
import type { QuietStudyWatcher } from './quiet-study-watcher';

/** The change follower's position and Orthanc's reachability, read at each scrape. */
export function registerFollowerMetrics(registry: Registry, follower: ChangeFollower, following: boolean): void {
  new Gauge({
    name: 't3_follower_checkpoint', help: 'Saved change-feed position (low-watermark of unfinished work).', registers: [registry],
    collect() {
      this.set(follower.position.lowWatermark);
    },
  });
  new Gauge({
    name: 't3_follower_orthanc_up', help: '1 when the last poll of Orthanc succeeded.', registers: [registry],
    collect() {
      // Without the change feed nothing polls Orthanc, so nothing says it is up.
      this.set(following && follower.state !== 'orthanc-down' ? 1 : 0);
    },
  });
}

/** Shared mode: studies waiting to be quiet and claimed, and the watcher's checks and claims. */
export function registerSharedModeMetrics(registry: Registry, watcher: QuietStudyWatcher): void {
  new Gauge({
    name: 't3_shared_studies_pending', help: 'Studies noted and not yet finished (shared mode).', registers: [registry],
    collect() {
      this.set(watcher.pending);
    },
  });
  counterReadAtScrape(registry, {
    name: 't3_shared_claims_total', help: 'Readiness checks and claims (shared mode).', labelName: 'event',
    read: () => ({ ...watcher.stats }),
  });
}
