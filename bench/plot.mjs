#!/usr/bin/env node
// bench/plot.mjs RESULTS_JSON OUT_SVG
//
// Dependency-free SVG bar chart of a bench/step1.sh results file: throughput
// (median ops/s over rounds, whiskers = min..max of the rounds) per operation
// and server. Measurements marked invalid in the results are drawn hatched and
// labelled "invalid" rather than hidden.
//
//   node bench/plot.mjs bench/out/step1-results.json docs/step1-throughput.svg

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath) {
  console.error('usage: node bench/plot.mjs RESULTS_JSON OUT_SVG');
  process.exit(2);
}
const res = JSON.parse(readFileSync(inPath, 'utf8'));

const SERIES = [
  { key: 'lite', label: 'memcached-lite --fsync always', color: '#2b6cb0' },
  { key: 'memcached', label: 'memcached 1.6 (stock, in memory)', color: '#8a94a6' },
  { key: 'redis', label: 'Redis appendfsync always', color: '#c53030' },
];
const OPS = [
  { key: 'set', label: 'SET (durable where the server persists)' },
  { key: 'get', label: 'GET' },
];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const kfmt = (x) => (x >= 1e6 ? `${+(x / 1e6).toFixed(2)}M` : x >= 1000 ? `${+(x / 1000).toFixed(1)}k` : String(Math.round(x)));

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// bars to draw, grouped by operation
const groups = OPS.map((op) => ({
  ...op,
  bars: SERIES.filter((s) => res.figures?.[s.key]?.[op.key]).map((s) => ({ ...s, f: res.figures[s.key][op.key] })),
})).filter((g) => g.bars.length);

const W = 860, H = 540;
const M = { left: 78, right: 24, top: 92, bottom: 140 };
const PW = W - M.left - M.right, PH = H - M.top - M.bottom;
const yMax = niceMax(Math.max(1, ...groups.flatMap((g) => g.bars.map((b) => Math.max(b.f.ops_per_s_max ?? 0, b.f.ops_per_s_median ?? 0)))) * 1.08);
const y = (v) => M.top + PH - (v / yMax) * PH;

const out = [];
out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
out.push('<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#fff"/><line x1="0" y1="0" x2="0" y2="8" stroke="#999" stroke-width="3"/></pattern></defs>');
out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);

// title and ratio subtitle
out.push(`<text x="${M.left}" y="26" font-size="17" font-weight="bold">Throughput at 50 connections (16-byte keys, 50-byte values)</text>`);
const ratioText = Object.values(res.ratios ?? {}).filter((r) => r.threshold !== null).map((r) => {
  const v = r.value === null || !r.valid ? '–' : r.value.toFixed(2);
  const verdict = !r.valid ? `not measurable: invalid data; goal ≥ ${r.threshold}` : r.met ? `goal ≥ ${r.threshold} met` : `goal ≥ ${r.threshold} NOT met`;
  const short = r.name.replace(/ appendfsync-always/, '-always').replace(/memcached-lite/, 'lite');
  return `${short} = ${v} (${verdict})`;
});
ratioText.forEach((t, i) => out.push(`<text x="${M.left}" y="${48 + i * 17}" fill="#333">${esc(t)}</text>`));

// axes and grid
const ticks = 5;
for (let i = 0; i <= ticks; i++) {
  const v = (yMax / ticks) * i, yy = y(v);
  out.push(`<line x1="${M.left}" y1="${yy}" x2="${W - M.right}" y2="${yy}" stroke="${i ? '#e5e7eb' : '#333'}"/>`);
  out.push(`<text x="${M.left - 8}" y="${yy + 4}" text-anchor="end" fill="#555">${kfmt(v)}</text>`);
}
out.push(`<text transform="translate(18 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle" fill="#333">operations per second (median of rounds)</text>`);

