// The meta protocol (mg ms md ma mn me) from the client's side, as
// memcached 1.6.18's doc/protocol.txt and proto_text.c define it:
//
//   <cm> <key> [<datalen>] <flag>*\r\n [<data>\r\n]
//   -> VA <size> <flag>*\r\n<data>\r\n | HD|EN|NF|NS|EX <flag>*\r\n | MN\r\n
//      | ME <key> <k>=<v>*\r\n
//
// Two layers: metaRequest() takes protocol flags as they are written
// ("v", "T30", "Oabc"), for callers who know the protocol (bin/mcl); the
// typed option objects (MetaGetOptions, ...) compile to those flags.
//
// Keys: a string is sent as it is (with the b flag it must already be
// base64); a Buffer is a binary key, sent base64-encoded with the b flag.
// Either way the routing key (what ketama hashes) is the key's raw bytes,
// so "abc" and Buffer.from("abc") name the same item on the same server.
//
// Quiet mode (q): memcached leaves out the nominal reply (mg: EN on a miss;
// ms, md, ma: HD on success) but still sends every other reply and every
// error. To know which reply belongs to which quiet request, each quiet
// request carries an opaque token (the caller's O flag, or one the client
// adds and strips again), and the connection ends each run of quiet
// requests with an mn: a request still unanswered when MN arrives was
// suppressed, and resolves with `suppressed: true` and the nominal code.

import { ArgumentError } from './errors.js';
import { checkInt, checkU32, checkU64, isPrintable, keyBytes, UnexpectedReply, type Reader, type Request } from './protocol.js';

export type MetaCommand = 'mg' | 'ms' | 'md' | 'ma' | 'mn' | 'me';
export type MetaCode = 'VA' | 'HD' | 'EN' | 'NF' | 'NS' | 'EX' | 'MN' | 'ME';

export interface MetaReply {
  code: MetaCode;
  /** The flags of the reply as the server sent them (for ME: the key, then k=v fields); an opaque the client added is left out. */
  tokens: string[];
  /** The data block of a VA reply (mg with v; ma with v: the number as text). */
  value?: Buffer;
  /** A quiet request whose nominal reply the server left out (mg: a miss, EN; ms/md/ma: success, HD). */
  suppressed?: true;
  // Decoded return flags:
  cas?: bigint;
  clientFlags?: number;
  /** Seconds left; -1 for never. */
  ttl?: number;
  size?: number;
  hit?: boolean;
  lastAccess?: number;
  /** k: the key; a Buffer when the server marked it base64 (b). */
  key?: string | Buffer;
  opaque?: string;
  /** W: this client won the right to recache. */
  win?: boolean;
  /** X: the item is stale. */
  stale?: boolean;
  /** Z: another client already won. */
  alreadyWon?: boolean;
}

const opaque_length_max = 32;
const quiet_suppressed: Partial<Record<MetaCommand, MetaCode>> = { mg: 'EN', ms: 'HD', md: 'HD', ma: 'HD' };
const return_codes: Record<MetaCommand, readonly string[]> = {
  mg: ['VA', 'HD', 'EN'], ms: ['HD', 'NS', 'EX', 'NF'], md: ['HD', 'NF', 'EX'], ma: ['VA', 'HD', 'NF', 'NS', 'EX'], mn: ['MN'], me: ['ME', 'EN'],
};

let opaqueCounter = 0;
/** Opaque tokens the client adds to quiet requests: unique among requests in flight. */
function nextOpaque(): string {
  opaqueCounter = (opaqueCounter + 1) % 0x7fff_ffff;
  return `.${opaqueCounter.toString(36)}`;
}

// ---- the raw layer -----------------------------------------------------------

export interface MetaRequest { request: Request<MetaReply>; routingKey: Buffer | null }

