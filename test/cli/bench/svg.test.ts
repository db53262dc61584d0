// The SVG writer of mcl bench (src/cli/bench/svg.ts) and the charts drawn
// from a results file (plots.ts): well-formed documents that hold every
// series, escaped text, broken lines where asked, and the right files.

import { describe, expect, it } from 'vitest';
import { barChart, lineChart, niceMax, shortNumber, wrap } from '../../../src/cli/bench/svg.js';
import { charts } from '../../../src/cli/bench/plots.js';
import type { BenchResults, ModernRun, OriginalPoint } from '../../../src/cli/bench/results.js';
import { xmlProblem } from './xml.js';

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

describe('xmlProblem (the checker these tests rely on)', () => {
  it('accepts well-formed XML and names what is wrong otherwise', () => {
    expect(xmlProblem('<svg a="1"><g><text>x &amp; y</text></g><rect/></svg>\n')).toBeNull();
    expect(xmlProblem('<svg><g></svg>')).toMatch(/closes nothing/);
    expect(xmlProblem('<svg><text>a < b</text></svg>')).toMatch(/malformed tag/);
    expect(xmlProblem('<svg><text>a & b</text></svg>')).toMatch(/stray &/);
    expect(xmlProblem('<svg a="1" a="2"/>')).toMatch(/repeated/);
    expect(xmlProblem('<svg/><svg/>')).toMatch(/more than one root/);
    expect(xmlProblem('<svg>')).toMatch(/never closed/);
  });
});

describe('helpers', () => {
  it('niceMax rounds up to 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k', () => {
    expect([0, 0.7, 1, 1.1, 7, 9, 11, 26, 4100, 8001].map(niceMax)).toEqual([1, 0.8, 1, 1.2, 8, 10, 12, 30, 5000, 10000]);
  });

  it('shortNumber abbreviates', () => {
    expect([0.125, 3, 12.4, 1234, 2_500_000].map(shortNumber)).toEqual(['0.13', '3', '12', '1.2k', '2.5M']);
  });

  it('wrap breaks at words within the width, keeping every word', () => {
    const lines = wrap(['alpha beta gamma delta', 'epsilon'], 11);
    expect(lines).toEqual(['alpha beta', 'gamma delta', 'epsilon']);
  });
});

describe('lineChart', () => {
  const chart = lineChart({
    title: 'GET <latency> & more', yLabel: 'ms', xLabel: 'N', footer: ['a "quoted" footer'],
    series: [
      { name: 'lite<1>', color: '#111', points: [{ x: 50, y: 1 }, { x: 100, y: 2 }, { x: 400, y: 9.5 }] },
      { name: 'memcached', color: '#222', points: [{ x: 50, y: 0.5 }, { x: 100, y: NaN }, { x: 400, y: 3 }, { x: 450, y: 4 }] },
    ],
    markers: [{ x: 75, label: 'GET & co' }],
  });

  it('is well-formed with every title, label and series name escaped', () => {
    expect(xmlProblem(chart)).toBeNull();
    expect(chart).toContain('GET &lt;latency&gt; &amp; more');
    expect(chart).toContain('>lite&lt;1&gt;</text>');
    expect(chart).toContain('a &quot;quoted&quot; footer');
    expect(chart).toContain('GET &amp; co');
  });

  it('draws one polyline per unbroken run of each series, a dot per point, and a legend entry per series', () => {
    expect(count(chart, /<polyline class="series" data-series="lite&lt;1&gt;"/g)).toBe(1);
    expect(count(chart, /<polyline class="series" data-series="memcached"/g)).toBe(2);
    expect(count(chart, /<circle /g)).toBe(6);
    expect(chart).toMatch(/<text[^>]*>memcached<\/text>/);
  });

  it('puts the highest point inside the plot and the zero line at its bottom', () => {
    const ys = [...chart.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Math.min(...ys)).toBeGreaterThan(70);
    expect(Math.max(...ys)).toBeLessThanOrEqual(450);
  });
});

