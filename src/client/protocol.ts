// The classic text protocol from the client's side: a Request is the bytes
// to send plus a Reader that consumes the reply, line by line and data block
// by data block, as memcached's doc/protocol.txt lays replies out.
//
// Invariants:
// - Arguments are checked before any byte is built: a request that would be
//   misparsed (a key with a space, a flags value over 32 bits) is a
//   ArgumentError, never sent.
// - Readers accept exactly the replies memcached gives to their command; any
//   other line throws UnexpectedReply, and the connection treats the stream
//   as out of step (it closes). Error lines (ERROR, CLIENT_ERROR,
//   SERVER_ERROR) never reach a reader: the connection turns them into
//   MemcachedError for the request at the head of the queue.
// - Keys travel as UTF-8 and are at most 250 bytes of printable characters
//   (libmemcached's key check for the text protocol).

import { ArgumentError } from './errors.js';

/** What a reader wants next: another line, a data block of N bytes (then "\r\n"), or nothing: the reply is complete. */
export type Want = 'done' | 'line' | number;

export interface Reader<T> {
  line(line: string): Want;
  data(bytes: Buffer): Want;
  readonly result: T;
}

export interface Request<T = unknown> {
  readonly bytes: Buffer;
  /** Makes the reader for the reply; null when no reply comes (noreply). */
  readonly reader: (() => Reader<T>) | null;
  /** A quiet meta request: its reply carries this opaque token, and when the server suppresses it the outcome is `suppressed`. */
  readonly quiet?: { readonly token: string; readonly suppressed: T };
  /** mn: its MN reply ends a run of quiet requests. */
  readonly noop?: boolean;
}

/** A reply line no reader of this request accepts. */
export class UnexpectedReply extends Error {}

export const key_length_max = 250;
const u32_max = 0xffff_ffff;
const u64_max = (1n << 64n) - 1n;

export interface Value { value: Buffer; flags: number; cas?: bigint }
export type StoreCommand = 'set' | 'add' | 'replace' | 'append' | 'prepend' | 'cas';
export type StoreReply = 'STORED' | 'NOT_STORED' | 'EXISTS' | 'NOT_FOUND';
export type RetrieveCommand = 'get' | 'gets' | 'gat' | 'gats';

// ---- argument checks ---------------------------------------------------------

/** A key as sent: 1..250 bytes, no spaces or control characters. */
export function keyBytes(key: string): Buffer {
  if (typeof key !== 'string') throw new ArgumentError(`key must be a string, got ${typeof key}`);
  const bytes = Buffer.from(key, 'utf8');
  checkKeyBytes(bytes, key);
  return bytes;
}

export function checkKeyBytes(bytes: Buffer, shown: string): void {
  if (bytes.length === 0) throw new ArgumentError('key must not be empty');
  if (bytes.length > key_length_max) throw new ArgumentError(`key is ${bytes.length} bytes, over memcached's ${key_length_max}: ${shown.slice(0, 40)}...`);
  if (!isPrintable(bytes)) throw new ArgumentError(`key contains a space or control character: ${JSON.stringify(shown)}`);
}

/** True when no byte is a space, a control character or DEL (the text protocol splits on them). */
export function isPrintable(bytes: Buffer): boolean {
  for (const b of bytes) if (b <= 0x20 || b === 0x7f) return false;
  return true;
}

export function checkU32(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > u32_max) throw new ArgumentError(`${name} must be an integer from 0 to ${u32_max}, got ${n}`);
  return n;
}

export function checkInt(name: string, n: number): number {
  if (!Number.isSafeInteger(n)) throw new ArgumentError(`${name} must be an integer, got ${n}`);
  return n;
}

export function checkU64(name: string, n: bigint | number): bigint {
  if (typeof n === 'number' && !Number.isSafeInteger(n)) throw new ArgumentError(`${name} must be an integer, got ${n}`);
  const v = BigInt(n);
  if (v < 0n || v > u64_max) throw new ArgumentError(`${name} must be from 0 to 2^64-1, got ${v}`);
  return v;
}

