import { Gauge, type Registry } from 'prom-client';
import { RECENT_STUDIES, type DriftMonitor } from './drift-monitor';

/** Longest `source` label value: a label identifies, it does not describe. */
const MAX_LABEL_CHARS = 64;

/**
 * A source's label value: lower case letters, digits, '.', '-' and '_' only, cut to MAX_LABEL_CHARS. The monitor
 * keeps at most MAX_SOURCES sources, so the label's cardinality is bounded; sources are equipment, not patients.
 */
export function sourceMetricLabel(label: string): string {
  const cleaned = label.toLowerCase().replace(/[^a-z0-9.\-_]+/g, '_').replace(/^_+|_+$/g, '');
  return (cleaned || 'unknown').slice(0, MAX_LABEL_CHARS);
}

/** Per source: the recent mean divergence, its z against the source's own history, and whether it warns. */
export function registerDriftMetrics(registry: Registry, monitor: DriftMonitor): void {
  const each = (gauge: Gauge<'source'>, value: (s: ReturnType<DriftMonitor['view']>['sources'][number]) => number | null): void => {
    gauge.reset();
    for (const source of monitor.view().sources) {
      const v = value(source);
      if (v !== null) gauge.set({ source: sourceMetricLabel(source.label) }, v);
    }
  };
  new Gauge({
    name: 't3_drift_recent_mean_js', help: 'Mean JS divergence of the last studies of each image source (drift monitor).',
    labelNames: ['source'], registers: [registry],
    collect() {
      each(this, (s) => {
        const recent = s.points.slice(-RECENT_STUDIES);
        return recent.length ? recent.reduce((a, p) => a + p.meanJs, 0) / recent.length : null;
      });
    },
  });
  new Gauge({
    name: 't3_drift_z', help: "z of each source's recent mean divergence against its own history (null until judged).",
    labelNames: ['source'], registers: [registry],
    collect() {
      each(this, (s) => s.judged?.z ?? null);
    },
  });
  new Gauge({
    name: 't3_drift_warning', help: '1 when a source\'s recent divergence moved away from its history (|z| at or above the limit).',
    labelNames: ['source'], registers: [registry],
    collect() {
      each(this, (s) => (s.warning ? 1 : 0));
    },
  });
}
