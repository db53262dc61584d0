// `mcl bench`: measures the given servers one after another, in command-line
// order (original then modern methodology for a memcached-protocol server,
// redis-benchmark for a Redis server), computes the target ratios, and writes
// DIR/results.json, the SVG plots, and a summary on stdout. Progress goes to
// stderr.
//
// Exit status: 0 all measured without errors; 1 measured, but with errors or
// a server that failed part-way (results.json says which, in `problems` and
// the error counts); 2 bad usage; 3 a target did not answer before the run.
//
// Invariants: one server is under load at a time; results.json is written
// even when a server fails part-way (with what was measured); the generator's
// own event-loop delay and CPU time are recorded, since a saturated generator
// inflates every latency it measures.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { benchUsage, BenchUsageError, parseBenchArgs, type BenchOptions } from './args.js';
import { Keyspace, runModern, Written } from './modern.js';
import { clientKeys, runOriginalPoint } from './original.js';
import { writeCharts } from './plots.js';
import { memcachedInfo } from './probe.js';
import { Progress } from './progress.js';
import { redisInfo, runRedisBenchmark } from './redis.js';
import { sections, type BenchResults, type Endpoint, type ModernRun, type OriginalPoint, type ServerInfo, type Target } from './results.js';
import { formatSummary } from './summary.js';
import { computeTargets } from './targets.js';

export interface BenchIo {
  stdout: (text: string) => void;
  stderr: { isTTY?: boolean; write(text: string): unknown };
}

const methodology = [
  'original: for each N, N concurrent clients each send their requests one after another, every request on a new TCP connection (connect, send, read the reply, close); latency runs from connect() to the complete reply. Sections: SET of fresh keys, GET of those keys, SET+GET mixed in random order. Keys 10 and values 50 random characters. Half the SETs (at random) carry noreply and are followed on their connection by `version`, whose reply times them: it comes only after the server handled the SET (in memcached-lite, after it is durable).',
  'modern: CLIENTS persistent connections, each sending batches of DEPTH pipelined requests and the next batch when all replies arrived; each section runs for a fixed duration; latency runs from the batch write to the reply; completed operations are counted per second. SET writes random keys of a fixed keyspace, GET reads random keys this server acknowledged, mixed is half of each.',
  'redis: redis-benchmark -t set,get -c CLIENTS -d 50 -P DEPTH -r KEYSPACE -n N (its keys are 16 bytes; it reports no p99.9 and no per-second samples).',
  'throughput counts completed operations (GET misses included, errors not) per second of the run; errors are counted and not timed.',
];

class Recorder {
  readonly original: OriginalPoint[] = [];
  readonly modern: ModernRun[] = [];
  readonly problems: string[] = [];
}

function stepCount(o: BenchOptions): number {
  const perServer = (o.methods.includes('original') ? o.ns.length * sections.length : 0) + (o.methods.includes('modern') ? o.depths.length * sections.length : 0);
  const perRedis = o.methods.includes('modern') ? o.depths.length : 0;
  return o.targets.reduce((n, t) => n + (t.protocol === 'redis' ? perRedis : perServer), 0);
}

async function measureOriginal(target: Endpoint, o: BenchOptions, progress: Progress, rec: Recorder): Promise<void> {
  for (const n of o.ns) {
    const keys = clientKeys(o.seed, n, o.requests);
    for (const section of sections) {
      progress.begin(`${target.name}: original ${section.toUpperCase()} N=${n} (${n * o.requests} connections)`, n * o.requests);
      rec.original.push(await runOriginalPoint({ target, section, keys, seed: o.seed, timeoutMs: o.timeoutMs, onProgress: (d) => progress.update(d) }));
    }
  }
}

async function measureModern(target: Endpoint, o: BenchOptions, keys: Keyspace, progress: Progress, rec: Recorder): Promise<void> {
  const written = new Written(keys.size);
  for (const depth of o.depths) {
    for (const section of sections) {
      progress.begin(`${target.name}: modern ${section.toUpperCase()} ${o.clients} conns depth ${depth} (${o.durationS} s)`, o.durationS * 1000);
      rec.modern.push(await runModern({ target, section, clients: o.clients, depth, durationS: o.durationS, keys, written, seed: o.seed, timeoutMs: o.timeoutMs, onProgress: (ms) => progress.update(ms) }));
    }
  }
}

async function measureRedis(target: Endpoint, o: BenchOptions, progress: Progress, rec: Recorder): Promise<void> {
  for (const depth of o.depths) {
    progress.begin(`${target.name}: redis-benchmark SET,GET ${o.clients} conns depth ${depth} (${o.redisRequests} requests each)`, 1);
    rec.modern.push(...await runRedisBenchmark(target, { clients: o.clients, depth, requests: o.redisRequests, keyspace: o.keyspace }));
  }
}