describe('barChart', () => {
  it('draws one bar per value with its series, labelled, well-formed', () => {
    const svg = barChart({
      title: 'T', yLabel: 'ops/s', colors: { a: '#111', b: '#222' },
      groups: [{ label: 'SET', bars: [{ series: 'a', value: 1000 }, { series: 'b', value: 2500 }] }, { label: 'GET', bars: [{ series: 'a', value: 40 }] }],
    });
    expect(xmlProblem(svg)).toBeNull();
    expect(count(svg, /<rect class="bar" data-series="a"/g)).toBe(2);
    expect(count(svg, /<rect class="bar" data-series="b"/g)).toBe(1);
    expect(svg).toContain('>2.5k</text>');
    expect(svg).toContain('>SET</text>');
    const heights = [...svg.matchAll(/class="bar" data-series="\w" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(heights[1]! / heights[0]!).toBeCloseTo(2.5, 1);
  });
});

describe('charts from a results file', () => {
  const latency = (avgMs: number) => ({ count: 10, avgMs, p50Ms: avgMs, p99Ms: avgMs * 2, p999Ms: avgMs * 3, minMs: 0.1, maxMs: avgMs * 4 });
  const point = (server: string, section: OriginalPoint['section'], clients: number, avgMs: number): OriginalPoint => ({
    server, section, clients, requestsPerClient: 2, ok: 2 * clients, misses: 0, errors: 0, generatorCpuPct: 50, noreplySets: 0,
    elapsedMs: 10, throughputOpsPerS: 100, latency: latency(avgMs), byOp: {},
  });
  const run = (server: string, section: ModernRun['section'], depth: number, ops: number, tool: ModernRun['tool'] = 'mcl bench'): ModernRun => ({
    server, tool, section, clients: 50, depth, durationS: 2, ok: ops * 2, misses: 0, errors: 0, generatorCpuPct: null,
    throughputOpsPerS: ops, latency: latency(1), perSecond: tool === 'mcl bench' ? [ops, ops] : [],
  });
  const results: BenchResults = {
    tool: 'mcl bench', schema: 1, startedAt: 's', finishedAt: 'f', config: { quick: true, requests: 2 }, machine: { nproc: 2 },
    servers: [
      { name: 'lite', host: 'h', port: 1, protocol: 'memcached', version: '1.6.18', durability: 'fsync always' },
      { name: 'memcached', host: 'h', port: 2, protocol: 'memcached', version: '1.6.18', durability: null },
      { name: 'redis', host: 'h', port: 3, protocol: 'redis', version: '7', durability: 'appendonly yes, appendfsync always' },
    ],
    original: ['lite', 'memcached'].flatMap((s) => (['set', 'get', 'mixed'] as const).flatMap((sec) => [point(s, sec, 50, 1), point(s, sec, 400, 3)])),
    modern: [
      ...['lite', 'memcached'].flatMap((s) => (['set', 'get', 'mixed'] as const).flatMap((sec) => [run(s, sec, 1, 1000), run(s, sec, 16, 5000)])),
      run('redis', 'set', 1, 700, 'redis-benchmark'), run('redis', 'get', 1, 900, 'redis-benchmark'),
    ],
    targets: [{ id: 'original_get_latency_vs_memcached', description: 'd', numerator: 'lite', denominator: 'memcached', at: 'original, GET, N=400', value: 1, comparison: '<=', target: 2, met: true, note: null }],
    generator: { eventLoopDelayP99Ms: 1, eventLoopDelayMaxMs: 2, cpuUserS: 1, cpuSystemS: 1 },
    methodology: [], notes: [], problems: [],
  };

  it('writes latency charts per section and metric, and throughput and timeline charts per depth, all well-formed', () => {
    const all = charts(results);
    expect(all.map((c) => c.file).sort()).toEqual([
      'modern-throughput-d1.svg', 'modern-throughput-d16.svg', 'modern-timeline-d1.svg', 'modern-timeline-d16.svg',
      'original-get-avg.svg', 'original-get-p99.svg', 'original-mixed-avg.svg', 'original-mixed-p99.svg', 'original-set-avg.svg', 'original-set-p99.svg',
    ]);
    for (const c of all) expect(xmlProblem(c.svg), c.file).toBeNull();
  });

  it('shows each server as a series and the targets that concern the chart', () => {
    const byFile = new Map(charts(results).map((c) => [c.file, c.svg]));
    const getAvg = byFile.get('original-get-avg.svg')!;
    expect(count(getAvg, /<polyline class="series" data-series="lite"/g)).toBe(1);
    expect(count(getAvg, /<polyline class="series" data-series="memcached"/g)).toBe(1);
    expect(getAvg).toContain('lite / memcached = 1.00 (target &lt;= 2: met)');
    expect(byFile.get('original-set-avg.svg')).not.toContain('lite / memcached = 1.00');
    const bars = byFile.get('modern-throughput-d1.svg')!;
    expect(count(bars, /<rect class="bar" data-series="lite"/g)).toBe(3);
    expect(count(bars, /<rect class="bar" data-series="redis"/g)).toBe(2);
    expect(count(byFile.get('modern-throughput-d16.svg')!, /data-series="redis"/g)).toBe(0);
    const timeline = byFile.get('modern-timeline-d1.svg')!;
    expect(count(timeline, /<polyline class="series" data-series="lite"/g)).toBe(3);
    expect(timeline).not.toContain('data-series="redis"');
  });

  it('gives the --ours server the first colour and keeps every colour the same across files', () => {
    const stroke = (svg: string, name: string): string | undefined => new RegExp(`data-series="${name}" points="[^"]*" fill="none" stroke="(#\\w+)"`).exec(svg)?.[1];
    const ours = charts({ ...results, config: { ...results.config, ours: 'memcached' } });
    for (const c of ours.filter((x) => x.file.startsWith('original-'))) {
      expect(stroke(c.svg, 'memcached'), c.file).toBe('#2b6cb0');
      expect(stroke(c.svg, 'lite'), c.file).toBe('#8a94a6');
    }
    const plain = charts(results).find((c) => c.file === 'original-set-avg.svg')!.svg;
    expect(stroke(plain, 'lite')).toBe('#2b6cb0');
  });
});