/** A meta request from protocol flags; `data` is the value of ms and nothing else. */
export function metaRequest(cmd: MetaCommand, key: string | Buffer | undefined, flags: readonly string[], data?: Buffer): MetaRequest {
  if (!(cmd in return_codes)) throw new ArgumentError(`unknown meta command ${JSON.stringify(cmd)}`);
  for (const f of flags) {
    if (!f || !isPrintable(Buffer.from(f, 'utf8'))) throw new ArgumentError(`bad meta flag ${JSON.stringify(f)}`);
  }
  if ((cmd === 'ms') !== (data !== undefined)) throw new ArgumentError(cmd === 'ms' ? 'ms needs a value' : `${cmd} takes no value`);
  if (cmd === 'mn') {
    if (key !== undefined || flags.length) throw new ArgumentError('mn takes no key and no flags');
    return { request: { bytes: Buffer.from('mn\r\n'), reader: () => metaReader(cmd, null), noop: true }, routingKey: null };
  }
  if (key === undefined) throw new ArgumentError(`${cmd} needs a key`);
  const { wire, routingKey, extraFlag } = metaKey(key, flags);
  const all = extraFlag ? [...flags, extraFlag] : [...flags];
  const quiet = cmd in quiet_suppressed && all.includes('q');
  const opaque = all.find((f) => f.startsWith('O'));
  if (opaque && opaque.length - 1 > opaque_length_max) throw new ArgumentError(`opaque token over ${opaque_length_max} bytes: ${opaque}`);
  const added = quiet && !opaque ? nextOpaque() : null;
  if (added) all.push(`O${added}`);
  const head = [cmd, wire, ...(data ? [String(data.length)] : []), ...all].join(' ');
  const parts = [Buffer.from(`${head}\r\n`, 'utf8'), ...(data ? [data, Buffer.from('\r\n')] : [])];
  const request: Request<MetaReply> = {
    bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts),
    reader: () => metaReader(cmd, added),
    ...(quiet ? { quiet: { token: added ?? opaque!.slice(1), suppressed: { code: quiet_suppressed[cmd]!, tokens: [], suppressed: true } } } : {}),
  };
  return { request, routingKey };
}

/** The key as written on the command line, and the bytes that name the item. */
function metaKey(key: string | Buffer, flags: readonly string[]): { wire: string; routingKey: Buffer; extraFlag?: string } {
  if (Buffer.isBuffer(key)) {
    checkKeyLength(key);
    return { wire: key.toString('base64'), routingKey: key, ...(flags.includes('b') ? {} : { extraFlag: 'b' }) };
  }
  if (!flags.includes('b')) return { wire: key, routingKey: keyBytes(key) };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key)) throw new ArgumentError(`key is not base64 (flag b): ${JSON.stringify(key)}`);
  const raw = Buffer.from(key, 'base64');
  checkKeyLength(raw);
  return { wire: key, routingKey: raw };
}

function checkKeyLength(raw: Buffer): void {
  if (raw.length === 0 || raw.length > 250) throw new ArgumentError(`binary key must be 1 to 250 bytes, got ${raw.length}`);
}

/** The reader of one meta reply; `added` is the opaque the client put on the request, left out of the result. */
function metaReader(cmd: MetaCommand, added: string | null): Reader<MetaReply> {
  let reply: MetaReply | null = null;
  const reader: Reader<MetaReply> = {
    get result() { return reply!; },
    line(line) {
      const words = line.split(' ');
      const code = words[0]!;
      if (!return_codes[cmd].includes(code)) throw new UnexpectedReply(`${cmd}: unexpected reply ${JSON.stringify(line)}`);
      if (code === 'ME') {
        reply = { code, tokens: words.slice(1) };
        return 'done';
      }
      const size = code === 'VA' ? Number(words[1]) : -1;
      if (code === 'VA' && !/^\d+$/.test(words[1] ?? '')) throw new UnexpectedReply(`${cmd}: bad VA line ${JSON.stringify(line)}`);
      const tokens = words.slice(code === 'VA' ? 2 : 1).filter((t) => t !== '' && !(added && t === `O${added}`));
      reply = decodeFlags(code as MetaCode, tokens);
      return code === 'VA' ? size : 'done';
    },
    data(bytes) {
      reply!.value = bytes;
      return 'done';
    },
  };
  return reader;
}

