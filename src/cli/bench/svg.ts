// Dependency-free SVG charts for `mcl bench` (the style of bench/plot.mjs:
// plain Helvetica, white background, light grid, values in <title> tooltips).
//
//   lineChart  y against x, one polyline per series (latency vs N, and
//              throughput over time with labelled vertical markers)
//   barChart   groups of bars, one bar per series in each group (throughput)
//
// Invariants: the output is one well-formed standalone <svg> document; every
// text from the caller is XML-escaped; every series appears in the legend and
// draws one <polyline> (line chart) or one <rect class="bar"> per value (bar
// chart), so tests and readers can find it (a line broken by NaN gaps draws
// one <polyline> per unbroken run); the y axis starts at 0.

export const esc = (s: string | number): string =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** 1234 -> 1.2k, 2500000 -> 2.5M; below 10 keeps up to two decimals. */
export function shortNumber(x: number): string {
  if (x >= 1e6) return `${+(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${+(x / 1e3).toFixed(1)}k`;
  return String(x >= 10 ? Math.round(x) : +x.toFixed(2));
}

/** The smallest "round" number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k) >= v. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v * (1 - 1e-12)) return m * p;
  return 10 * p;
}

export const palette = ['#2b6cb0', '#8a94a6', '#c53030', '#38a169', '#d69e2e', '#805ad5', '#dd6b20', '#319795'];

interface Frame {
  title: string;
  subtitle?: string[];
  footer?: string[];
  yLabel: string;
}

const W = 900, H = 580;
const M = { left: 80, right: 210, top: 70, bottom: 130 };
const footer_chars_per_line = 150;
const footer_lines_max = 5;

/** Breaks footer sentences into lines that fit the width (by words). */
export function wrap(texts: string[], width: number): string[] {
  const lines: string[] = [];
  for (const text of texts) {
    let line = '';
    for (const word of text.split(' ')) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    if (line) lines.push(line);
  }
  return lines;
}
const PW = W - M.left - M.right, PH = H - M.top - M.bottom;

function attrs(a: Record<string, string | number>): string {
  return Object.entries(a).map(([k, v]) => ` ${k}="${esc(v)}"`).join('');
}

