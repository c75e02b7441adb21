/**
 * The drift monitor: per source of images (station, manufacturer and model, institution), the T3B disagreement of
 * each finished study over time, and a warning when a source's recent disagreement moves away from its own history.
 *
 * Why per source: the generalist and the expert disagree more on images unlike those the expert was trained on, so a
 * new scanner, a changed protocol or a new site shows first as a shift of that source's divergence, long before
 * anyone counts wrong findings. Each source is compared with itself because sources differ in their normal level.
 *
 * The rule (docs/ADMIN.md "Drift monitor"): for each source, x_i is the mean JS divergence of the i-th study's
 * images. The recent window is the last RECENT_STUDIES values; the baseline is up to BASELINE_STUDIES values before
 * it, and at least MIN_BASELINE_STUDIES are needed before anything is judged. With m and s the baseline's mean and
 * standard deviation (s floored at MIN_SD, so a perfectly steady history does not turn noise into alarms) and r the
 * recent mean, z = (r − m) / (s / √RECENT_STUDIES), the usual test of a window mean against a reference. |z| ≥
 * Z_WARNING warns; a rising z is the usual sign of shift (the models disagree more), a falling one is reported too.
 *
 * Bounded memory: at most MAX_SOURCES sources (later ones are pooled as OTHER_SOURCE) and MAX_POINTS values each.
 * Kept in memory only: after a restart a source needs MIN_BASELINE_STUDIES + RECENT_STUDIES studies again.
 */

export const RECENT_STUDIES = 5;
const BASELINE_STUDIES = 50;
export const MIN_BASELINE_STUDIES = 10;
const MIN_SD = 0.02;
const Z_WARNING = 4;
export const MAX_SOURCES = 32;
export const MAX_POINTS = 200;
export const OTHER_SOURCE = 'other sources';

/** Where a study's images come from (DICOM attributes of its images; '' when absent). */
export interface ImageSource {
  stationName: string;
  manufacturer: string;
  modelName: string;
  institution: string;
}

export interface DriftPoint {
  /** Epoch milliseconds when the study's result was recorded. */
  at: number;
  /** Mean JS divergence over the study's images. */
  meanJs: number;
}

export interface DriftSourceView extends ImageSource {
  /** One line naming the source, as the worklist and the metrics label show it. */
  label: string;
  points: DriftPoint[];
  /** Studies recorded since the sidecar started (points keep the last MAX_POINTS). */
  studies: number;
  /** null until the source has a baseline of MIN_BASELINE_STUDIES studies and a full recent window. */
  judged: { baselineMean: number; baselineSd: number; recentMean: number; z: number } | null;
  warning: boolean;
  /** Why it warns, in words; '' when it does not. */
  reason: string;
}

export interface DriftView {
  sources: DriftSourceView[];
  rule: { recentStudies: number; baselineStudies: number; minBaselineStudies: number; minSd: number; zWarning: number };
}

/** The line naming a source: its non-empty parts, "unknown source" when none. */
export function sourceLabel(source: ImageSource): string {
  const device = [source.manufacturer, source.modelName].filter((s) => s !== '').join(' ');
  const parts = [source.stationName, device, source.institution].map((s) => s.trim()).filter((s) => s !== '');
  return parts.length ? parts.join(' · ') : 'unknown source';
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The rule above on one source's values, oldest first. */
export function judgeDrift(values: readonly number[]): DriftSourceView['judged'] {
  if (values.length < MIN_BASELINE_STUDIES + RECENT_STUDIES) return null;
  const recent = values.slice(-RECENT_STUDIES);
  const baseline = values.slice(0, -RECENT_STUDIES).slice(-BASELINE_STUDIES);
  const baselineMean = mean(baseline);
  const variance = baseline.reduce((a, v) => a + (v - baselineMean) ** 2, 0) / (baseline.length - 1);
  const baselineSd = Math.sqrt(variance);
  const recentMean = mean(recent);
  const z = (recentMean - baselineMean) / (Math.max(baselineSd, MIN_SD) / Math.sqrt(RECENT_STUDIES));
  return { baselineMean, baselineSd, recentMean, z };
}

interface SourceSeries {
  source: ImageSource;
  label: string;
  points: DriftPoint[];
  studies: number;
}

export class DriftMonitor {
  private readonly series = new Map<string, SourceSeries>();

  /** Records one finished study's mean JS divergence for its source. */
  record(source: ImageSource, meanJs: number, at: number = Date.now()): void {
    if (!Number.isFinite(meanJs)) return;
    let label = sourceLabel(source);
    if (!this.series.has(label) && this.series.size >= MAX_SOURCES - 1 && label !== OTHER_SOURCE) {
      label = OTHER_SOURCE;
      source = { stationName: OTHER_SOURCE, manufacturer: '', modelName: '', institution: '' };
    }
    let entry = this.series.get(label);
    if (!entry) {
      entry = { source, label, points: [], studies: 0 };
      this.series.set(label, entry);
    }
    entry.points.push({ at, meanJs });
    if (entry.points.length > MAX_POINTS) entry.points.shift();
    entry.studies += 1;
  }

  view(): DriftView {
    const sources = [...this.series.values()].map((entry): DriftSourceView => {
      const judged = judgeDrift(entry.points.map((p) => p.meanJs));
      const warning = judged !== null && Math.abs(judged.z) >= Z_WARNING;
      const reason = warning && judged
        ? `the models ${judged.z > 0 ? 'disagree more' : 'disagree less'} on this source's last ${RECENT_STUDIES} studies ` +
          `(mean divergence ${judged.recentMean.toFixed(3)}) than on its ${Math.min(BASELINE_STUDIES, entry.points.length - RECENT_STUDIES)} ` +
          `before (${judged.baselineMean.toFixed(3)}; z ${judged.z.toFixed(1)}, limit ±${Z_WARNING}): check for a new scanner, protocol or site`
        : '';
      return { ...entry.source, label: entry.label, points: entry.points.map((p) => ({ ...p })), studies: entry.studies, judged, warning, reason };
    });
    sources.sort((a, b) => Number(b.warning) - Number(a.warning) || a.label.localeCompare(b.label));
    return {
      sources,
      rule: { recentStudies: RECENT_STUDIES, baselineStudies: BASELINE_STUDIES, minBaselineStudies: MIN_BASELINE_STUDIES, minSd: MIN_SD, zWarning: Z_WARNING },
    };
  }
}