function decodeFlags(code: MetaCode, tokens: string[]): MetaReply {
  const reply: MetaReply = { code, tokens };
  const base64Key = tokens.includes('b');
  for (const t of tokens) {
    const rest = t.slice(1);
    switch (t[0]) {
      case 'c': reply.cas = BigInt(rest); break;
      case 'f': reply.clientFlags = Number(rest); break;
      case 't': reply.ttl = Number(rest); break;
      case 's': reply.size = Number(rest); break;
      case 'h': reply.hit = rest === '1'; break;
      case 'l': reply.lastAccess = Number(rest); break;
      case 'k': reply.key = base64Key ? Buffer.from(rest, 'base64') : rest; break;
      case 'O': reply.opaque = rest; break;
      case 'W': reply.win = true; break;
      case 'X': reply.stale = true; break;
      case 'Z': reply.alreadyWon = true; break;
    }
  }
  return reply;
}

/** The opaque token of a reply line ("HD Oabc k..." -> "abc"), or null. */
export function replyOpaque(line: string): string | null {
  const words = line.split(' ');
  for (let i = 1; i < words.length; i++) if (words[i]!.startsWith('O')) return words[i]!.slice(1);
  return null;
}

// ---- the typed layer -----------------------------------------------------------

interface Common {
  /** O: copied back in the reply. */
  opaque?: string;
  /** q: the server leaves out the nominal reply (see the file comment). */
  quiet?: boolean;
}

export interface MetaGetOptions extends Common {
  returnValue?: boolean; returnCas?: boolean; returnFlags?: boolean; returnHit?: boolean; returnKey?: boolean;
  returnLastAccess?: boolean; returnSize?: boolean; returnTtl?: boolean;
  /** u: don't bump the item in the LRU. */
  noBump?: boolean;
  /** N: on a miss, create an empty item with this TTL (the caller wins: W). */
  vivify?: number;
  /** R: win the recache if the remaining TTL is below this. */
  recache?: number;
  /** T: update the TTL on a hit (touch). */
  ttl?: number;
}

export type MetaSetMode = 'set' | 'add' | 'replace' | 'append' | 'prepend';
export interface MetaSetOptions extends Common {
  mode?: MetaSetMode;
  /** F: client flags (32-bit). */
  flags?: number;
  /** T: time to live, as exptime. */
  ttl?: number;
  /** C: store only if the item's CAS is this. */
  compareCas?: bigint;
  /** I: with compareCas, a lower CAS marks the item stale instead of failing. */
  invalidate?: boolean;
  returnCas?: boolean; returnKey?: boolean;
}

export interface MetaDeleteOptions extends Common {
  compareCas?: bigint;
  /** I: mark stale (and bump CAS) instead of deleting. */
  invalidate?: boolean;
  /** T: with invalidate, the TTL while stale. */
  ttl?: number;
  returnKey?: boolean;
}

export interface MetaArithmeticOptions extends Common {
  mode?: 'incr' | 'decr';
  /** D: default 1. */
  delta?: bigint | number;
  /** N: on a miss, create the item with this TTL... */
  vivify?: number;
  /** J: ...and this initial value (default 0). */
  initial?: bigint | number;
  /** T: update the TTL on success. */
  ttl?: number;
  compareCas?: bigint;
  returnValue?: boolean; returnCas?: boolean; returnTtl?: boolean; returnKey?: boolean;
}

type Kind = 'flag' | 'int' | 'u32' | 'u64' | 'opaque';
type Spec = readonly [option: string, letter: string, kind: Kind];

