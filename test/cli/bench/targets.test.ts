// The target ratios (src/cli/bench/targets.ts) from made-up figures:
// values, verdicts, the N=400 fallback, durability checks, errors, gaps.

import { describe, expect, it } from 'vitest';
import { computeTargets, describeTarget, type Roles } from '../../../src/cli/bench/targets.js';
import type { ModernRun, OriginalPoint, Section, ServerInfo } from '../../../src/cli/bench/results.js';

const latency = (avgMs: number) => ({ count: 1, avgMs, p50Ms: avgMs, p99Ms: avgMs, p999Ms: avgMs, minMs: avgMs, maxMs: avgMs });

function point(server: string, section: Section, clients: number, avgMs: number, errors = 0): OriginalPoint {
  return { server, section, clients, requestsPerClient: 1, ok: clients, misses: 0, errors, generatorCpuPct: 10, noreplySets: 0, elapsedMs: 1, throughputOpsPerS: 1, latency: latency(avgMs), byOp: {} };
}

function run(server: string, section: Section, depth: number, ops: number, errors = 0, clients = 50): ModernRun {
  return { server, tool: 'mcl bench', section, clients, depth, durationS: 1, ok: ops, misses: 0, errors, generatorCpuPct: 10, throughputOpsPerS: ops, latency: latency(1), perSecond: [ops] };
}

const servers: ServerInfo[] = [
  { name: 'lite', host: 'h', port: 1, protocol: 'memcached', version: '1.6.18', durability: 'fsync always' },
  { name: 'memcached', host: 'h', port: 2, protocol: 'memcached', version: '1.6.18', durability: null },
  { name: 'redis', host: 'h', port: 3, protocol: 'redis', version: '7.0.15', durability: 'appendonly yes, appendfsync always' },
];
const roles: Roles = { ours: 'lite', memcached: 'memcached', redis: 'redis' };

const original = [
  point('lite', 'get', 50, 1), point('memcached', 'get', 50, 1),
  point('lite', 'get', 400, 3), point('memcached', 'get', 400, 2),
  point('lite', 'set', 400, 9), point('memcached', 'set', 400, 2),
];
const modern = [
  run('lite', 'set', 1, 3000), run('redis', 'set', 1, 1500), run('lite', 'get', 1, 7000), run('memcached', 'get', 1, 10000),
  run('lite', 'set', 16, 20000), run('redis', 'set', 16, 20000), run('lite', 'get', 16, 9000), run('memcached', 'get', 16, 10000),
];

describe('computeTargets', () => {
  it('computes every ratio at N=400 and per depth at 50 clients, with verdicts', () => {
    const t = computeTargets({ original, modern, servers }, roles, 50, [1, 16]);
    expect(t.map((r) => [r.id, r.value, r.met])).toEqual([
      ['original_get_latency_vs_memcached', 1.5, true],
      ['original_durable_set_latency_vs_memcached', 4.5, false],
      ['modern_durable_set_throughput_vs_redis_depth1', 2, true],
      ['modern_get_throughput_vs_memcached_depth1', 0.7, false],
      ['modern_durable_set_throughput_vs_redis_depth16', 1, false],
      ['modern_get_throughput_vs_memcached_depth16', 0.9, true],
    ]);
    expect(t.every((r) => r.note === null)).toBe(true);
    expect(t[0]).toMatchObject({ numerator: 'lite', denominator: 'memcached', comparison: '<=', target: 2, at: 'original, GET, N=400, average latency' });
    expect(t[2]).toMatchObject({ denominator: 'redis', comparison: '>=', target: 1.5, at: 'modern, SET, 50 clients, depth 1, throughput' });
    expect(describeTarget(t[1]!)).toBe('lite / memcached = 4.50 (target <= 3: NOT MET) [original, SET, N=400, average latency]');
  });

  it('falls back to the largest N both servers have, and says so', () => {
    const t = computeTargets({ original: original.filter((p) => p.clients !== 400), modern, servers }, roles, 50, [1]);
    expect(t[0]).toMatchObject({ value: 1, met: true, at: 'original, GET, N=50, average latency', note: 'measured at N=50, the target is at N=400' });
    expect(t[1]).toMatchObject({ value: null, met: null });
  });

  it('does not judge a ratio whose measurements had errors', () => {
    const t = computeTargets({ original: [point('lite', 'get', 400, 3, 5), point('memcached', 'get', 400, 2)], modern, servers }, roles, 50, [1]);
    expect(t[0]).toMatchObject({ value: 1.5, met: null, note: 'not judged: 5 errors in these measurements' });
  });

  it('says when "ours" or Redis is not durable', () => {
    const lax = servers.map((s) => (s.name === 'lite' ? { ...s, durability: 'fsync no' } : s.name === 'redis' ? { ...s, durability: 'appendonly yes, appendfsync everysec' } : s));
    const t = computeTargets({ original, modern, servers: lax }, roles, 50, [1]);
    expect(t[0]!.note).toBeNull();
    expect(t[1]!.note).toBe('lite reports fsync no, not fsync always: this is not a durable SET');
    expect(t[2]!.note).toContain('redis reports appendonly yes, appendfsync everysec, not appendonly yes, appendfsync always');
    expect(t[3]!.note).toBeNull();
  });

  it('leaves a ratio null when a server or a figure is missing', () => {
    const t = computeTargets({ original, modern, servers }, { ours: 'lite', memcached: null, redis: null }, 50, [1]);
    expect(t.map((r) => [r.value, r.met, r.note])).toEqual([
      [null, null, 'no server to compare with'], [null, null, 'no server to compare with'],
      [null, null, 'no server to compare with'], [null, null, 'no server to compare with'],
    ]);
    const other = computeTargets({ original, modern, servers }, roles, 10, [1]);
    expect(other[2]).toMatchObject({ value: null, note: 'a figure it needs was not measured' });
  });
});
