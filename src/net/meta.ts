// memcached's meta commands (mg ms md ma mn me): a tokenized command line ->
// a MetaRequest, with memcached 1.6.18's answers for bad input
// (proto_text.c process_mget/mset/mdelete/marithmetic/meta_command and
// _meta_flag_preparse). Running them and wording replies is meta-protocol.ts's.
//
// - A line is `<cm> <key> [<datalen>, ms only] <flag>*`. A flag is a token
//   whose first byte names it; the rest is its argument (`T30`, `Oabc`).
// - Checks run in memcached's order: token count (fewer than 3 tokens is
//   ERROR), key length (the encoded key's, for a base64 key), more than 20
//   tokens counting the terminal one, then the flags left to right. A
//   repeated flag, or a first byte >= 127, is "duplicate flag" and an unknown
//   one "invalid flag", at once; a bad argument is an error but checking goes
//   on, and the last such message wins (memcached keeps one errstr). mg and
//   ms answer that message; md and ma always "invalid or duplicate flag".
// - ms: errors found before its <datalen> is known leave the data block to be
//   read as the next command, as memcached does; later ones swallow it.
// - An opaque token is at most 32 bytes counting its 'O'. ms and md check it
//   here; mg and ma check it while they build their reply, after they have
//   acted (meta-protocol.ts), as memcached does.
// - Errors are always answered, whatever `q` says.
// - `b`: the key is base64, decoded exactly as memcached's base64.c does
//   (bytes outside the alphabet are skipped; what remains must be a non-empty
//   multiple of 4; decoding stops at the first block with padding).

import { safeStrtol, safeStrtoul, safeStrtoull } from '../engine/cnumbers.js';
import { itemTotalBytes } from '../engine/engine.js';
import type { StoreMode } from '../engine/types.js';
import { client_error_format, type Request } from './requests.js';
import { tokenIs, tokenText, validKeyBytes, type Tokens } from './tokens.js';

/** memcached's MFLAG_MAX_OPT_LENGTH: lines with more tokens (the terminal one counted) are refused. */
const meta_tokens_max = 20;

/** memcached's MFLAG_MAX_OPAQUE_LENGTH, the 'O' included. */
const opaque_length_max = 32;

export const opaque_too_long = 'CLIENT_ERROR opaque token too long';
const bad_token = 'CLIENT_ERROR bad token in command line format';

export type MetaCommand = 'mg' | 'ms' | 'md' | 'ma' | 'me';

export interface MetaRequest {
  kind: 'meta';
  command: MetaCommand;
  /** The key's bytes as a latin1 string (decoded, with `b`). */
  key: string;
  /** `b`: the key came base64-encoded. */
  keyBinary: boolean;
  /** The flag tokens as sent, in order: replies echo O, k, c, t, ... in this order. */
  tokens: string[];
  /** `q`: leave out the nominal reply (see meta-protocol.ts for which one). */
  quiet: boolean;
  /** `v`: return the value. */
  returnValue: boolean;
  /** `u`: do not bump the item (no fetched mark, no access time, no LRU move). */
  noBump: boolean;
  /** h, l, N, T or R: memcached reads such an item under its lock and bumps it only at the end. */
  locked: boolean;
  /** `I`: invalidate (md) or store stale on a lower CAS (ms). */
  invalidate: boolean;
  /** `T`, `N`, `R`: exptimes in memcached's form (seconds, or a Unix time after 30 days). */
  ttl: number | undefined;
  vivifyTtl: number | undefined;
  recacheTtl: number | undefined;
  /** `F`: client flags (ms). */
  clientFlags: number;
  /** `C`: the CAS to compare. */
  cas: bigint | undefined;
  /** ms: the store mode from `M`, made `cas` by a `C` (set and replace only). */
  storeMode: StoreMode;
  /** ma: `M` mode (I or + increments, D or - decrements), `D` delta and `J` initial value. */
  incr: boolean;
  delta: bigint;
  initial: bigint;
  /** ms: the data block. */
  value: Buffer;
}

