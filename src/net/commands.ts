// One text-protocol command line -> a Request, with memcached's answers for
// bad input (proto_text.c process_command_ascii and its process_* helpers):
//
// - tokens are separated by single spaces only, at most 24 tokens counting
//   memcached's terminal token (get-style commands take any number of keys);
// - argument counts outside a command's range answer ERROR;
// - bad numbers and keys over 250 bytes answer CLIENT_ERROR bad command line
//   format, and the data block of such a store is NOT swallowed (memcached
//   reads it as the next command); a get-family line still looks up the keys
//   before the bad one (gat touches them), as memcached does;
// - `noreply` is recognised as the last token and silences errors too;
// - an unknown command whose last token starts with HTTP/ closes the connection,
//   unless memcached's first-letter dispatch would already have answered ERROR.
// - like memcached's C string handling, a NUL byte ends the line;
// - the meta commands (any 2-letter command starting with 'm') go to meta.ts.
//
// Keys: memcached's rule by default (at most 250 bytes; any byte but the
// space and newline that frame them), because real clients rely on it:
// libmemcached's memcaslap puts 0x10 bytes in every key. With strictKeys
// (--strict-keys) keys holding control characters or DEL are refused with
// CLIENT_ERROR, as doc/protocol.txt says keys should be.

import { safeStrtol, safeStrtoul, safeStrtoull } from '../engine/cnumbers.js';
import { itemTotalBytes } from '../engine/engine.js';
import type { StoreMode } from '../engine/types.js';
import { parseMeta, type MetaSetHeader, type SwallowHeader } from './meta.js';
import { client_error_format, type Request } from './requests.js';
import { max_tokens, ntokensOf, tokenIs, tokenize, tokenText, validKeyBytes, type Tokens } from './tokens.js';

/** A store command's line, before its data block arrives. */
export interface StoreHeader {
  kind: 'store_header';
  mode: StoreMode;
  key: string;
  flags: number;
  exptime: number;
  casUnique: bigint;
  noreply: boolean;
  /** Data bytes to read, including the trailing "\r\n". */
  dataBytes: number;
  tooLarge: boolean;
}

function hasNoreply(line: Buffer, t: Tokens, ntokens: number): boolean {
  const index = ntokens - 2;
  return index >= 0 && index < t.count && tokenIs(line, t, index, 'noreply');
}

const reply = (text: string, noreply = false): Request => ({ kind: 'reply', line: text, noreply });
const ERROR = (): Request => reply('ERROR');

/** Parses line[start, end) (no '\n', no trailing '\r'). */
export function parseCommandLine(
  line: Buffer, itemSizeMaxBytes: number, strictKeys = false, start = 0, end = line.length,
): Request | StoreHeader | MetaSetHeader | SwallowHeader {
  const t = tokenize(line, start, end);
  const ntokens = ntokensOf(t);
  if (t.count === 0 || t.ends[0]! - t.starts[0]! < 2) return ERROR();
  // As memcached, every 2-letter command starting with 'm' is a meta command (or ERROR).
  if (line[t.starts[0]!] === 0x6d && t.ends[0]! - t.starts[0]! === 2) return parseMeta(line, t, ntokens, itemSizeMaxBytes, strictKeys);
  const command = commandName(line, t);
  switch (command) {
    case 'get': return parseGet(line, t, false, false, strictKeys);
    case 'gets': return parseGet(line, t, true, false, strictKeys);
    case 'gat': return parseGet(line, t, false, true, strictKeys);
    case 'gats': return parseGet(line, t, true, true, strictKeys);
    case 'bget': return parseGet(line, t, false, false, strictKeys); // long-undocumented alias memcached still answers
    case 'set': case 'add': case 'replace': case 'append': case 'prepend':
      if (ntokens !== 6 && ntokens !== 7) return ERROR();
      return parseStore(line, t, ntokens, command, itemSizeMaxBytes, strictKeys);
    case 'cas':
      if (ntokens !== 7 && ntokens !== 8) return ERROR();
      return parseStore(line, t, ntokens, 'cas', itemSizeMaxBytes, strictKeys);
    case 'delete': return parseDelete(line, t, ntokens, strictKeys);
    case 'incr': case 'decr': return parseDelta(line, t, ntokens, command === 'incr', strictKeys);
    case 'touch': return parseTouch(line, t, ntokens, strictKeys);
    case 'flush_all': return parseFlushAll(line, t, ntokens);
    case 'version': return { kind: 'version' };
    case 'quit': return { kind: 'quit' };
    case 'verbosity': return parseVerbosity(line, t, ntokens);
    case 'stats': return { kind: 'stats', args: argumentTexts(line, t) };
    case 'lru_crawler': return { kind: 'lru_crawler', args: argumentTexts(line, t) };
    case 'shutdown': return { kind: 'shutdown', args: argumentTexts(line, t) };
    case 'cache_memlimit': {
      if (ntokens !== 3 && ntokens !== 4) return ERROR();
      const mb = safeStrtoul(line, t.starts[1], t.ends[1]);
      return { kind: 'cache_memlimit', megabytes: mb, noreply: hasNoreply(line, t, ntokens) };
    }
    case 'slabs': return parseSlabs(line, t, ntokens);
    default:
      // memcached dispatches on the first letter first: an unknown command
      // starting with one of these is ERROR.
      if (!'gsacidt'.includes(command[0]!)) {
        const last = Math.min(t.count, max_tokens - 1) - 1;
        if (t.ends[last]! - t.starts[last]! >= 5 && line.toString('latin1', t.starts[last], t.starts[last]! + 5) === 'HTTP/') {
          return { kind: 'close', reason: 'HTTP request' };
        }
      }
      return ERROR();
  }
}

