// Server options from flags, environment and .env, with memcached's flag names
// where memcached has one. Precedence: flags > environment > .env > defaults
// (dotenv never overrides a variable already set). A bad value is an
// OptionError that names the option, and so is a combination that cannot work
// (a TLS key without a certificate, client verification without a CA).
// Files named here (auth file, TLS material) are read at start-up by
// security.ts.

import { connection_limit_default, item_size_max_default_bytes } from '../engine/limits.js';
import type { FsyncMode } from '../wal/writer.js';

export class OptionError extends Error {}

export interface ServerOptions {
  host: string;
  port: number;
  connectionLimit: number;
  memoryLimitMb: number;
  evictionsDisabled: boolean;
  itemSizeMaxBytes: number;
  verbosity: number;
  dataDir: string;
  fsync: FsyncMode;
  snapshotIntervalS: number;
  repairWal: boolean;
  strictKeys: boolean;
  snapshotMinWalBytes: number;
  walArchiveDir: string | undefined;
  /** -Y: memcached's ASCII authentication file (user:password lines). */
  authFile: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  tlsCa: string | undefined;
  tlsVerifyClient: boolean;
  /** Seconds without a request before a connection is closed; 0: never. */
  idleTimeoutS: number;
  /** -A: allow the `shutdown` command. */
  shutdownEnabled: boolean;
  help: boolean;
}

export const defaultOptions: ServerOptions = {
  host: '127.0.0.1',
  port: 11211,
  connectionLimit: connection_limit_default,
  memoryLimitMb: 64,
  evictionsDisabled: false,
  itemSizeMaxBytes: item_size_max_default_bytes,
  verbosity: 0,
  dataDir: './data',
  fsync: 'always',
  snapshotIntervalS: 60,
  repairWal: false,
  strictKeys: false,
  snapshotMinWalBytes: 16 * 1024 * 1024,
  walArchiveDir: undefined,
  authFile: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  tlsCa: undefined,
  tlsVerifyClient: false,
  idleTimeoutS: 0,
  shutdownEnabled: false,
  help: false,
};

export const usage = `Usage: memcached-lite [options]

A memcached-compatible server that never loses an acknowledged write.

Options (environment variable in brackets; flags win over the environment,
which wins over .env in the working directory):
  -p, --port <num>            TCP port to listen on (default 11211) [PORT]
  -l, --listen <addr>         interface to bind (default 127.0.0.1) [HOST]
  -c, --conn-limit <num>      max simultaneous connections (default 1024)
  -m, --memory-limit <mb>     item memory in megabytes (default 64)
  -M, --disable-evictions     return an error when memory is full instead of evicting
  -I, --max-item-size <size>  largest item, k/m suffixes allowed (default 1m)
  -U, --udp-port <num>        only 0 is accepted: there is no UDP
  -v, -vv                     verbose / very verbose logging to stderr
      --data-dir <dir>        data directory (default ./data) [DATA_DIR]
      --fsync <mode>          always | everysec | no (default always) [FSYNC]
      --snapshot-interval <s> seconds between snapshot checks (default 60) [SNAPSHOT_INTERVAL_S]
      --snapshot-min-wal <size>  snapshot when the WAL grew at least this much, k/m/g suffixes (default 16m)
      --wal-archive <dir>     move WAL segments a snapshot covers there instead of deleting them
      --repair-wal            truncate a corrupt WAL at the damage instead of refusing to start
      --strict-keys           refuse keys with control characters (memcached accepts them)
  -Y, --auth-file <file>      require a login: a set whose data is "user password",
                              checked against the file's user:password lines
                              (SIGHUP reloads it) [AUTH_FILE]
      --tls-cert <file>       serve TLS with this PEM certificate (chain) [TLS_CERT]
      --tls-key <file>        ... and this PEM private key (both or neither) [TLS_KEY]
      --tls-ca <file>         PEM CA certificates for client certificates [TLS_CA]
      --tls-verify-client     require a client certificate signed by --tls-ca
      --idle-timeout <s>      close connections idle this many seconds (default 0: never) [IDLE_TIMEOUT_S]
  -A, --enable-shutdown       allow the shutdown command (a clean shutdown, as SIGTERM)
  -h, --help                  print this help

Offline tools on a data directory (each has --help):
  memcached-lite inspect|compact|dump|load|replay --data-dir <dir> ...
`;

type Setter = (o: ServerOptions, value: string, name: string) => void;

interface Spec { short?: string; long: string; takesValue: boolean; set: Setter }

