import type { EvaluationResult, LambdaPoint } from './evaluation';

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#1b6ca8', '#d37295', '#86bcb6', '#8cd17d'];

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (v: number) => (Math.round(v * 10) / 10).toString();

/** A panel's plotting area in SVG pixels. */
interface PanelBox { x: number; y: number; w: number; h: number }

const ACCURACY_BOX: PanelBox = { x: 60, y: 50, w: 660, h: 300 };
const LAMBDA_BOX: PanelBox = { x: 60, y: 430, w: 660, h: 320 };

function axes(box: PanelBox): string {
  return `<line x1="${box.x}" x2="${box.x}" y1="${box.y}" y2="${box.y + box.h}" stroke="black"/><line x1="${box.x}" x2="${box.x + box.w}" y1="${box.y + box.h}" y2="${box.y + box.h}" stroke="black"/>`;
}

/** Panel (a): one bar per policy in each group (clean splits, then the corrupted mean), with a legend. */
function accuracyPanel(result: EvaluationResult): string[] {
  const parts: string[] = [];
  const clean = result.splits.filter((s) => s.kind === 'clean').map((s) => s.name);
  const groups: { name: string; get: (id: string) => number | null }[] = clean.map((name) => ({ name, get: (id: string) => result.summary[id].clean[name] ?? null }));
  if (result.splits.some((s) => s.kind === 'corrupted')) groups.push({ name: 'corrupted (mean)', get: (id: string) => result.summary[id].corruptedAccuracy });
  const policies = result.policies;
  const a = ACCURACY_BOX;
  const values = groups.flatMap((g) => policies.map((p) => g.get(p.id))).filter((v): v is number => v !== null);
  // From 0: a bar's height is its accuracy, so bars compare at a glance (a floor at 60 % made 66 % look tiny).
  const lo = 0;
  const hi = Math.min(1, Math.ceil((Math.max(...values) + 0.02) * 20) / 20);
  const ya = (v: number) => a.y + a.h - ((v - lo) / (hi - lo || 1)) * a.h;
  parts.push(`<text x="${a.x}" y="${a.y - 10}" font-weight="bold">(a) top-1 accuracy (%) per policy and split</text>`);
  for (let t = 0; t <= 10; t++) {
    const v = lo + ((hi - lo) * t) / 10;
    parts.push(`<line x1="${a.x}" x2="${a.x + a.w}" y1="${f(ya(v))}" y2="${f(ya(v))}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${a.x - 6}" y="${f(ya(v) + 4)}" text-anchor="end">${(100 * v).toFixed(0)}</text>`);
  }
  const groupW = a.w / Math.max(1, groups.length);
  const barW = (groupW * 0.85) / Math.max(1, policies.length);
  groups.forEach((g, gi) => {
    const gx = a.x + gi * groupW + groupW * 0.075;
    policies.forEach((p, pi) => {
      const v = g.get(p.id);
      if (v === null) return;
      const y = ya(Math.max(lo, v));
      parts.push(`<rect x="${f(gx + pi * barW)}" y="${f(y)}" width="${f(barW * 0.9)}" height="${f(a.y + a.h - y)}" fill="${PALETTE[pi % PALETTE.length]}"><title>${esc(`${p.label} on ${g.name}: ${(100 * v).toFixed(1)}%`)}</title></rect>`);
    });
    parts.push(`<text x="${f(a.x + gi * groupW + groupW / 2)}" y="${a.y + a.h + 18}" text-anchor="middle">${esc(g.name)}</text>`);
  });
  parts.push(axes(a));
  policies.forEach((p, pi) => {
    const ly = a.y + 4 + pi * 18;
    parts.push(`<rect x="${a.x + a.w + 20}" y="${ly}" width="12" height="12" fill="${PALETTE[pi % PALETTE.length]}"/><text x="${a.x + a.w + 38}" y="${ly + 10}">${esc(p.label)}</text>`);
  });
  return parts;
}

/** Panel (b)'s scales: λ′ on y (padded around the measured range), severity on x (0 = clean, at least 1–5). */
interface LambdaScales {
  y0: number;
  y1: number;
  maxSeverity: number;
  yb: (v: number) => number;
  xb: (severity: number) => number;
}

function lambdaScales(points: LambdaPoint[], severities: readonly number[]): LambdaScales {
  const b = LAMBDA_BOX;
  const lambdas = points.map((l) => l.t3Lambda as number);
  const lmin = Math.min(...lambdas);
  const lmax = Math.max(...lambdas);
  const pad = Math.max(0.002, (lmax - lmin) * 0.1);
  const y0 = lmin - pad;
  const y1 = lmax + pad;
  const maxSeverity = Math.max(5, ...severities);
  return { y0, y1, maxSeverity, yb: (v) => b.y + b.h - ((v - y0) / (y1 - y0)) * b.h, xb: (s) => b.x + (s / maxSeverity) * b.w };
}

