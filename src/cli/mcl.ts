// bin/mcl: a command-line memcached client on top of src/client. Every
// classic text command and every meta command; one server (--host/--port,
// or HOST/PORT from the environment or .env) or several (--server,
// repeated: keys spread by ketama as twemproxy's distribution: ketama);
// TLS and ASCII authentication. See mclUsage.
//
// Exit codes: 0 done; 1 a miss or refusal (NOT_FOUND, NOT_STORED, EXISTS;
// meta EN, NF, NS, EX); 2 bad usage (including arguments the client
// library refuses, such as a key with a space); 3 connection or server
// error (a MemcachedError reply, no reply, refused login).
//
// Output: what the server said, plainly (values raw), or with --json one
// JSON document: values as "value" (UTF-8 text) or "base64" (other bytes),
// numbers that may exceed 2^53 (CAS, incr results) as strings.

import { config as loadDotenv } from 'dotenv';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ArgumentError, Client, ConnectionError, MemcachedError, parseServer, type ClientOptions, type ServerAddress } from '../client/client.js';
import { hash_names, type HashName } from '../client/ketama.js';
import type { MetaCommand, MetaReply } from '../client/meta.js';
import type { Value } from '../client/protocol.js';

export const mclUsage = `Usage: mcl [options] <command> [args]

Options:
  --server HOST:PORT[:WEIGHT]  a server; repeat for several (keys spread by ketama,
                               as twemproxy's distribution: ketama)
  --host H  --port P           the one server (default 127.0.0.1:11211) [HOST, PORT]
  --hash md5|fnv1a_64          key hash for several servers (default md5)
  --flags F  --exptime S       client flags and expiry for storage commands
  --noreply                    send storage/delete/incr/decr/touch/flush_all/verbosity
                               with noreply (nothing to report back)
  --file F                     read the value from file F
  --json                       print the reply as one JSON document
  --timeout MS                 per-request timeout (default 10000)
  --tls                        connect with TLS (implied by any --tls-* option)
  --tls-ca F  --tls-cert F  --tls-key F  --tls-servername NAME
  --tls-insecure               do not verify the server certificate
  --user U  --password P       ASCII authentication (memcached -Y) [MCL_USER, MCL_PASSWORD]

Classic commands (VALUE: an argument, '-' or nothing for standard input, or --file):
  get|gat KEY...  (gat EXPTIME KEY...)   print values; "key: value" for several keys
  gets|gats KEY...  (gats EXPTIME KEY...) the same, with the CAS unique before each value
                                 (exit 1 if any key is missing)
  set|add|replace|append|prepend KEY [VALUE]
  cas KEY CAS [VALUE]
  delete KEY
  incr|decr KEY DELTA            DELTA: 0 to 2^64-1
  touch KEY EXPTIME
  flush_all [DELAY]              on every server
  verbosity LEVEL                on every server
  version                        of every server
  stats [ARGS]                   of every server, e.g. stats, stats items, stats settings

Meta commands (FLAGs as in memcached's protocol.txt, e.g. v f t c T60 q Oid b):
  mg KEY [FLAG...]               prints the reply line, then the value if any
  ms KEY VALUE [FLAG...]         with --file: ms KEY [FLAG...]
  md KEY [FLAG...]
  ma KEY [FLAG...]
  mn                             on every server
  me KEY [b]

Benchmark study: mcl bench --server [NAME=]HOST:PORT... --out DIR [--quick]
(mcl bench --help for its options).

Exit codes: 0 done, 1 miss or refusal, 2 usage, 3 connection or server error.
`;

class UsageError extends Error {}

/** Where mcl reads and writes: the process by default, buffers in tests. */
export interface MclIo {
  out(data: string | Buffer): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** All of standard input (a value given as '-' or left out). */
  stdin(): Buffer;
}

function processIo(): MclIo {
  loadDotenv({ quiet: true } as Parameters<typeof loadDotenv>[0]);
  return {
    out: (data) => { process.stdout.write(data); },
    err: (text) => { process.stderr.write(text); },
    env: process.env,
    stdin: () => readFileSync(0),
  };
}

interface Parsed {
  servers: ServerAddress[];
  hash: HashName;
  flags: number;
  exptime: number;
  noreply: boolean;
  file: string | null;
  json: boolean;
  timeoutMs: number;
  tls: TlsOptions | null;
  username: string | undefined;
  password: string | undefined;
  command: string;
  args: string[];
  stdin: () => Buffer;
}

// ---- arguments -----------------------------------------------------------------