/** Runs `measure`; a failure becomes a recorded problem, and the run goes on with the next server. */
async function guarded(name: string, rec: Recorder, measure: () => Promise<void>): Promise<void> {
  try {
    await measure();
  } catch (err) {
    rec.problems.push(`${name}: ${(err as Error).message}`);
  }
}

async function describe(t: Target, timeoutMs: number): Promise<ServerInfo> {
  if (t.protocol === 'redis') return { ...t, ...await redisInfo(t) };
  try {
    return { ...t, ...await memcachedInfo(t.host, t.port, timeoutMs) };
  } catch (err) {
    throw new Error(`${t.name} (${t.host}:${t.port}) does not answer: ${(err as Error).message}`);
  }
}

function cpusAllowed(): string | null {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

function machine(): Record<string, unknown> {
  return {
    nproc: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    generatorCpus: cpusAllowed(),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadavgStart: os.loadavg()[0]!.toFixed(2),
  };
}

async function measureAll(o: BenchOptions, progress: Progress, rec: Recorder): Promise<void> {
  const modern = o.methods.includes('modern');
  const keys = modern && o.targets.some((t) => t.protocol === 'memcached') ? new Keyspace(o.seed, o.keyspace) : null;
  for (const t of o.targets) {
    if (t.protocol === 'redis') {
      if (modern) await guarded(t.name, rec, () => measureRedis(t, o, progress, rec));
      continue;
    }
    if (o.methods.includes('original')) await guarded(t.name, rec, () => measureOriginal(t, o, progress, rec));
    if (keys) await guarded(t.name, rec, () => measureModern(t, o, keys, progress, rec));
  }
  progress.end();
}

/** Watches the generator's event loop and CPU time; the returned function stops and reports. */
function watchGenerator(): () => BenchResults['generator'] {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const cpu0 = process.cpuUsage();
  return () => {
    delay.disable();
    const cpu = process.cpuUsage(cpu0);
    const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;
    return { eventLoopDelayP99Ms: ms(delay.percentile(99)), eventLoopDelayMaxMs: ms(delay.max), cpuUserS: cpu.user / 1e6, cpuSystemS: cpu.system / 1e6 };
  };
}

type Run = Pick<BenchResults, 'startedAt' | 'machine' | 'servers' | 'generator'>;

function assemble(o: BenchOptions, rec: Recorder, run: Run): BenchResults {
  const { targets, notes, ...config } = o;
  const figures = { original: rec.original, modern: rec.modern, servers: run.servers };
  const roles = { ours: o.ours, memcached: o.memcached, redis: targets.find((t) => t.protocol === 'redis')?.name ?? null };
  return {
    tool: 'mcl bench', schema: 1, startedAt: run.startedAt, finishedAt: new Date().toISOString(),
    config,
    machine: { ...run.machine, loadavgEnd: os.loadavg()[0]!.toFixed(2) },
    ...figures,
    targets: computeTargets(figures, roles, o.clients, o.depths),
    generator: run.generator,
    methodology,
    notes,
    problems: rec.problems,
  };
}

async function bench(o: BenchOptions, io: BenchIo): Promise<number> {
  let servers: ServerInfo[];
  try {
    servers = await Promise.all(o.targets.map((t) => describe(t, o.timeoutMs)));
  } catch (err) {
    io.stderr.write(`mcl bench: ${(err as Error).message}\n`);
    return 3;
  }
  mkdirSync(o.outDir, { recursive: true });
  const started = { startedAt: new Date().toISOString(), machine: machine() };
  const stopWatching = watchGenerator();
  const rec = new Recorder();
  await measureAll(o, new Progress(o.progress ? io.stderr : null, stepCount(o)), rec);
  const results = assemble(o, rec, { ...started, servers, generator: stopWatching() });
  writeFileSync(join(o.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const files = writeCharts(results, o.outDir);
  io.stdout(formatSummary(results, ['results.json', ...files].map((f) => join(o.outDir, f))));
  const errors = [...rec.original, ...rec.modern].reduce((n, p) => n + p.errors, 0);
  return rec.problems.length > 0 || errors > 0 ? 1 : 0;
}

const defaultIo: BenchIo = { stdout: (t) => process.stdout.write(t), stderr: process.stderr };

/** Entry point of `mcl bench ARGS`; resolves to the exit status. */
export async function runBench(argv: string[], io: BenchIo = defaultIo): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv);
  } catch (err) {
    if (!(err instanceof BenchUsageError)) throw err;
    if (err.message) io.stderr.write(`mcl bench: ${err.message}\n`);
    io.stderr.write(benchUsage);
    return err.message ? 2 : 0;
  }
  return bench(options, io);
}
