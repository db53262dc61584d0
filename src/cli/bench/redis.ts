// Redis targets of `mcl bench`: Redis does not speak the memcached protocol,
// so it is measured by its own redis-benchmark (on PATH; a child of this
// process, so it inherits the CPU pinning `taskset` gave mcl bench):
//
//   redis-benchmark -h H -p P -t set,get -c CLIENTS -d 50 -P DEPTH -r KEYSPACE -n N --csv
//
// Its SET and GET rows become modern runs of the same results.json. They are
// close to, not the same as, mcl bench's modern runs: redis-benchmark keys are
// "key:" + 12 digits (16 bytes, 10 here), a fixed request count instead of a
// fixed duration (durationS = N / rps), its GET keys are random in the
// keyspace (some may be unset), and it reports p95 and p99 but not p99.9 or
// per-second samples (p999Ms null, perSecond empty).
//
// The server's durability settings are read with redis-cli (CONFIG GET
// appendonly / appendfsync) so the results say what was measured.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Endpoint, ModernRun } from './results.js';

const run = promisify(execFile);
const value_size_bytes = 50;
const run_timeout_ms = 30 * 60 * 1000;

export interface RedisLoad {
  clients: number;
  depth: number;
  requests: number;
  keyspace: number;
}

async function redisCli(target: Endpoint, ...args: string[]): Promise<string | null> {
  try {
    const { stdout } = await run('redis-cli', ['-h', target.host, '-p', String(target.port), ...args], { timeout: 10_000 });
    return stdout;
  } catch {
    return null;
  }
}

/** Version and durability settings; null where redis-cli is missing or the server did not answer. */
export async function redisInfo(target: Endpoint): Promise<{ version: string | null; durability: string | null }> {
  const info = await redisCli(target, 'info', 'server');
  const version = info ? /redis_version:(\S+)/.exec(info)?.[1] ?? null : null;
  const settings = await redisCli(target, '--raw', 'config', 'get', 'append*');
  const words = settings?.split(/\s+/).filter(Boolean) ?? [];
  const setting = (name: string): string | undefined => words[words.indexOf(name) + 1];
  const durability = settings === null || !words.includes('appendonly')
    ? null
    : `appendonly ${setting('appendonly')}, appendfsync ${setting('appendfsync')}`;
  return { version, durability };
}

export function redisBenchmarkArgs(target: Endpoint, load: RedisLoad): string[] {
  return [
    '-h', target.host, '-p', String(target.port), '-t', 'set,get',
    '-c', String(load.clients), '-d', String(value_size_bytes), '-P', String(load.depth),
    '-r', String(load.keyspace), '-n', String(load.requests), '--csv',
  ];
}

const unquote = (field: string): string => field.trim().replace(/^"(.*)"$/, '$1');

/** The SET and GET rows of redis-benchmark --csv output as modern runs. */
export function parseRedisCsv(csv: string, server: string, load: RedisLoad): ModernRun[] {
  const rows = csv.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => l.split(',').map(unquote));
  const header = rows.find((r) => r[0] === 'test');
  if (!header) throw new Error(`redis-benchmark printed no CSV header:\n${csv}`);
  const col = (row: string[], name: string): number => Number(row[header.indexOf(name)]);
  return rows.filter((r) => r[0] === 'SET' || r[0] === 'GET').map((r) => {
    const rps = col(r, 'rps');
    return {
      server, tool: 'redis-benchmark', section: r[0] === 'SET' ? 'set' : 'get',
      clients: load.clients, depth: load.depth,
      durationS: rps > 0 ? Math.round((load.requests / rps) * 1000) / 1000 : 0,
      ok: load.requests, misses: 0, errors: 0, generatorCpuPct: null,
      throughputOpsPerS: Math.round(rps),
      latency: {
        count: load.requests,
        avgMs: col(r, 'avg_latency_ms'), p50Ms: col(r, 'p50_latency_ms'), p99Ms: col(r, 'p99_latency_ms'),
        p999Ms: null, minMs: col(r, 'min_latency_ms'), maxMs: col(r, 'max_latency_ms'),
      },
      perSecond: [],
    } satisfies ModernRun;
  });
}

/** Runs redis-benchmark once (SET then GET) against `target`. */
export async function runRedisBenchmark(target: Endpoint, load: RedisLoad): Promise<ModernRun[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('redis-benchmark', redisBenchmarkArgs(target, load), { timeout: run_timeout_ms, maxBuffer: 1 << 20 }));
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`redis-benchmark against ${target.name} failed: ${e.message}${e.stderr ? `\n${e.stderr}` : ''}`);
  }
  const runs = parseRedisCsv(stdout, target.name, load);
  if (runs.length !== 2) throw new Error(`redis-benchmark against ${target.name}: expected SET and GET rows, got:\n${stdout}`);
  return runs;
}
