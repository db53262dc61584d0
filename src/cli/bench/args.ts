// Command line of `mcl bench`: targets, output directory, and the knobs of the
// two methodologies, with --quick defaults for a smoke run.
//
// Invariants of a parsed BenchOptions: at least one target; target names are
// unique; every number is a positive integer (duration may be fractional);
// --ours and --memcached, when given, name a --server.

import type { Endpoint, Target } from './results.js';

export class BenchUsageError extends Error {}

export type Method = 'original' | 'modern';

export interface BenchOptions {
  /** In command-line order, which is the order they are measured in. */
  targets: Target[];
  outDir: string;
  quick: boolean;
  methods: Method[];
  /** Original: concurrent clients per point. */
  ns: number[];
  /** Original: requests per client per section. */
  requests: number;
  /** Modern: persistent connections. */
  clients: number;
  depths: number[];
  durationS: number;
  keyspace: number;
  redisRequests: number;
  seed: number;
  timeoutMs: number;
  progress: boolean;
  /** Numerator of the target ratios (default: the first --server). */
  ours: string;
  /** Stock memcached for the target ratios (default: a server named "memcached"). */
  memcached: string | null;
  /** Free text recorded in results.json (e.g. which build was measured). */
  notes: string[];
}

export const benchUsage = `Usage: mcl bench --server [NAME=]HOST:PORT [--server ...] [--redis [NAME=]HOST:PORT]
                 --out DIR [--quick] [options]

Measures the servers one after another, in command-line order, with two
methodologies, and writes DIR/results.json and SVG plots into DIR.

  original  N concurrent clients (--ns), each sending --requests requests per
            section, every request on a new connection (connect, send, read
            the reply, close); sections SET, GET of those keys, and SET+GET
            mixed in random order; 10-character keys, 50-character values;
            half the SETs noreply, each followed by \`version\` on its connection
            (its reply times the SET, which the server handles first).
  modern    --clients persistent connections, --depths pipelining depths
            (a batch of DEPTH requests, then wait for all its replies), each
            section run for --duration seconds; throughput per second.

Targets:
  --server [NAME=]HOST:PORT   memcached-protocol server (repeatable)
  --redis [NAME=]HOST:PORT    Redis server, measured with redis-benchmark
                              (-t set,get -c CLIENTS -d 50 -P DEPTH), modern only
  --ours NAME                 server the target ratios are about (default: the first --server)
  --memcached NAME            stock memcached to compare with (default: the server named memcached)

Output:
  --out DIR                   results.json and *.svg go here (created)
  --no-progress               no progress bar on stderr
  --note TEXT                 recorded in results.json (repeatable)

Load (defaults; --quick defaults in brackets):
  --methods LIST              original,modern
  --ns LIST                   original client counts (50,100,...,400 [50,400])
  --requests N                original requests per client per section (20 [4])
  --clients N                 modern connections (50)
  --depths LIST               modern pipelining depths (1,16 [1]); --depth is the same
  --duration S                modern seconds per section (10 [2])
  --keyspace N                modern distinct keys (100000 [10000])
  --redis-requests N          redis-benchmark -n per test (100000 [20000])
  --seed N                    random seed for keys, values and choices (1)
  --timeout MS                a request taking longer is an error (10000)
`;

const defaults = {
  full: { ns: [50, 100, 150, 200, 250, 300, 350, 400], requests: 20, depths: [1, 16], durationS: 10, keyspace: 100_000, redisRequests: 100_000 },
  quick: { ns: [50, 400], requests: 4, depths: [1], durationS: 2, keyspace: 10_000, redisRequests: 20_000 },
};

/** `[NAME=]HOST:PORT`; HOST may be an IPv6 address in brackets. NAME defaults to HOST:PORT. */
export function parseEndpoint(spec: string, option: string): Endpoint {
  const eq = spec.indexOf('=');
  const address = eq >= 0 ? spec.slice(eq + 1) : spec;
  const name = eq >= 0 ? spec.slice(0, eq) : spec;
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, Math.max(0, colon)).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !host || !/^\d+$/.test(address.slice(colon + 1)) || port < 1 || port > 65535) {
    throw new BenchUsageError(`${option}: '${spec}' is not [NAME=]HOST:PORT`);
  }
  if (!/^[\w.:@\[\]-]+$/.test(name)) throw new BenchUsageError(`${option}: name '${name}' may use only letters, digits and . _ - : @`);
  return { name, host, port };
}

