// redis-benchmark as mcl bench runs it (src/cli/bench/redis.ts): its command
// line, and its --csv output (as redis-benchmark 7.0.15 prints it) read into
// modern runs.

import { describe, expect, it } from 'vitest';
import { parseRedisCsv, redisBenchmarkArgs } from '../../../src/cli/bench/redis.js';

const load = { clients: 50, depth: 4, requests: 2000, keyspace: 1000 };

describe('redis-benchmark', () => {
  it('is run with SET and GET, 50-byte values, the clients, depth, keyspace and count asked for', () => {
    expect(redisBenchmarkArgs({ name: 'r', host: '127.0.0.1', port: 6380 }, load)).toEqual(
      ['-h', '127.0.0.1', '-p', '6380', '-t', 'set,get', '-c', '50', '-d', '50', '-P', '4', '-r', '1000', '-n', '2000', '--csv']);
  });

  it('reads its CSV rows into SET and GET runs', () => {
    const csv = [
      '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
      '"SET","12578.62","3.134","0.488","2.911","7.879","9.743","13.319"',
      '"GET","142857.14","0.169","0.032","0.167","0.287","0.375","0.431"',
      '',
    ].join('\n');
    const [set, get] = parseRedisCsv(csv, 'redis', load);
    expect(set).toEqual({
      server: 'redis', tool: 'redis-benchmark', section: 'set', clients: 50, depth: 4, durationS: 0.159,
      ok: 2000, misses: 0, errors: 0, generatorCpuPct: null, throughputOpsPerS: 12579,
      latency: { count: 2000, avgMs: 3.134, p50Ms: 2.911, p99Ms: 9.743, p999Ms: null, minMs: 0.488, maxMs: 13.319 },
      perSecond: [],
    });
    expect(get).toMatchObject({ section: 'get', throughputOpsPerS: 142857, latency: { p99Ms: 0.375 } });
  });

  it('refuses output without a CSV header', () => {
    expect(() => parseRedisCsv('Could not connect to Redis at 127.0.0.1:1: Connection refused\n', 'r', load)).toThrow(/no CSV header/);
  });
});