function parseArgs(argv: string[], io: MclIo): Parsed {
  const env = io.env;
  const p: Parsed = {
    servers: [], hash: 'md5', flags: 0, exptime: 0, noreply: false, file: null, json: false, timeoutMs: 10_000,
    tls: null, username: env.MCL_USER || undefined, password: env.MCL_PASSWORD || undefined, command: '', args: [], stdin: io.stdin,
  };
  let host: string | undefined;
  let port: string | undefined;
  const tls: TlsOptions & { wanted?: boolean } = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    const file = (): Buffer => readOption(arg, value());
    switch (arg) {
      case '--server': p.servers.push(serverOption(value())); break;
      case '--host': host = value(); break;
      case '--port': port = value(); break;
      case '--hash': p.hash = hashOption(value()); break;
      case '--flags': p.flags = intOption(arg, value(), 0, 0xffff_ffff); break;
      case '--exptime': p.exptime = intOption(arg, value()); break;
      case '--noreply': p.noreply = true; break;
      case '--file': p.file = value(); break;
      case '--json': p.json = true; break;
      case '--timeout': p.timeoutMs = intOption(arg, value(), 1, 86_400_000); break;
      case '--tls': tls.wanted = true; break;
      case '--tls-ca': tls.ca = file(); break;
      case '--tls-cert': tls.cert = file(); break;
      case '--tls-key': tls.key = file(); break;
      case '--tls-servername': tls.servername = value(); break;
      case '--tls-insecure': tls.rejectUnauthorized = false; break;
      case '--user': p.username = value(); break;
      case '--password': p.password = value(); break;
      case '--': positional.push(...argv.slice(i + 1)); i = argv.length; break;
      default:
        if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
        positional.push(arg);
    }
  }
  if (p.servers.length && (host !== undefined || port !== undefined)) throw new UsageError('use --server, or --host/--port, not both');
  if (!p.servers.length) {
    p.servers.push({ host: host ?? (env.HOST || '127.0.0.1'), port: intOption('--port', port ?? (env.PORT || '11211'), 1, 65535) });
  }
  const { wanted, ...tlsOptions } = tls;
  if (wanted || Object.keys(tlsOptions).length) p.tls = tlsOptions;
  p.command = positional[0] ?? '';
  p.args = positional.slice(1);
  return p;
}

function serverOption(spec: string): ServerAddress {
  try {
    return parseServer(spec);
  } catch (err) {
    throw new UsageError(`--server: ${(err as Error).message}`);
  }
}

function hashOption(v: string): HashName {
  if (!(hash_names as readonly string[]).includes(v)) throw new UsageError(`--hash must be one of ${hash_names.join(', ')}`);
  return v as HashName;
}

function intOption(name: string, v: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (/^-?\d+$/.test(v) && n >= min && n <= max) return n;
  const range = min === Number.MIN_SAFE_INTEGER ? '' : ` from ${min} to ${max}`;
  throw new UsageError(`${name} must be an integer${range}, got ${JSON.stringify(v)}`);
}

function readOption(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`${name}: cannot read ${path}: ${(err as Error).message}`);
  }
}

function clientOptions(p: Parsed): ClientOptions {
  return {
    servers: p.servers, hash: p.hash, timeoutMs: p.timeoutMs,
    ...(p.tls ? { tls: p.tls } : {}),
    ...(p.username !== undefined || p.password !== undefined ? { username: p.username, password: p.password } : {}),
  };
}

// ---- commands --------------------------------------------------------------------

/** What a command printed: text lines (or raw values) and the JSON document, and its exit code. */
interface Result { exit: number; text: Array<string | Buffer>; json: unknown }

interface Ctx { client: Client; p: Parsed; args: string[] }
interface Command { shape: string; min: number; max: number; run(ctx: Ctx): Promise<Result> }

const many = Number.POSITIVE_INFINITY;
/** A one-word reply (undefined: sent with noreply); exit 1 unless `ok` (a miss or refusal). */
const reply = (word: string | undefined, ok: (word: string) => boolean): Result =>
  ({ exit: word === undefined || ok(word) ? 0 : 1, text: word === undefined ? [] : [`${word}\n`], json: { reply: word ?? null } });
const is = (expected: string) => (word: string): boolean => word === expected;

function uint(name: string, v: string): bigint {
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return BigInt(v);
}

/** The value of a storage command: the argument, '-' (or none) for stdin, or --file. */
function valueOf(p: Parsed, arg: string | undefined): Buffer {
  if (p.file !== null) {
    if (arg !== undefined) throw new UsageError('give the value as an argument or with --file, not both');
    return readOption('--file', p.file);
  }
  return arg === undefined || arg === '-' ? p.stdin() : Buffer.from(arg, 'utf8');
}

function jsonValue(v: Buffer): { value: string } | { base64: string } {
  const text = v.toString('utf8');
  return Buffer.from(text, 'utf8').equals(v) ? { value: text } : { base64: v.toString('base64') };
}