const common_specs: Spec[] = [['opaque', 'O', 'opaque'], ['quiet', 'q', 'flag']];
// memcached applies mg flags in the order written: modifiers (N R T) go first
// so that t, c, ... report the item as the request leaves it.
const get_specs: Spec[] = [
  ['vivify', 'N', 'int'], ['recache', 'R', 'int'], ['ttl', 'T', 'int'], ['noBump', 'u', 'flag'],
  ['returnValue', 'v', 'flag'], ['returnCas', 'c', 'flag'], ['returnFlags', 'f', 'flag'], ['returnHit', 'h', 'flag'],
  ['returnKey', 'k', 'flag'], ['returnLastAccess', 'l', 'flag'], ['returnSize', 's', 'flag'], ['returnTtl', 't', 'flag'],
  ...common_specs,
];
const set_specs: Spec[] = [
  ['flags', 'F', 'u32'], ['ttl', 'T', 'int'], ['compareCas', 'C', 'u64'], ['invalidate', 'I', 'flag'],
  ['returnCas', 'c', 'flag'], ['returnKey', 'k', 'flag'], ...common_specs,
];
const delete_specs: Spec[] = [['compareCas', 'C', 'u64'], ['invalidate', 'I', 'flag'], ['ttl', 'T', 'int'], ['returnKey', 'k', 'flag'], ...common_specs];
const arithmetic_specs: Spec[] = [
  ['delta', 'D', 'u64'], ['vivify', 'N', 'int'], ['initial', 'J', 'u64'], ['ttl', 'T', 'int'], ['compareCas', 'C', 'u64'],
  ['returnValue', 'v', 'flag'], ['returnCas', 'c', 'flag'], ['returnTtl', 't', 'flag'], ['returnKey', 'k', 'flag'], ...common_specs,
];

const set_modes: Record<MetaSetMode, string> = { set: 'S', add: 'E', replace: 'R', append: 'A', prepend: 'P' };
const arithmetic_modes = { incr: 'I', decr: 'D' } as const;

function toFlags(opts: object, specs: readonly Spec[]): string[] {
  const flags: string[] = [];
  const values = opts as Record<string, unknown>;
  for (const [option, letter, kind] of specs) {
    const v = values[option];
    if (v === undefined || v === false) continue;
    flags.push(kind === 'flag' ? letter : `${letter}${checkToken(option, kind, v)}`);
  }
  return flags;
}

function checkToken(option: string, kind: Kind, v: unknown): string {
  switch (kind) {
    case 'int': return String(checkInt(option, v as number));
    case 'u32': return String(checkU32(option, v as number));
    case 'u64': return String(checkU64(option, v as bigint | number));
    default: {
      const s = String(v);
      if (!s || Buffer.byteLength(s) > opaque_length_max || !isPrintable(Buffer.from(s))) throw new ArgumentError(`${option} must be 1 to ${opaque_length_max} printable bytes, got ${JSON.stringify(s)}`);
      return s;
    }
  }
}

export const metaGetFlags = (o: MetaGetOptions): string[] => toFlags(o, get_specs);
export const metaDeleteFlags = (o: MetaDeleteOptions): string[] => toFlags(o, delete_specs);

export function metaSetFlags(o: MetaSetOptions): string[] {
  const mode = o.mode === undefined ? [] : [`M${modeLetter(set_modes, o.mode)}`];
  return [...toFlags(o, set_specs), ...mode];
}

export function metaArithmeticFlags(o: MetaArithmeticOptions): string[] {
  const mode = o.mode === undefined ? [] : [`M${modeLetter(arithmetic_modes, o.mode)}`];
  return [...toFlags(o, arithmetic_specs), ...mode];
}

function modeLetter<M extends string>(modes: Record<M, string>, mode: M): string {
  const letter = modes[mode];
  if (!letter) throw new ArgumentError(`unknown mode ${JSON.stringify(mode)} (one of ${Object.keys(modes).join(', ')})`);
  return letter;
}

/** ME <key> <k>=<v>* as a map (EN: undefined). */
export function debugFields(reply: MetaReply): Map<string, string> | undefined {
  if (reply.code !== 'ME') return undefined;
  const fields = new Map<string, string>();
  for (const t of reply.tokens.slice(1)) {
    const eq = t.indexOf('=');
    if (eq > 0) fields.set(t.slice(0, eq), t.slice(eq + 1));
  }
  return fields;
}