/** The tokens after the command word, as strings. */
function argumentTexts(line: Buffer, t: Tokens): string[] {
  const args: string[] = [];
  for (let i = 1; i < t.count; i++) args.push(tokenText(line, t, i));
  return args;
}

const hotCommands = ['get', 'gets', 'set'];

/** The command word; the hottest ones are matched on bytes, without making a string. */
function commandName(line: Buffer, t: Tokens): string {
  for (const name of hotCommands) if (tokenIs(line, t, 0, name)) return name;
  return tokenText(line, t, 0);
}

function parseGet(line: Buffer, t: Tokens, withCas: boolean, touch: boolean, strictKeys: boolean): Request {
  if (t.count < 2) return ERROR();
  let first = 1;
  let touchExptime: number | undefined;
  if (touch) {
    const exptime = safeStrtol(line, t.starts[1], t.ends[1]);
    if (exptime === null) return reply('CLIENT_ERROR invalid exptime argument');
    touchExptime = exptime;
    first = 2;
  }
  const keys: string[] = [];
  for (let i = first; i < t.count; i++) {
    if (!validKeyBytes(line, t.starts[i]!, t.ends[i]!, strictKeys)) {
      // memcached has already looked up (and for gat, touched) the keys before this one.
      return { kind: 'get', keys, withCas, touchExptime, error: client_error_format };
    }
    keys.push(line.toString('latin1', t.starts[i], t.ends[i]));
  }
  return { kind: 'get', keys, withCas, touchExptime };
}

function parseStore(line: Buffer, t: Tokens, ntokens: number, mode: StoreMode, itemSizeMaxBytes: number, strictKeys: boolean): Request | StoreHeader {
  const noreply = hasNoreply(line, t, ntokens);
  const keyStart = t.starts[1]!;
  const keyEnd = t.ends[1]!;
  if (!validKeyBytes(line, keyStart, keyEnd, strictKeys)) return reply(client_error_format, noreply);
  const flags = safeStrtoul(line, t.starts[2], t.ends[2]);
  const exptime = safeStrtol(line, t.starts[3], t.ends[3]);
  const bytes = safeStrtol(line, t.starts[4], t.ends[4]);
  if (flags === null || exptime === null || bytes === null) return reply(client_error_format, noreply);
  let casUnique = 0n;
  if (mode === 'cas') {
    const cas = safeStrtoull(line, t.starts[5], t.ends[5]);
    if (cas === null) return reply(client_error_format, noreply);
    casUnique = cas;
  }
  if (bytes < 0 || bytes > 0x7fffffff - 2) return reply(client_error_format, noreply);
  const key = line.toString('latin1', keyStart, keyEnd);
  const tooLarge = itemTotalBytes(key.length, bytes, flags) > itemSizeMaxBytes;
  return { kind: 'store_header', mode, key, flags, exptime, casUnique, noreply, dataBytes: bytes + 2, tooLarge };
}