/** An ms line whose data block is to be read next; the request then gets it as its value. */
export interface MetaSetHeader {
  kind: 'meta_set_header';
  /** Data bytes to read, including the trailing "\r\n". */
  dataBytes: number;
  request: MetaRequest;
}

/** An ms line answered without its data: the block is read and dropped (memcached's conn_swallow). */
export interface SwallowHeader {
  kind: 'swallow';
  dataBytes: number;
  request: Request;
}

const reply = (line: string): Request => ({ kind: 'reply', line, noreply: false });

const empty = Buffer.alloc(0);

/** Parses a meta command line; t holds its tokens, the first being a 2-letter command starting with 'm'. */
export function parseMeta(line: Buffer, t: Tokens, ntokens: number, itemSizeMaxBytes: number, strictKeys: boolean): Request | MetaSetHeader | SwallowHeader {
  switch (line[t.starts[0]! + 1]) {
    case 0x6e: return reply('MN'); // mn takes anything after it
    case 0x67: return parseKeyed('mg', line, t, ntokens, strictKeys);
    case 0x64: return parseKeyed('md', line, t, ntokens, strictKeys);
    case 0x61: return parseKeyed('ma', line, t, ntokens, strictKeys);
    case 0x73: return parseSet(line, t, ntokens, itemSizeMaxBytes, strictKeys);
    case 0x65: return parseDebug(line, t, ntokens, strictKeys);
    default: return reply('ERROR');
  }
}

function newRequest(command: MetaCommand, line: Buffer, t: Tokens): MetaRequest {
  return {
    kind: 'meta', command, key: tokenText(line, t, 1), keyBinary: false, tokens: [],
    quiet: false, returnValue: false, noBump: false, locked: false, invalidate: false,
    ttl: undefined, vivifyTtl: undefined, recacheTtl: undefined, clientFlags: 0, cas: undefined,
    storeMode: 'set', incr: true, delta: 1n, initial: 0n, value: empty,
  };
}

/** mg, md, ma: `<cm> <key> <flag>*`. */
function parseKeyed(command: 'mg' | 'md' | 'ma', line: Buffer, t: Tokens, ntokens: number, strictKeys: boolean): Request {
  if (ntokens < 3) return reply('ERROR');
  if (!validKeyBytes(line, t.starts[1]!, t.ends[1]!, strictKeys)) return reply(client_error_format);
  if (ntokens > meta_tokens_max) {
    return reply(command === 'mg' ? 'CLIENT_ERROR options flags are too long' : 'CLIENT_ERROR options flags too long');
  }
  const r = newRequest(command, line, t);
  const { error, mode } = parseFlags(line, t, 2, r);
  if (error !== null) return reply(command === 'mg' ? error : 'CLIENT_ERROR invalid or duplicate flag');
  if (command === 'md' && r.tokens.some(isOverlongOpaque)) return reply(opaque_too_long);
  if (command === 'ma') {
    const incr = arithmeticMode(mode);
    if (incr === null) return reply('CLIENT_ERROR invalid mode for ma M token');
    r.incr = incr;
  }
  return r;
}