/** Text that goes on a command line as it is (stats arguments): printable, single spaces allowed. */
export function checkArgs(name: string, text: string): string {
  if (/[\x00-\x1f\x7f]/.test(text)) throw new ArgumentError(`${name} must not contain control characters: ${JSON.stringify(text)}`);
  return text;
}

export const toBuffer = (value: Buffer | string): Buffer => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value);

// ---- readers -----------------------------------------------------------------

/** A one-line reply, turned into a result by `parse` (which throws UnexpectedReply for anything else). */
export function oneLine<T>(parse: (line: string) => T): () => Reader<T> {
  return () => {
    const reader = {
      result: undefined as T,
      line(line: string): Want { reader.result = parse(line); return 'done'; },
      data(): Want { throw new UnexpectedReply('a data block after a one-line reply'); },
    };
    return reader;
  };
}

/** A reply that must be one of `words`. */
export function oneOf<W extends string>(...words: W[]): () => Reader<W> {
  return oneLine((line) => {
    if (!(words as string[]).includes(line)) throw new UnexpectedReply(`expected ${words.join(' or ')}, got ${JSON.stringify(line)}`);
    return line as W;
  });
}

const value_line = /^VALUE (\S+) (\d+) (\d+)(?: (\d+))?$/;

/** VALUE <key> <flags> <bytes> [<cas>] + data, repeated, then END. */
function valuesReader(): Reader<Map<string, Value>> {
  let pending: { key: string; flags: number; cas?: bigint } | null = null;
  const result = new Map<string, Value>();
  return {
    result,
    line(line) {
      if (line === 'END') return 'done';
      const m = value_line.exec(line);
      if (!m) throw new UnexpectedReply(`expected VALUE or END, got ${JSON.stringify(line)}`);
      pending = { key: m[1]!, flags: Number(m[2]), ...(m[4] === undefined ? {} : { cas: BigInt(m[4]) }) };
      return Number(m[3]);
    },
    data(bytes) {
      const { key, flags, cas } = pending!;
      result.set(key, cas === undefined ? { value: bytes, flags } : { value: bytes, flags, cas });
      pending = null;
      return 'line';
    },
  };
}

/**
 * stats [args]: "STAT name value" lines until END; `stats cachedump` gives
 * "ITEM key [...]" and `stats detail dump` "PREFIX name ..." lines, kept the
 * same way (second word -> rest). `stats reset` answers RESET and
 * `stats detail on|off` OK, alone.
 */
function statsReader(): Reader<Map<string, string>> {
  const result = new Map<string, string>();
  return {
    result,
    line(line) {
      if (line === 'END' || (result.size === 0 && (line === 'RESET' || line === 'OK'))) return 'done';
      const m = /^(?:STAT|ITEM|PREFIX) (\S+) ?(.*)$/.exec(line);
      if (!m) throw new UnexpectedReply(`unexpected stats line ${JSON.stringify(line)}`);
      result.set(m[1]!, m[2]!);
      return 'line';
    },
    data() { throw new UnexpectedReply('a data block in a stats reply'); },
  };
}

// ---- requests ----------------------------------------------------------------

const crlf = Buffer.from('\r\n');
const line = (text: string): Buffer => Buffer.from(`${text}\r\n`, 'utf8');
const noreplySuffix = (noreply?: boolean): string => (noreply ? ' noreply' : '');

/** A one-line command; `noreply` makes it fire-and-forget (resolves undefined once written). */
function command<T>(text: string, reader: () => Reader<T>, noreply?: boolean): Request<T | undefined> {
  return { bytes: line(`${text}${noreplySuffix(noreply)}`), reader: noreply ? null : reader };
}

export interface StoreArgs { flags?: number | undefined; exptime?: number | undefined; noreply?: boolean | undefined }