function parseDelete(line: Buffer, t: Tokens, ntokens: number, strictKeys: boolean): Request {
  if (ntokens < 3 || ntokens > 5) return ERROR();
  let noreply = false;
  if (ntokens > 3) {
    const holdIsZero = tokenIs(line, t, 2, '0');
    noreply = hasNoreply(line, t, ntokens);
    const valid = (ntokens === 4 && (holdIsZero || noreply)) || (ntokens === 5 && holdIsZero && noreply);
    if (!valid) return reply('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]', noreply);
  }
  if (!validKeyBytes(line, t.starts[1]!, t.ends[1]!, strictKeys)) return reply(client_error_format, noreply);
  return { kind: 'delete', key: tokenText(line, t, 1), noreply };
}

function parseDelta(line: Buffer, t: Tokens, ntokens: number, incr: boolean, strictKeys: boolean): Request {
  if (ntokens !== 4 && ntokens !== 5) return ERROR();
  const noreply = hasNoreply(line, t, ntokens);
  if (!validKeyBytes(line, t.starts[1]!, t.ends[1]!, strictKeys)) return reply(client_error_format, noreply);
  const delta = safeStrtoull(line, t.starts[2], t.ends[2]);
  if (delta === null) return reply('CLIENT_ERROR invalid numeric delta argument', noreply);
  return { kind: 'delta', incr, key: tokenText(line, t, 1), delta, noreply };
}

function parseTouch(line: Buffer, t: Tokens, ntokens: number, strictKeys: boolean): Request {
  if (ntokens !== 4 && ntokens !== 5) return ERROR();
  const noreply = hasNoreply(line, t, ntokens);
  if (!validKeyBytes(line, t.starts[1]!, t.ends[1]!, strictKeys)) return reply(client_error_format, noreply);
  const exptime = safeStrtol(line, t.starts[2], t.ends[2]);
  if (exptime === null) return reply('CLIENT_ERROR invalid exptime argument', noreply);
  return { kind: 'touch', key: tokenText(line, t, 1), exptime, noreply };
}

function parseFlushAll(line: Buffer, t: Tokens, ntokens: number): Request {
  if (ntokens < 2 || ntokens > 4) return ERROR();
  const noreply = hasNoreply(line, t, ntokens);
  let delaySeconds = 0;
  if (ntokens !== (noreply ? 3 : 2)) {
    const parsed = safeStrtol(line, t.starts[1], t.ends[1]);
    if (parsed === null) return reply('CLIENT_ERROR invalid exptime argument', noreply);
    delaySeconds = parsed;
  }
  return { kind: 'flush_all', delaySeconds, noreply };
}

function parseVerbosity(line: Buffer, t: Tokens, ntokens: number): Request {
  if (ntokens !== 3 && ntokens !== 4) return ERROR();
  const noreply = hasNoreply(line, t, ntokens);
  const level = safeStrtoul(line, t.starts[1], t.ends[1]);
  if (level === null) return reply(client_error_format, noreply);
  return { kind: 'verbosity', level, noreply };
}

/** Only `slabs automove` is understood (we have no slab pages to move): memcached's answers. */
function parseSlabs(line: Buffer, t: Tokens, ntokens: number): Request {
  if (ntokens >= 4 && tokenIs(line, t, 1, 'automove')) {
    const noreply = hasNoreply(line, t, ntokens);
    if (tokenIs(line, t, 2, 'ratio')) {
      return reply(ntokens < 5 || !isCDouble(tokenText(line, t, 3)) ? 'ERROR' : 'OK', noreply);
    }
    const level = safeStrtoul(line, t.starts[2], t.ends[2]);
    if (level === null) return reply(client_error_format, noreply);
    return reply(level <= 2 ? 'OK' : 'ERROR', noreply);
  }
  return ERROR();
}

/**
 * safe_strtod: strtod must consume something, without ERANGE, and stop at the
 * end or at whitespace. Decimal, hex, inf and nan forms, as glibc reads them.
 */
function isCDouble(token: string): boolean {
  const m = /^[\t\n\v\f\r ]*[+-]?(?:(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)|((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?))/i.exec(token);
  if (!m) return false;
  const rest = token.slice(m[0].length);
  if (rest !== '' && !/^[\t\n\v\f\r ]/.test(rest)) return false;
  if (m[2] !== undefined) {
    const v = Number(m[2]);
    if (!Number.isFinite(v)) return false; // overflow: ERANGE
    if (v === 0 && /[1-9]/.test(m[2].replace(/[eE].*$/, ''))) return false; // underflow: ERANGE
  }
  return true;
}