function retrieval(cmd: 'get' | 'gets' | 'gat' | 'gats'): Command {
  const touch = cmd === 'gat' || cmd === 'gats';
  const withCas = cmd === 'gets' || cmd === 'gats';
  return {
    shape: touch ? `${cmd} EXPTIME KEY...` : `${cmd} KEY...`, min: touch ? 2 : 1, max: many,
    async run({ client, args }) {
      const exptime = touch ? intOption('EXPTIME', args[0]!) : 0;
      const keys = touch ? args.slice(1) : args;
      const hits: Map<string, Value> = touch
        ? await (withCas ? client.gatsMulti(exptime, keys) : client.gatMulti(exptime, keys))
        : await (withCas ? client.getsMulti(keys) : client.getMulti(keys));
      const text: Array<string | Buffer> = [];
      for (const key of keys) {
        const v = hits.get(key);
        if (!v) continue;
        text.push(`${keys.length > 1 ? `${key}: ` : ''}${withCas ? `${v.cas} ` : ''}`, v.value, '\n');
      }
      const json = {
        hits: Object.fromEntries([...hits].map(([k, v]) => [k, { ...jsonValue(v.value), flags: v.flags, ...(v.cas === undefined ? {} : { cas: String(v.cas) }) }])),
        misses: [...new Set(keys)].filter((k) => !hits.has(k)),
      };
      return { exit: json.misses.length ? 1 : 0, text, json };
    },
  };
}

function storage(cmd: 'set' | 'add' | 'replace' | 'append' | 'prepend' | 'cas'): Command {
  const isCas = cmd === 'cas';
  return {
    shape: `${cmd} KEY${isCas ? ' CAS' : ''} [VALUE]`, min: isCas ? 2 : 1, max: isCas ? 3 : 2,
    async run({ client, p, args }) {
      const opts = { flags: p.flags, exptime: p.exptime, noreply: p.noreply };
      const key = args[0]!;
      const word = isCas
        ? await client.cas(key, valueOf(p, args[2]), uint('CAS', args[1]!), opts)
        : await client[cmd](key, valueOf(p, args[1]), opts);
      return reply(word, is('STORED'));
    },
  };
}

function delta(cmd: 'incr' | 'decr'): Command {
  return {
    shape: `${cmd} KEY DELTA`, min: 2, max: 2,
    async run({ client, p, args }) {
      const result = await client[cmd](args[0]!, uint('DELTA', args[1]!), { noreply: p.noreply });
      return reply(result === undefined ? undefined : String(result), (w) => w !== 'NOT_FOUND');
    },
  };
}

/** Per-server results: "host:port value" lines when there are several servers. */
function perServer<T>(results: Map<string, T>, lines: (v: T) => string[]): Pick<Result, 'text' | 'json'> {
  const several = results.size > 1;
  const text = [...results].flatMap(([server, v]) => lines(v).map((l) => `${several ? `${server} ` : ''}${l}\n`));
  return { text, json: Object.fromEntries(results) };
}

function metaCommand(cmd: MetaCommand): Command {
  const shapes: Record<MetaCommand, [string, number, number]> = {
    mg: ['mg KEY [FLAG...]', 1, many], ms: ['ms KEY VALUE [FLAG...]', 1, many], md: ['md KEY [FLAG...]', 1, many],
    ma: ['ma KEY [FLAG...]', 1, many], mn: ['mn', 0, 0], me: ['me KEY [b]', 1, 2],
  };
  const [shape, min, max] = shapes[cmd];
  return {
    shape, min, max,
    async run({ client, p, args }) {
      if (cmd === 'mn') {
        const replies = new Map(await Promise.all(client.servers.map(async (s) => [s, await client.meta('mn', undefined, [], undefined, { server: s })] as const)));
        return { exit: 0, ...perServer(replies, (r) => [r.code]) };
      }
      if (cmd === 'ms' && p.file === null && args.length < 2) throw new UsageError(`usage: mcl ${shape}`);
      const data = cmd === 'ms' ? valueOf(p, p.file === null ? args[1] : undefined) : undefined;
      const flags = args.slice(cmd === 'ms' && p.file === null ? 2 : 1);
      const r = await client.meta(cmd, args[0]!, flags, data);
      return metaResult(r);
    },
  };
}

function metaResult(r: MetaReply): Result {
  const head = [r.code, ...(r.code === 'VA' ? [String(r.value!.length)] : []), ...r.tokens].join(' ');
  const text: Array<string | Buffer> = [`${head}\n`, ...(r.value ? [r.value, '\n'] : [])];
  const json = { code: r.code, flags: r.tokens, ...(r.value ? jsonValue(r.value) : {}), ...(r.suppressed ? { suppressed: true } : {}) };
  return { exit: ['EN', 'NF', 'NS', 'EX'].includes(r.code) ? 1 : 0, text, json };
}