function el(name: string, a: Record<string, string | number>, body?: string): string {
  return body === undefined ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${body}</${name}>`;
}

/** Document, titles, horizontal grid with y ticks, footer; returns the parts and the y scale. */
function frame(f: Frame, yMax: number): { parts: string[]; y: (v: number) => number } {
  const y = (v: number): number => M.top + PH - (v / yMax) * PH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    el('rect', { width: W, height: H, fill: '#fff' }),
    el('text', { x: M.left, y: 26, 'font-size': 17, 'font-weight': 'bold' }, esc(f.title)),
    ...(f.subtitle ?? []).slice(0, 2).map((t, i) => el('text', { x: M.left, y: 46 + i * 15, fill: '#333' }, esc(t))),
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax / 5) * i;
    parts.push(el('line', { x1: M.left, y1: y(v), x2: M.left + PW, y2: y(v), stroke: i ? '#e5e7eb' : '#333' }));
    parts.push(el('text', { x: M.left - 8, y: y(v) + 4, 'text-anchor': 'end', fill: '#555' }, esc(shortNumber(v))));
  }
  parts.push(el('text', { transform: `translate(18 ${M.top + PH / 2}) rotate(-90)`, 'text-anchor': 'middle', fill: '#333' }, esc(f.yLabel)));
  const foot = wrap(f.footer ?? [], footer_chars_per_line).slice(0, footer_lines_max);
  foot.forEach((t, i) => parts.push(el('text', { x: 18, y: H - 8 - (foot.length - 1 - i) * 13, 'font-size': 10, fill: '#666' }, esc(t))));
  return { parts, y };
}

function legend(names: string[], colorOf: (name: string) => string): string[] {
  return names.flatMap((name, i) => {
    const ly = M.top + 10 + i * 20;
    return [
      el('rect', { x: M.left + PW + 16, y: ly - 10, width: 12, height: 12, fill: colorOf(name) }),
      el('text', { x: M.left + PW + 34, y: ly }, esc(name)),
    ];
  });
}

const close = (parts: string[]): string => `${parts.join('\n')}\n</svg>\n`;

export interface LineSeries {
  name: string;
  color: string;
  /** A point with y NaN breaks the line there (the series goes on after it). */
  points: Array<{ x: number; y: number }>;
}

/** The runs of points between NaN breaks. */
function segments(points: Array<{ x: number; y: number }>): Array<Array<{ x: number; y: number }>> {
  const out: Array<Array<{ x: number; y: number }>> = [[]];
  for (const p of points) {
    if (Number.isNaN(p.y)) out.push([]);
    else out[out.length - 1]!.push(p);
  }
  return out.filter((s) => s.length > 0);
}

export interface LineChart extends Frame {
  xLabel: string;
  series: LineSeries[];
  /** Vertical dashed lines with a label at the top (e.g. where a section starts). */
  markers?: Array<{ x: number; label: string }>;
  /** Tick positions on x (default: every distinct x of the data, at most 12). */
  xTicks?: number[];
  /** Formats a value in a tooltip (default shortNumber). */
  format?: (y: number) => string;
}

export function lineChart(c: LineChart): string {
  const drawn = c.series.map((s) => ({ ...s, segments: segments(s.points) }));
  const dataXs = drawn.flatMap((s) => s.segments.flat().map((p) => p.x));
  const xs = dataXs.concat((c.markers ?? []).map((m) => m.x));
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMax = Math.max(xMin + 1, ...xs);
  const yMax = niceMax(Math.max(0, ...drawn.flatMap((s) => s.segments.flat().map((p) => p.y))) * 1.08);
  const { parts, y } = frame(c, yMax);
  const x = (v: number): number => M.left + ((v - xMin) / (xMax - xMin)) * PW;
  const fmt = c.format ?? shortNumber;
  const distinct = [...new Set(dataXs)].sort((a, b) => a - b);
  const ticks = c.xTicks ?? (distinct.length <= 12 ? distinct : distinct.filter((_, i) => i % Math.ceil(distinct.length / 12) === 0));
  for (const t of ticks) parts.push(el('text', { x: x(t), y: M.top + PH + 18, 'text-anchor': 'middle', fill: '#555' }, esc(shortNumber(t))));
  parts.push(el('text', { x: M.left + PW / 2, y: M.top + PH + 40, 'text-anchor': 'middle', fill: '#333' }, esc(c.xLabel)));
  for (const m of c.markers ?? []) {
    parts.push(el('line', { x1: x(m.x), y1: M.top, x2: x(m.x), y2: M.top + PH, stroke: '#999', 'stroke-dasharray': '4 4' }));
    parts.push(el('text', { x: x(m.x) + 4, y: M.top + 12, fill: '#555' }, esc(m.label)));
  }
  for (const s of drawn) {
    for (const seg of s.segments) {
      const pts = seg.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
      parts.push(el('polyline', { class: 'series', 'data-series': s.name, points: pts, fill: 'none', stroke: s.color, 'stroke-width': 2 }));
    }
    for (const p of s.segments.flat()) {
      parts.push(el('circle', { cx: x(p.x).toFixed(1), cy: y(p.y).toFixed(1), r: 3, fill: s.color }, el('title', {}, esc(`${s.name}: ${fmt(p.y)} at ${shortNumber(p.x)}`))));
    }
  }
  parts.push(...legend(c.series.map((s) => s.name), (n) => c.series.find((s) => s.name === n)!.color));
  return close(parts);
}

export interface BarGroup {
  label: string;
  bars: Array<{ series: string; value: number; tooltip?: string }>;
}

export interface BarChart extends Frame {
  groups: BarGroup[];
  colors: Record<string, string>;
}

export function barChart(c: BarChart): string {
  const yMax = niceMax(Math.max(0, ...c.groups.flatMap((g) => g.bars.map((b) => b.value))) * 1.1);
  const { parts, y } = frame(c, yMax);
  const total = c.groups.reduce((n, g) => n + g.bars.length, 0);
  const gap = 36;
  const barW = Math.min(90, (PW - gap * (c.groups.length + 1)) / Math.max(1, total));
  let x = M.left + gap;
  for (const g of c.groups) {
    const x0 = x;
    for (const b of g.bars) {
      const top = y(b.value);
      parts.push(el('rect', { class: 'bar', 'data-series': b.series, x: (x + 3).toFixed(1), y: top.toFixed(1), width: Math.max(1, barW - 6).toFixed(1), height: (M.top + PH - top).toFixed(1), fill: c.colors[b.series] ?? '#999' },
        el('title', {}, esc(b.tooltip ?? `${b.series} ${g.label}: ${shortNumber(b.value)}`))));
      parts.push(el('text', { x: (x + barW / 2).toFixed(1), y: (top - 5).toFixed(1), 'text-anchor': 'middle', 'font-size': 11, 'font-weight': 'bold' }, esc(shortNumber(b.value))));
      x += barW;
    }
    parts.push(el('text', { x: ((x0 + x) / 2).toFixed(1), y: M.top + PH + 20, 'text-anchor': 'middle', 'font-weight': 'bold' }, esc(g.label)));
    x += gap;
  }
  const names = [...new Set(c.groups.flatMap((g) => g.bars.map((b) => b.series)))];
  parts.push(...legend(names, (n) => c.colors[n] ?? '#999'));
  return close(parts);
}