/** ms: `ms <key> <datalen> <flag>*` and a data block. */
function parseSet(line: Buffer, t: Tokens, ntokens: number, itemSizeMaxBytes: number, strictKeys: boolean): Request | MetaSetHeader | SwallowHeader {
  if (ntokens < 3) return reply('ERROR');
  if (!validKeyBytes(line, t.starts[1]!, t.ends[1]!, strictKeys) || ntokens === 3) return reply(client_error_format);
  if (ntokens > meta_tokens_max) return reply('CLIENT_ERROR options flags too long');
  const length = safeStrtol(line, t.starts[2], t.ends[2]);
  if (length === null || length < 0 || length > 0x7fffffff - 2) return reply(client_error_format);
  const dataBytes = length + 2;
  const swallow = (request: Request): SwallowHeader => ({ kind: 'swallow', dataBytes, request });
  const r = newRequest('ms', line, t);
  const { error, mode } = parseFlags(line, t, 3, r);
  if (error !== null) return swallow(reply(error));
  const storeMode = setMode(mode, r.cas !== undefined);
  if (storeMode === null) return swallow(reply('CLIENT_ERROR invalid mode for ms M token'));
  if (r.tokens.some(isOverlongOpaque)) return swallow(reply(opaque_too_long));
  r.storeMode = storeMode;
  if (itemTotalBytes(r.key.length, length, r.clientFlags) > itemSizeMaxBytes) {
    // memcached's ms unlinks the old item whatever the mode: the classic `set` refusal does that.
    return swallow({ kind: 'too_large', mode: 'set', key: r.key, noreply: false });
  }
  return { kind: 'meta_set_header', dataBytes, request: r };
}

/** me: `me <key> [b]`; only a `b` right after the key means anything. */
function parseDebug(line: Buffer, t: Tokens, ntokens: number, strictKeys: boolean): Request {
  if (ntokens < 3 || !validKeyBytes(line, t.starts[1]!, t.ends[1]!, strictKeys)) return reply(client_error_format);
  const r = newRequest('me', line, t);
  if (ntokens >= 4 && tokenIs(line, t, 2, 'b')) {
    const key = decodeBase64Key(line, t.starts[1]!, t.ends[1]!);
    if (key === null) return reply(client_error_format);
    r.key = key;
    r.keyBinary = true;
  }
  return r;
}

/** Flags seen so far on the line being parsed (parsing is synchronous: one scratch array). */
const seen = new Uint8Array(127);

/**
 * memcached's _meta_flag_preparse over tokens[first..]: fills r, and returns
 * the error message to answer (null if none) and the `M` mode byte (0 if none).
 */
function parseFlags(line: Buffer, t: Tokens, first: number, r: MetaRequest): { error: string | null; mode: number } {
  seen.fill(0);
  let message: string | null = null;
  let failed = false;
  let mode = 0;
  const fail = (m: string | null) => { if (m !== null) message = m; failed = true; };
  for (let i = first; i < t.count; i++) {
    const at = t.starts[i]!;
    const end = t.ends[i]!;
    const flag = line[at]!;
    if (flag >= 127 || seen[flag]) return { error: 'CLIENT_ERROR duplicate flag', mode };
    seen[flag] = 1;
    r.tokens.push(line.toString('latin1', at, end));
    switch (String.fromCharCode(flag)) {
      case 'b': {
        const key = decodeBase64Key(line, t.starts[1]!, t.ends[1]!);
        if (key === null) fail('CLIENT_ERROR error decoding key');
        else r.key = key;
        r.keyBinary = true;
        break;
      }
      case 'N': r.locked = true; r.vivifyTtl = exptimeArg(line, at, end, fail); break;
      case 'T': r.locked = true; r.ttl = exptimeArg(line, at, end, fail); break;
      case 'R': r.locked = true; r.recacheTtl = exptimeArg(line, at, end, fail); break;
      case 'l': case 'h': r.locked = true; break;
      case 'O': case 'P': case 'L': case 'k': case 's': case 't': case 'c': case 'f': break;
      case 'v': r.returnValue = true; break;
      case 'u': r.noBump = true; break;
      case 'q': r.quiet = true; break;
      case 'I': r.invalidate = true; break;
      case 'F': {
        const flags = safeStrtoul(line, at + 1, end);
        if (flags === null) fail(null); // memcached sets no message of its own here
        else r.clientFlags = flags;
        break;
      }
      case 'C': r.cas = u64Arg(line, at, end, bad_token, fail) ?? r.cas; break;
      case 'J': r.initial = u64Arg(line, at, end, 'CLIENT_ERROR invalid numeric initial value', fail) ?? r.initial; break;
      case 'D': r.delta = u64Arg(line, at, end, 'CLIENT_ERROR invalid numeric delta value', fail) ?? r.delta; break;
      case 'M':
        if (end - at !== 2) fail('CLIENT_ERROR incorrect length for M token');
        else mode = line[at + 1]!;
        break;
      default:
        return { error: 'CLIENT_ERROR invalid flag', mode };
    }
  }
  return { error: failed ? message ?? client_error_format : null, mode };
}