// bars
const totalBars = groups.reduce((a, g) => a + g.bars.length, 0);
const gap = 56;
const barW = Math.min(110, (PW - gap * (groups.length + 1)) / Math.max(1, totalBars));
let x = M.left + gap;
for (const g of groups) {
  const gx0 = x;
  for (const b of g.bars) {
    const f = b.f, med = f.ops_per_s_median ?? 0;
    const top = y(med), h = M.top + PH - top;
    const fill = f.valid ? b.color : 'url(#hatch)';
    out.push(`<rect x="${x + 4}" y="${top}" width="${barW - 8}" height="${Math.max(0, h)}" fill="${fill}" stroke="${b.color}" stroke-width="${f.valid ? 0 : 2}"><title>${esc(`${b.label} ${g.key.toUpperCase()}: median ${Math.round(med)} ops/s, rounds ${f.ops_per_s_by_round.join(', ')}${f.valid ? '' : ' - INVALID: ' + f.problems.join('; ')}`)}</title></rect>`);
    if (f.ops_per_s_min !== null && f.ops_per_s_max !== null && f.ops_per_s_max > f.ops_per_s_min) {
      const cx = x + barW / 2;
      out.push(`<path d="M${cx} ${y(f.ops_per_s_min)}V${y(f.ops_per_s_max)}M${cx - 6} ${y(f.ops_per_s_min)}H${cx + 6}M${cx - 6} ${y(f.ops_per_s_max)}H${cx + 6}" stroke="#222" stroke-width="1.2" fill="none"/>`);
    }
    const labelY = Math.min(top, f.ops_per_s_max !== null ? y(f.ops_per_s_max) : top) - 6;
    if (f.valid) out.push(`<text x="${x + barW / 2}" y="${labelY}" text-anchor="middle" font-weight="bold">${kfmt(med)}</text>`);
    else {
      out.push(`<text x="${x + barW / 2}" y="${labelY}" text-anchor="middle" fill="#777">${kfmt(med)} (not valid)</text>`);
      out.push(`<text x="${x + barW / 2}" y="${labelY - 15}" text-anchor="middle" fill="#c53030" font-weight="bold">invalid: errors</text>`);
    }
    x += barW;
  }
  out.push(`<text x="${(gx0 + x) / 2}" y="${M.top + PH + 20}" text-anchor="middle" font-weight="bold">${esc(g.label)}</text>`);
  x += gap;
}

// legend
let lx = M.left;
const ly = M.top + PH + 44;
for (const s of SERIES.filter((s) => groups.some((g) => g.bars.some((b) => b.key === s.key)))) {
  out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`);
  out.push(`<text x="${lx + 17}" y="${ly}">${esc(s.label)}</text>`);
  lx += 34 + s.label.length * 6.3;
}
if (groups.some((g) => g.bars.some((b) => !b.f.valid))) {
  out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="url(#hatch)" stroke="#666"/>`);
  out.push(`<text x="${lx + 17}" y="${ly}">invalid (errors)</text>`);
}

// footer: how and where
const m = res.machine ?? {}, c = res.config ?? {};
const foot = [
  `Load: memcaslap (libmemcached-tools ${m.tools?.libmemcached_tools ?? '?'}) -c ${c.concurrency} -T 1 -w ${c.memcaslap_window_per_connection} -t ${c.duration_s}s; redis-benchmark -t set -c ${c.concurrency} -d 50 -r 1000000 -n ${c.redis_requests}.`,
  `Servers pinned to CPU ${c.server_cpu}, load generators to CPU ${c.load_cpu}; ${c.rounds} round(s)${c.quick ? ' (QUICK)' : ''}, bars = median, whiskers = min..max of rounds.`,
  `${m.nproc} CPUs ${m.cpu_model ?? ''}, ${(m.uname ?? '').split(' ').slice(0, 3).join(' ')}, Node ${m.node}, ${m.date ?? ''}; data dirs on ${m.data_dir_filesystem ?? '?'}.`,
  `Shared, noisy machine (load average ${m.loadavg_start} at start, ${m.loadavg_end} at end). Generated by bench/step1.sh and bench/plot.mjs.`,
];
foot.forEach((t, i) => out.push(`<text x="18" y="${H - 62 + i * 14}" font-size="10" fill="#666">${esc(t)}</text>`));

out.push('</svg>');
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, out.join('\n') + '\n');
console.log(`wrote ${outPath}`);