export function storeRequest(cmd: StoreCommand, key: string, value: Buffer | string, args: StoreArgs, cas?: bigint): Request<StoreReply | undefined> {
  keyBytes(key);
  const data = toBuffer(value);
  const flags = checkU32('flags', args.flags ?? 0);
  const exptime = checkInt('exptime', args.exptime ?? 0);
  const casPart = cmd === 'cas' ? ` ${checkU64('cas', cas ?? -1n)}` : '';
  const header = line(`${cmd} ${key} ${flags} ${exptime} ${data.length}${casPart}${noreplySuffix(args.noreply)}`);
  return {
    bytes: Buffer.concat([header, data, crlf]),
    reader: args.noreply ? null : oneOf<StoreReply>('STORED', 'NOT_STORED', 'EXISTS', 'NOT_FOUND'),
  };
}

/** get/gets <key>*, gat/gats <exptime> <key>*. */
export function retrieveRequest(cmd: RetrieveCommand, keys: readonly string[], exptime?: number): Request<Map<string, Value>> {
  if (keys.length === 0) throw new ArgumentError(`${cmd} needs at least one key`);
  for (const k of keys) keyBytes(k);
  const touch = cmd === 'gat' || cmd === 'gats' ? ` ${checkInt('exptime', exptime ?? 0)}` : '';
  return { bytes: line(`${cmd}${touch} ${keys.join(' ')}`), reader: valuesReader };
}

export function deleteRequest(key: string, noreply?: boolean): Request<'DELETED' | 'NOT_FOUND' | undefined> {
  keyBytes(key);
  return command(`delete ${key}`, oneOf('DELETED', 'NOT_FOUND'), noreply);
}

const parseDelta = (line: string): bigint | 'NOT_FOUND' => {
  if (line === 'NOT_FOUND') return line;
  if (!/^\d+$/.test(line)) throw new UnexpectedReply(`expected a number or NOT_FOUND, got ${JSON.stringify(line)}`);
  return BigInt(line);
};

export function deltaRequest(cmd: 'incr' | 'decr', key: string, delta: bigint | number, noreply?: boolean): Request<bigint | 'NOT_FOUND' | undefined> {
  keyBytes(key);
  return command(`${cmd} ${key} ${checkU64('delta', delta)}`, oneLine(parseDelta), noreply);
}

export function touchRequest(key: string, exptime: number, noreply?: boolean): Request<'TOUCHED' | 'NOT_FOUND' | undefined> {
  keyBytes(key);
  return command(`touch ${key} ${checkInt('exptime', exptime)}`, oneOf('TOUCHED', 'NOT_FOUND'), noreply);
}

export function flushAllRequest(delaySeconds?: number, noreply?: boolean): Request<'OK' | undefined> {
  const delay = delaySeconds === undefined ? '' : ` ${checkInt('delay', delaySeconds)}`;
  return command(`flush_all${delay}`, oneOf('OK'), noreply);
}

export function verbosityRequest(level: number, noreply?: boolean): Request<'OK' | undefined> {
  return command(`verbosity ${checkU32('level', level)}`, oneOf('OK'), noreply);
}

export function versionRequest(): Request<string> {
  return {
    bytes: line('version'),
    reader: oneLine((l) => {
      if (!l.startsWith('VERSION ')) throw new UnexpectedReply(`expected VERSION, got ${JSON.stringify(l)}`);
      return l.slice('VERSION '.length);
    }),
  };
}

export function statsRequest(args = ''): Request<Map<string, string>> {
  const a = checkArgs('stats arguments', args).trim();
  return { bytes: line(a ? `stats ${a}` : 'stats'), reader: statsReader };
}

/** Raw bytes; the reply is the next line as it is (for protocol tests and odd admin commands). */
export function rawLineRequest(bytes: Buffer | string): Request<string> {
  return { bytes: toBuffer(bytes), reader: oneLine((l) => l) };
}
