// The shape of DIR/results.json, the one record of a `mcl bench` run: what was
// measured, on what, and the target ratios computed from it.
//
// Units are in the names: ...Ms milliseconds, ...S seconds, ...OpsPerS
// completed operations per second. A completed operation is a reply that is
// not an error (a GET miss is completed; misses are counted apart); errors
// (error replies, refused or dropped connections, timeouts) are counted and
// neither timed nor included in throughput.

import type { LatencySummary } from './histogram.js';

export type Section = 'set' | 'get' | 'mixed';
export const sections: readonly Section[] = ['set', 'get', 'mixed'];

export interface Endpoint {
  name: string;
  host: string;
  port: number;
}

/** A server to measure: 'memcached' by mcl bench itself, 'redis' by redis-benchmark. */
export interface Target extends Endpoint {
  protocol: 'memcached' | 'redis';
}

export interface ServerInfo extends Target {
  version: string | null;
  /** What the server reports about durability (fsync mode, appendfsync), or null if it says nothing. */
  durability: string | null;
}

export interface Counts {
  ok: number;
  misses: number;
  errors: number;
  /** The generator's CPU time over the wall time of the measurement (cpu.ts); null for redis-benchmark. */
  generatorCpuPct: number | null;
}

/** One point of the original methodology: N clients, one connection per request. */
export interface OriginalPoint extends Counts {
  server: string;
  section: Section;
  clients: number;
  requestsPerClient: number;
  /** SETs sent with noreply (each followed by `version` on its connection). */
  noreplySets: number;
  elapsedMs: number;
  throughputOpsPerS: number;
  latency: LatencySummary;
  /** The same figures per operation (in the mixed section both are present). */
  byOp: { set?: LatencySummary; get?: LatencySummary };
}

/** One run of the modern methodology: persistent connections, pipelined, fixed duration. */
export interface ModernRun extends Counts {
  server: string;
  tool: 'mcl bench' | 'redis-benchmark';
  section: Section;
  clients: number;
  depth: number;
  durationS: number;
  throughputOpsPerS: number;
  latency: LatencySummary;
  /** Completed operations in each second of the run (empty for redis-benchmark, which does not report them). */
  perSecond: number[];
}

export interface TargetResult {
  id: string;
  description: string;
  numerator: string;
  denominator: string;
  /** Where it was read: e.g. "original, GET, N=400" or "modern, SET, 50 clients, depth 1". */
  at: string;
  value: number | null;
  comparison: '<=' | '>=';
  target: number;
  /** null when a figure it needs was not measured (see note). */
  met: boolean | null;
  note: string | null;
}

export interface BenchResults {
  tool: 'mcl bench';
  schema: 1;
  startedAt: string;
  finishedAt: string;
  config: Record<string, unknown>;
  machine: Record<string, unknown>;
  servers: ServerInfo[];
  original: OriginalPoint[];
  modern: ModernRun[];
  targets: TargetResult[];
  /** The load generator's own health: a busy generator inflates every latency it measures. */
  generator: { eventLoopDelayP99Ms: number; eventLoopDelayMaxMs: number; cpuUserS: number; cpuSystemS: number };
  methodology: string[];
  /** --note texts (e.g. the build measured). */
  notes: string[];
  /** Servers that failed part-way (what they had measured is kept). */
  problems: string[];
}
