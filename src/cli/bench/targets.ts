// The targets, as ratios computed from a run's figures:
//
//   original, N = 400, connection per request:
//     GET average latency, ours / stock memcached           <= 2
//     durable SET average latency, ours / stock memcached   <= 3
//   modern, persistent connections, 50 clients (each depth measured):
//     durable SET throughput, ours / Redis appendfsync always   >= 1.5
//     GET throughput, ours / stock memcached                    >= 0.8
//
// "ours" is --ours (it must run --fsync always for "durable" to hold; the
// note says so when its reported setting differs), memcached is --memcached,
// Redis the first --redis. Invariants: a ratio whose figures were not both
// measured is null with a note saying why; a ratio with errors in either
// measurement is reported but not judged (met: null); when N = 400 was not
// measured the largest N both servers have is used and the note says so.

import type { BenchResults, ModernRun, OriginalPoint, Section, ServerInfo, TargetResult } from './results.js';

export interface Roles {
  ours: string;
  memcached: string | null;
  redis: string | null;
}

const target_clients_original = 400;

type Figures = Pick<BenchResults, 'original' | 'modern' | 'servers'>;

interface Spec {
  id: string;
  description: string;
  comparison: '<=' | '>=';
  target: number;
}

function judge(spec: Spec, num: string, den: string | null, at: string, pair: { a: number; b: number; errors: number } | null, notes: string[]): TargetResult {
  const base = { ...spec, numerator: num, denominator: den ?? '(none)', at };
  if (!pair || den === null || !(pair.b > 0)) {
    return { ...base, value: null, met: null, note: [...notes, den === null ? 'no server to compare with' : 'a figure it needs was not measured'].join('; ') };
  }
  const value = Math.round((pair.a / pair.b) * 1000) / 1000;
  const met = pair.errors > 0 ? null : spec.comparison === '<=' ? value <= spec.target : value >= spec.target;
  if (pair.errors > 0) notes.push(`not judged: ${pair.errors} errors in these measurements`);
  return { ...base, value, met, note: notes.length ? notes.join('; ') : null };
}

function durableNote(servers: ServerInfo[], name: string, expected: string, what: string): string[] {
  const d = servers.find((s) => s.name === name)?.durability ?? null;
  return d === expected ? [] : [`${name} reports ${d ?? 'no durability setting'}, not ${expected}: this is not ${what}`];
}

function originalRatio(f: Figures, roles: Roles, section: Section, spec: Spec): TargetResult {
  const point = (server: string | null, n: number): OriginalPoint | undefined =>
    f.original.find((p) => p.server === server && p.section === section && p.clients === n);
  const common = [...new Set(f.original.map((p) => p.clients))].filter((n) => point(roles.ours, n) && point(roles.memcached, n));
  const n = common.includes(target_clients_original) ? target_clients_original : Math.max(0, ...common);
  const notes = n !== target_clients_original && n > 0 ? [`measured at N=${n}, the target is at N=${target_clients_original}`] : [];
  if (section === 'set') notes.push(...durableNote(f.servers, roles.ours, 'fsync always', 'a durable SET'));
  const a = point(roles.ours, n), b = point(roles.memcached, n);
  const pair = a && b ? { a: a.latency.avgMs, b: b.latency.avgMs, errors: a.errors + b.errors } : null;
  return judge(spec, roles.ours, roles.memcached, `original, ${section.toUpperCase()}, N=${n || target_clients_original}, average latency`, pair, notes);
}

function modernRatio(f: Figures, roles: Roles, den: string | null, section: Section, clients: number, depth: number, spec: Spec, notes: string[]): TargetResult {
  const run = (server: string | null): ModernRun | undefined =>
    f.modern.find((r) => r.server === server && r.section === section && r.clients === clients && r.depth === depth);
  const a = run(roles.ours), b = run(den);
  const pair = a && b ? { a: a.throughputOpsPerS, b: b.throughputOpsPerS, errors: a.errors + b.errors } : null;
  return judge({ ...spec, id: `${spec.id}_depth${depth}` }, roles.ours, den, `modern, ${section.toUpperCase()}, ${clients} clients, depth ${depth}, throughput`, pair, notes);
}

export function computeTargets(f: Figures, roles: Roles, clients: number, depths: number[]): TargetResult[] {
  const out = [
    originalRatio(f, roles, 'get', { id: 'original_get_latency_vs_memcached', description: 'GET average latency at N=400, connection per request: ours / stock memcached', comparison: '<=', target: 2 }),
    originalRatio(f, roles, 'set', { id: 'original_durable_set_latency_vs_memcached', description: 'durable SET average latency at N=400, connection per request: ours / stock memcached', comparison: '<=', target: 3 }),
  ];
  for (const depth of depths) {
    const setNotes = [
      ...durableNote(f.servers, roles.ours, 'fsync always', 'a durable SET'),
      ...(roles.redis ? durableNote(f.servers, roles.redis, 'appendonly yes, appendfsync always', 'Redis appendfsync always') : []),
    ];
    out.push(modernRatio(f, roles, roles.redis, 'set', clients, depth, { id: 'modern_durable_set_throughput_vs_redis', description: `durable SET throughput, ${clients} persistent clients: ours / Redis appendfsync always`, comparison: '>=', target: 1.5 }, setNotes));
    out.push(modernRatio(f, roles, roles.memcached, 'get', clients, depth, { id: 'modern_get_throughput_vs_memcached', description: `GET throughput, ${clients} persistent clients: ours / stock memcached`, comparison: '>=', target: 0.8 }, []));
  }
  return out;
}

/** One line: "a / b = 1.23 (target <= 2: met) [where]". */
export function describeTarget(t: TargetResult): string {
  const value = t.value === null ? 'not measured' : t.value.toFixed(2);
  const verdict = t.met === null ? 'not judged' : t.met ? 'met' : 'NOT MET';
  return `${t.numerator} / ${t.denominator} = ${value} (target ${t.comparison} ${t.target}: ${verdict}) [${t.at}]`;
}