const commands: Record<string, Command> = {
  get: retrieval('get'), gets: retrieval('gets'), gat: retrieval('gat'), gats: retrieval('gats'),
  set: storage('set'), add: storage('add'), replace: storage('replace'), append: storage('append'), prepend: storage('prepend'), cas: storage('cas'),
  delete: {
    shape: 'delete KEY', min: 1, max: 1,
    run: async ({ client, p, args }) => reply(await client.delete(args[0]!, { noreply: p.noreply }), is('DELETED')),
  },
  incr: delta('incr'), decr: delta('decr'),
  touch: {
    shape: 'touch KEY EXPTIME', min: 2, max: 2,
    run: async ({ client, p, args }) => reply(await client.touch(args[0]!, intOption('EXPTIME', args[1]!), { noreply: p.noreply }), is('TOUCHED')),
  },
  flush_all: {
    shape: 'flush_all [DELAY]', min: 0, max: 1,
    async run({ client, p, args }) {
      await client.flushAll(args[0] === undefined ? undefined : intOption('DELAY', args[0]), { noreply: p.noreply });
      return reply(p.noreply ? undefined : 'OK', is('OK'));
    },
  },
  verbosity: {
    shape: 'verbosity LEVEL', min: 1, max: 1,
    async run({ client, p, args }) {
      await client.verbosity(Number(uint('LEVEL', args[0]!)), { noreply: p.noreply });
      return reply(p.noreply ? undefined : 'OK', is('OK'));
    },
  },
  version: { shape: 'version', min: 0, max: 0, run: async ({ client }) => ({ exit: 0, ...perServer(await client.versions(), (v) => [v]) }) },
  stats: {
    shape: 'stats [ARGS]', min: 0, max: many,
    run: async ({ client, args }) => {
      const all = await client.statsAll(args.join(' '));
      return { exit: 0, ...perServer(all, (m) => [...m].map(([k, v]) => `${k} ${v}`)), json: Object.fromEntries([...all].map(([s, m]) => [s, Object.fromEntries(m)])) };
    },
  },
  mg: metaCommand('mg'), ms: metaCommand('ms'), md: metaCommand('md'), ma: metaCommand('ma'), mn: metaCommand('mn'), me: metaCommand('me'),
};

/** Command names, for the test that keeps mclUsage in step with the table. */
export const mclCommands: readonly string[] = Object.keys(commands);

// ---- main ------------------------------------------------------------------------

export async function mclMain(argv: string[], io: MclIo = processIo()): Promise<number> {
  if (argv[0] === 'bench') return (await import('./bench/main.js')).runBench(argv.slice(1));
  if (argv.includes('-h') || argv.includes('--help')) {
    io.out(mclUsage);
    return 0;
  }
  let p: Parsed;
  let command: Command;
  let client: Client;
  try {
    p = parseArgs(argv, io);
    command = commandFor(p);
    client = new Client(clientOptions(p));
  } catch (err) {
    return usageFailure(err, io);
  }
  try {
    const result = await command.run({ client, p, args: p.args });
    if (p.json) io.out(`${JSON.stringify(result.json)}\n`);
    else for (const t of result.text) io.out(t);
    return result.exit;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ArgumentError) return usageFailure(err, io);
    io.err(`mcl: ${err instanceof MemcachedError ? `server said: ${err.line}` : (err as Error).message}\n`);
    if (!(err instanceof ConnectionError || err instanceof MemcachedError)) io.err(`${(err as Error).stack}\n`);
    return 3;
  } finally {
    await finish(client, p.timeoutMs);
  }
}

/** quit, so the server has read everything (noreply requests included) before the connection closes; bounded by the timeout. */
async function finish(client: Client, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.quit().catch(() => undefined), new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
  clearTimeout(timer);
  client.close();
}

function commandFor(p: Parsed): Command {
  if (!p.command) throw new UsageError('');
  const command = commands[p.command];
  if (!command) throw new UsageError(`unknown command '${p.command}'`);
  if (p.args.length < command.min || p.args.length > command.max) throw new UsageError(`usage: mcl ${command.shape}`);
  return command;
}

/** Usage errors and arguments the library refuses (ArgumentError): exit 2. */
function usageFailure(err: unknown, io: MclIo): number {
  if (!(err instanceof UsageError || err instanceof ArgumentError)) throw err;
  if (err.message) io.err(`mcl: ${err.message}\n`);
  if (err instanceof UsageError && (!err.message || err.message.startsWith('unknown'))) io.err(mclUsage);
  return 2;
}
