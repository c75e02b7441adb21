/** The drift rule (src/orthanc/drift-monitor.ts) on made-up series, and its bounds. */
import {
  DriftMonitor, MAX_POINTS, MAX_SOURCES, MIN_BASELINE_STUDIES, OTHER_SOURCE, RECENT_STUDIES, judgeDrift, sourceLabel,
} from '../../src/orthanc/drift-monitor';
import { sourceMetricLabel } from '../../src/orthanc/drift-metrics';

const A = { stationName: 'CT-EAST', manufacturer: 'Acme', modelName: 'Scan 9', institution: 'General' };
const B = { stationName: 'DX-2', manufacturer: 'Other', modelName: '', institution: '' };

// A steady source: values around 0.10 with a little spread (deterministic).
const steady = (i: number) => 0.1 + 0.01 * Math.sin(i * 1.7);

test('a source whose last studies disagree more than its history warns; a steady one does not', () => {
  const monitor = new DriftMonitor();
  for (let i = 0; i < 30; i++) monitor.record(A, steady(i), i);
  for (let i = 0; i < 25; i++) monitor.record(B, steady(i), i);
  for (let i = 0; i < RECENT_STUDIES; i++) monitor.record(B, 0.3 + 0.01 * i, 100 + i);
  const view = monitor.view();
  const a = view.sources.find((s) => s.label === sourceLabel(A))!;
  const b = view.sources.find((s) => s.label === sourceLabel(B))!;
  expect(a.warning).toBe(false);
  expect(b.warning).toBe(true);
  expect(b.judged!.z).toBeGreaterThan(4);
  expect(b.reason).toMatch(/disagree more/);
  expect(view.sources[0].label).toBe(b.label); // warnings first
});

test('nothing is judged before a baseline and a recent window exist', () => {
  expect(judgeDrift(Array.from({ length: MIN_BASELINE_STUDIES + RECENT_STUDIES - 1 }, () => 0.5))).toBeNull();
  // A perfectly constant history: the floor on the spread keeps tiny changes from warning.
  const values = [...Array.from({ length: 20 }, () => 0.1), ...Array.from({ length: RECENT_STUDIES }, () => 0.11)];
  expect(Math.abs(judgeDrift(values)!.z)).toBeLessThan(4);
});

test('memory is bounded: sources beyond the limit are pooled, each keeps its last points', () => {
  const monitor = new DriftMonitor();
  for (let i = 0; i < MAX_POINTS + 50; i++) monitor.record(A, 0.1, i);
  for (let s = 0; s < MAX_SOURCES + 10; s++) monitor.record({ ...A, stationName: `S${s}` }, 0.1);
  const view = monitor.view();
  expect(view.sources.length).toBe(MAX_SOURCES);
  expect(view.sources.some((s) => s.label === OTHER_SOURCE)).toBe(true);
  expect(view.sources.find((s) => s.label === sourceLabel(A))!.points.length).toBe(MAX_POINTS);
});

test('metric labels are short and plain', () => {
  expect(sourceMetricLabel('CT-EAST · Acme Scan 9 · General "x"')).toBe('ct-east_acme_scan_9_general_x');
  expect(sourceMetricLabel('x'.repeat(300)).length).toBe(64);
  expect(sourceMetricLabel('···')).toBe('unknown');
});