function positiveInt(value: string, option: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new BenchUsageError(`${option}: '${value}' is not a positive whole number`);
  return n;
}

function positiveIntList(value: string, option: string): number[] {
  const list = value.split(',').map((v) => positiveInt(v.trim(), option));
  return [...new Set(list)].sort((a, b) => a - b);
}

function seconds(value: string, option: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0)) throw new BenchUsageError(`${option}: '${value}' is not a positive number of seconds`);
  return n;
}

function methods(value: string, option: string): Method[] {
  const list = value.split(',').map((v) => v.trim());
  for (const m of list) if (m !== 'original' && m !== 'modern') throw new BenchUsageError(`${option}: unknown method '${m}' (original, modern)`);
  return [...new Set(list as Method[])];
}

const valued_options = new Set(['out', 'methods', 'ns', 'requests', 'clients', 'depths', 'duration', 'keyspace', 'redis-requests', 'seed', 'timeout', 'ours', 'memcached']);
const aliases: Record<string, string> = { depth: 'depths' };

interface Raw { values: Map<string, string>; targets: Target[]; notes: string[]; flags: Set<string> }

/** Splits argv into repeatable targets, single-valued options (--opt V or --opt=V; the last wins) and flags. */
function collect(argv: string[]): Raw {
  const raw: Raw = { values: new Map(), targets: [], notes: [], flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help' || arg === '--quick' || arg === '--no-progress') {
      raw.flags.add(arg.replace(/^-+/, '').replace(/^h$/, 'help'));
      continue;
    }
    const eq = arg.indexOf('=');
    const given = arg.slice(2, eq >= 0 ? eq : undefined);
    const name = aliases[given] ?? given;
    if (!arg.startsWith('--') || !(name === 'server' || name === 'redis' || name === 'note' || valued_options.has(name))) {
      throw new BenchUsageError(`unknown argument '${arg}'`);
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new BenchUsageError(`--${given} needs a value`);
    if (name === 'note') raw.notes.push(value);
    else if (name === 'server' || name === 'redis') raw.targets.push({ ...parseEndpoint(value, `--${name}`), protocol: name === 'server' ? 'memcached' : 'redis' });
    else raw.values.set(name, value);
  }
  return raw;
}

/** Parses `mcl bench` arguments; throws BenchUsageError (message '' for --help). */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const raw = collect(argv);
  if (raw.flags.has('help')) throw new BenchUsageError('');
  const quick = raw.flags.has('quick');
  const d = quick ? defaults.quick : defaults.full;
  const get = <T>(name: string, parse: (value: string, option: string) => T, fallback: T): T => {
    const value = raw.values.get(name);
    return value === undefined ? fallback : parse(value, `--${name}`);
  };
  const targets = raw.targets;
  const servers = targets.filter((t) => t.protocol === 'memcached');
  if (targets.length === 0) throw new BenchUsageError('give at least one --server (or --redis)');
  const outDir = raw.values.get('out');
  if (!outDir) throw new BenchUsageError('--out DIR is required');
  const names = targets.map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new BenchUsageError(`two targets are named '${dup}' (name them: --server NAME=HOST:PORT)`);
  const serverNamed = (value: string, option: string): string => {
    if (!servers.some((s) => s.name === value)) throw new BenchUsageError(`${option}: no --server named '${value}'`);
    return value;
  };
  return {
    targets, outDir, quick,
    methods: get('methods', methods, ['original', 'modern']),
    ns: get('ns', positiveIntList, d.ns),
    requests: get('requests', positiveInt, d.requests),
    clients: get('clients', positiveInt, 50),
    depths: get('depths', positiveIntList, d.depths),
    durationS: get('duration', seconds, d.durationS),
    keyspace: get('keyspace', positiveInt, d.keyspace),
    redisRequests: get('redis-requests', positiveInt, d.redisRequests),
    seed: get('seed', positiveInt, 1),
    timeoutMs: get('timeout', positiveInt, 10_000),
    progress: !raw.flags.has('no-progress'),
    ours: get('ours', serverNamed, servers[0]?.name ?? ''),
    memcached: get<string | null>('memcached', serverNamed, servers.some((s) => s.name === 'memcached') ? 'memcached' : null),
    notes: raw.notes,
  };
}