function exptimeArg(line: Buffer, at: number, end: number, fail: (m: string) => void): number | undefined {
  const v = safeStrtol(line, at + 1, end);
  if (v === null) fail(bad_token);
  return v ?? undefined;
}

function u64Arg(line: Buffer, at: number, end: number, message: string, fail: (m: string) => void): bigint | null {
  const v = safeStrtoull(line, at + 1, end);
  if (v === null) fail(message);
  return v;
}

/** An opaque token (O...) longer than memcached accepts. */
export function isOverlongOpaque(tok: string): boolean {
  return tok.charCodeAt(0) === 0x4f && tok.length > opaque_length_max;
}

/** ms `M`: E add, A append, P prepend, R replace, S (or none) set; a `C` turns set and replace into cas. */
function setMode(mode: number, hasCas: boolean): StoreMode | null {
  let storeMode: StoreMode;
  switch (mode) {
    case 0: case 0x53: storeMode = 'set'; break;
    case 0x45: storeMode = 'add'; break;
    case 0x41: storeMode = 'append'; break;
    case 0x50: storeMode = 'prepend'; break;
    case 0x52: storeMode = 'replace'; break;
    default: return null;
  }
  return hasCas && (storeMode === 'set' || storeMode === 'replace') ? 'cas' : storeMode;
}

/** ma `M`: true to increment (I, +, or none), false to decrement (D, -), null for anything else. */
function arithmeticMode(mode: number): boolean | null {
  switch (mode) {
    case 0: case 0x49: case 0x2b: return true;
    case 0x44: case 0x2d: return false;
    default: return null;
  }
}

const base64_alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const base64_skip = 0x80;
/** memcached's dtable: a byte's 6-bit value, '=' as 0, base64_skip for bytes outside the alphabet. */
const base64_values = (() => {
  const table = new Uint8Array(256).fill(base64_skip);
  for (let i = 0; i < base64_alphabet.length; i++) table[base64_alphabet.charCodeAt(i)] = i;
  table[0x3d] = 0;
  return table;
})();

/** memcached's base64_decode of line[start, end) as a latin1 string, or null where it fails. */
export function decodeBase64Key(line: Buffer, start: number, end: number): string | null {
  let count = 0;
  for (let i = start; i < end; i++) if (base64_values[line[i]!] !== base64_skip) count++;
  if (count === 0 || count % 4 !== 0) return null;
  const out: number[] = [];
  const block = [0, 0, 0, 0];
  let n = 0;
  let pad = 0;
  for (let i = start; i < end; i++) {
    const v = base64_values[line[i]!]!;
    if (v === base64_skip) continue;
    if (line[i] === 0x3d) pad++;
    block[n++] = v;
    if (n < 4) continue;
    out.push(((block[0]! << 2) | (block[1]! >> 4)) & 0xff, ((block[1]! << 4) | (block[2]! >> 2)) & 0xff, ((block[2]! << 6) | block[3]!) & 0xff);
    n = 0;
    if (pad === 0) continue;
    if (pad > 2) return null; // invalid padding
    out.length -= pad;
    break;
  }
  return String.fromCharCode(...out);
}

/** base64 as memcached's base64_encode writes it (standard alphabet, '=' padding, no line breaks). */
export function encodeBase64Key(key: string): string {
  return Buffer.from(key, 'latin1').toString('base64');
}