function integer(value: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new OptionError(`${name}: '${value}' is not a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new OptionError(`${name}: ${n} is out of range (${min}..${max})`);
  return n;
}

/** memcached's -I syntax: bytes, or a number with k or m. */
export function parseSize(value: string, name: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(value);
  if (!m) throw new OptionError(`${name}: '${value}' is not a size (use bytes, or k/m suffix)`);
  const unit = m[2]!.toLowerCase();
  const bytes = Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
  if (bytes < 1024) throw new OptionError(`${name}: item size must be at least 1k`);
  if (bytes > 1024 * 1024 * 1024) throw new OptionError(`${name}: item size cannot exceed 1024m`);
  return bytes;
}

/** A byte count: a number with an optional k, m or g suffix (0 allowed). */
function parseBytes(value: string, name: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(value);
  if (!m) throw new OptionError(`${name}: '${value}' is not a size (use bytes, or a k/m/g suffix)`);
  const unit = m[2]!.toLowerCase();
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
}

function path(value: string, name: string): string {
  if (!value) throw new OptionError(`${name}: empty path`);
  return value;
}

function fsyncMode(value: string, name: string): FsyncMode {
  if (value === 'always' || value === 'everysec' || value === 'no') return value;
  throw new OptionError(`${name}: '${value}' must be always, everysec or no`);
}

const specs: Spec[] = [
  { short: 'p', long: 'port', takesValue: true, set: (o, v, n) => { o.port = integer(v, n, 0, 65535); } },
  { short: 'l', long: 'listen', takesValue: true, set: (o, v, n) => { if (!v) throw new OptionError(`${n}: empty address`); o.host = v; } },
  { short: 'c', long: 'conn-limit', takesValue: true, set: (o, v, n) => { o.connectionLimit = integer(v, n, 1, 1_000_000); } },
  { short: 'm', long: 'memory-limit', takesValue: true, set: (o, v, n) => { o.memoryLimitMb = integer(v, n, 1, 1_048_576); } },
  { short: 'M', long: 'disable-evictions', takesValue: false, set: (o) => { o.evictionsDisabled = true; } },
  { short: 'I', long: 'max-item-size', takesValue: true, set: (o, v, n) => { o.itemSizeMaxBytes = parseSize(v, n); } },
  { short: 'U', long: 'udp-port', takesValue: true, set: (_o, v, n) => { if (integer(v, n, 0, 65535) !== 0) throw new OptionError(`${n}: UDP is not supported; only 0 is accepted`); } },
  { long: 'data-dir', takesValue: true, set: (o, v, n) => { o.dataDir = path(v, n); } },
  { long: 'fsync', takesValue: true, set: (o, v, n) => { o.fsync = fsyncMode(v, n); } },
  { long: 'snapshot-interval', takesValue: true, set: (o, v, n) => { o.snapshotIntervalS = integer(v, n, 1, 86_400 * 365); } },
  { long: 'snapshot-min-wal', takesValue: true, set: (o, v, n) => { o.snapshotMinWalBytes = parseBytes(v, n); } },
  { long: 'wal-archive', takesValue: true, set: (o, v, n) => { o.walArchiveDir = path(v, n); } },
  { long: 'repair-wal', takesValue: false, set: (o) => { o.repairWal = true; } },
  { long: 'strict-keys', takesValue: false, set: (o) => { o.strictKeys = true; } },
  { short: 'Y', long: 'auth-file', takesValue: true, set: (o, v, n) => { o.authFile = path(v, n); } },
  { long: 'tls-cert', takesValue: true, set: (o, v, n) => { o.tlsCert = path(v, n); } },
  { long: 'tls-key', takesValue: true, set: (o, v, n) => { o.tlsKey = path(v, n); } },
  { long: 'tls-ca', takesValue: true, set: (o, v, n) => { o.tlsCa = path(v, n); } },
  { long: 'tls-verify-client', takesValue: false, set: (o) => { o.tlsVerifyClient = true; } },
  { long: 'idle-timeout', takesValue: true, set: (o, v, n) => { o.idleTimeoutS = integer(v, n, 0, 86_400 * 365); } },
  { short: 'A', long: 'enable-shutdown', takesValue: false, set: (o) => { o.shutdownEnabled = true; } },
  { short: 'h', long: 'help', takesValue: false, set: (o) => { o.help = true; } },
];

const envVars: Array<[string, string]> = [
  ['HOST', 'listen'], ['PORT', 'port'], ['DATA_DIR', 'data-dir'], ['FSYNC', 'fsync'], ['SNAPSHOT_INTERVAL_S', 'snapshot-interval'],
  ['AUTH_FILE', 'auth-file'], ['TLS_CERT', 'tls-cert'], ['TLS_KEY', 'tls-key'], ['TLS_CA', 'tls-ca'], ['IDLE_TIMEOUT_S', 'idle-timeout'],
];

/** Builds the options from argv (without node and script) and an environment (already merged with .env). */
export function parseServerOptions(argv: string[], env: Record<string, string | undefined>): ServerOptions {
  const o: ServerOptions = { ...defaultOptions };
  for (const [variable, long] of envVars) {
    const value = env[variable];
    if (value !== undefined && value !== '') specs.find((s) => s.long === long)!.set(o, value, `${variable} (environment)`);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (/^-v+$/.test(arg)) { o.verbosity = Math.min(2, arg.length - 1); continue; }
    let spec: Spec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
      spec = specs.find((s) => s.long === name);
    } else if (arg.startsWith('-') && arg.length >= 2) {
      spec = specs.find((s) => s.short === arg[1]);
      if (arg.length > 2) inline = arg.slice(2);
    }
    if (!spec) throw new OptionError(`unknown option '${arg}' (see --help)`);
    const name = spec.short ? `-${spec.short}/--${spec.long}` : `--${spec.long}`;
    if (!spec.takesValue) {
      if (inline !== undefined) throw new OptionError(`${name} takes no value`);
      spec.set(o, '', name);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new OptionError(`${name} needs a value`);
    spec.set(o, value, name);
  }
  checkTls(o);
  return o;
}

/** TLS options only work together: a certificate with its key, a CA for client verification. */
function checkTls(o: ServerOptions): void {
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) {
    throw new OptionError(o.tlsCert === undefined ? '--tls-key needs --tls-cert' : '--tls-cert needs --tls-key');
  }
  if (o.tlsCert === undefined && (o.tlsCa !== undefined || o.tlsVerifyClient)) {
    throw new OptionError(`${o.tlsCa !== undefined ? '--tls-ca' : '--tls-verify-client'} needs --tls-cert and --tls-key`);
  }
  if (o.tlsVerifyClient && o.tlsCa === undefined) throw new OptionError('--tls-verify-client needs --tls-ca (the CA client certificates must be signed by)');
}