function lambdaGridAndAxes({ y0, y1, maxSeverity, yb, xb }: LambdaScales): string[] {
  const b = LAMBDA_BOX;
  const parts: string[] = [];
  // As many decimals as the tick step needs, so narrow ranges never repeat a label.
  const decimals = Math.max(1, Math.ceil(-Math.log10((y1 - y0) / 8)));
  for (let t = 0; t <= 8; t++) {
    const v = y0 + ((y1 - y0) * t) / 8;
    parts.push(`<line x1="${b.x}" x2="${b.x + b.w}" y1="${f(yb(v))}" y2="${f(yb(v))}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${b.x - 6}" y="${f(yb(v) + 4)}" text-anchor="end">${v.toFixed(decimals)}</text>`);
  }
  for (let s = 0; s <= maxSeverity; s++) {
    parts.push(`<text x="${f(xb(s))}" y="${b.y + b.h + 18}" text-anchor="middle">${s === 0 ? 'clean' : s}</text>`);
  }
  parts.push(`<text x="${b.x + b.w / 2}" y="${b.y + b.h + 36}" text-anchor="middle">severity</text>`);
  parts.push(axes(b));
  return parts;
}

/** The clean splits as dashed reference lines, then one line per corruption starting from the clean base split. */
function lambdaSeries(result: EvaluationResult, points: LambdaPoint[], { yb, xb }: LambdaScales): string[] {
  const b = LAMBDA_BOX;
  const parts: string[] = [];
  const cleanPoints = points.filter((l) => l.severity === 0);
  const baseClean = cleanPoints.find((l) => l.split === result.corruptionBase);
  let legend = 0;
  const legendItem = (colour: string, text: string, dashed: boolean) => {
    const ly = b.y + 4 + legend++ * 18;
    parts.push(`<line x1="${b.x + b.w + 20}" x2="${b.x + b.w + 36}" y1="${ly + 6}" y2="${ly + 6}" stroke="${colour}" stroke-width="2"${dashed ? ' stroke-dasharray="5,3"' : ''}/><text x="${b.x + b.w + 42}" y="${ly + 10}">${esc(text)}</text>`);
  };
  cleanPoints.forEach((l, i) => {
    const colour = i === 0 ? '#555555' : '#999999';
    parts.push(`<line x1="${b.x}" x2="${b.x + b.w}" y1="${f(yb(l.t3Lambda as number))}" y2="${f(yb(l.t3Lambda as number))}" stroke="${colour}" stroke-dasharray="5,3"/>`);
    legendItem(colour, `${l.split} (clean): ${(l.t3Lambda as number).toFixed(4)}`, true);
  });
  result.corruptions.forEach((c, ci) => {
    const colour = PALETTE[ci % PALETTE.length];
    const series = [...(baseClean ? [baseClean] : []), ...points.filter((l) => l.corruption === c.name)].sort((p, q) => p.severity - q.severity);
    const d = series.map((l, i) => `${i === 0 ? 'M' : 'L'}${f(xb(l.severity))},${f(yb(l.t3Lambda as number))}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const l of series) {
      parts.push(`<circle cx="${f(xb(l.severity))}" cy="${f(yb(l.t3Lambda as number))}" r="3" fill="${colour}"><title>${esc(`${c.name} severity ${l.severity}: λ′ ${(l.t3Lambda as number).toFixed(4)}, JS ${(l.js ?? NaN).toFixed(4)}`)}</title></circle>`);
    }
    legendItem(colour, c.name, false);
  });
  return parts;
}

/** Panel (b): mean T3 λ′ against corruption severity (only policies with a T3 λ′ have points). */
function lambdaPanel(result: EvaluationResult): string[] {
  const b = LAMBDA_BOX;
  const points = result.lambdaBySeverity.filter((l) => l.t3Lambda !== null);
  const heading = `<text x="${b.x}" y="${b.y - 10}" font-weight="bold">(b) mean T3 λ′(x) against corruption severity (${esc(result.corruptionBase ?? 'no corruption')}); dashed: clean splits</text>`;
  if (points.length === 0) return [heading, `<text x="${b.x + 20}" y="${b.y + 40}">no T3 results to plot</text>`];
  const scales = lambdaScales(points, result.severities);
  return [heading, ...lambdaGridAndAxes(scales), ...lambdaSeries(result, points, scales)];
}

/**
 * A self-contained SVG with two panels: (a) top-1 accuracy per policy on each clean split and on the corrupted
 * splits (mean), (b) mean T3 λ′ against corruption severity, one line per corruption, with the shifted split's
 * λ as a reference line. Deterministic output (no dates), so regenerating it gives a stable diff.
 */
export function evaluationSvg(result: EvaluationResult, title = 'T3 evaluation'): string {
  const width = 1000;
  const height = 820;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
    ...accuracyPanel(result),
    ...lambdaPanel(result),
    '</svg>',
  ].join('\n') + '\n';
}
