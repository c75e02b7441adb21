import type { ResultFeed, SidecarLog, StudyResult } from '../pipeline';
import type { DriftMonitor, ImageSource } from './drift-monitor';
import type { OrthancClient } from './orthanc-client';

/** Mean JS divergence over the study's images; null when the policy computed none (one-model policies). */
function studyMeanJs(result: StudyResult): number | null {
  const values = result.images.map((i) => i.js).filter((v): v is number => v !== null && Number.isFinite(v));
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

function text(value: unknown): string {
  // Capped: a source name is a label, and a long value would only bloat memory and the worklist.
  return typeof value === 'string' ? value.trim().slice(0, 64) : '';
}

/**
 * Feeds the drift monitor from the sidecar's finished results. The source is read from the study's first classified
 * image (one request: its simplified tags); equipment attributes, never patient ones, leave this function.
 */
export function recordDriftFromFeed(feed: ResultFeed, client: OrthancClient, monitor: DriftMonitor, log: SidecarLog): () => void {
  return feed.subscribe((event) => {
    const result = event.result;
    if (result.status !== 'done') return;
    const meanJs = studyMeanJs(result);
    const first = result.images[0];
    if (meanJs === null || !first) return;
    const at = Date.parse(result.timings.finishedAt ?? '') || Date.now();
    client
      .getJson<Record<string, unknown>>(`/instances/${encodeURIComponent(first.name)}/simplified-tags`)
      .then((tags) => {
        const source: ImageSource = {
          stationName: text(tags.StationName),
          manufacturer: text(tags.Manufacturer),
          modelName: text(tags.ManufacturerModelName),
          institution: text(tags.InstitutionName),
        };
        monitor.record(source, meanJs, at);
      })
      .catch((err: unknown) => {
        // The study may have been deleted meanwhile: its point is lost, nothing else.
        log('drift-source-unread', { orthancStudyId: result.orthancStudyId, error: err instanceof Error ? err.message : String(err) });
      });
  });
}
