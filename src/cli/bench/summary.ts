// The stdout summary of a `mcl bench` run: fixed-width tables of the original
// points and modern runs, the target ratios with their verdicts, problems,
// and the files written. Everything here is also in results.json.

import type { BenchResults } from './results.js';
import { describeTarget } from './targets.js';

function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const numeric = (c: string): boolean => /^-?[\d.]+$|^-$/.test(c);
  return cells.map((r) => r.map((c, i) => (numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

const num = (v: number | null): string => (v === null ? '-' : String(v));


export function formatSummary(r: BenchResults, files: string[]): string {
  const out: string[] = [];
  if (r.original.length > 0) {
    out.push('Original (one connection per request), latency in ms:');
    out.push(table(['server', 'section', 'N', 'avg', 'p50', 'p99', 'p99.9', 'ops/s', 'misses', 'errors', 'gen.cpu%'],
      r.original.map((p) => [p.server, p.section, p.clients, p.latency.avgMs, p.latency.p50Ms, p.latency.p99Ms, num(p.latency.p999Ms), p.throughputOpsPerS, p.misses, p.errors, num(p.generatorCpuPct)])), '');
  }
  if (r.modern.length > 0) {
    out.push('Modern (persistent connections), latency in ms:');
    out.push(table(['server', 'section', 'tool', 'conns', 'depth', 'ops/s', 'avg', 'p50', 'p99', 'p99.9', 'misses', 'errors', 'gen.cpu%'],
      r.modern.map((m) => [m.server, m.section, m.tool, m.clients, m.depth, m.throughputOpsPerS, m.latency.avgMs, m.latency.p50Ms, m.latency.p99Ms, num(m.latency.p999Ms), m.misses, m.errors, num(m.generatorCpuPct)])), '');
  }
  out.push('Targets:', ...r.targets.map((t) => `  ${t.id}: ${describeTarget(t)}${t.note ? ` - ${t.note}` : ''}`), '');
  if (r.problems.length > 0) out.push('Problems:', ...r.problems.map((p) => `  ${p}`), '');
  out.push('gen.cpu%: the load generator\'s own CPU use during the measurement; near 100 it, not the server, limits the load.');
  out.push(`Generator: event-loop delay p99 ${r.generator.eventLoopDelayP99Ms} ms, max ${r.generator.eventLoopDelayMaxMs} ms; CPU ${r.generator.cpuUserS.toFixed(1)} s user, ${r.generator.cpuSystemS.toFixed(1)} s system`);
  out.push('Wrote:', ...files.map((f) => `  ${f}`), '');
  return out.join('\n');
}
