// Generators for the differential test (differential.test.ts): sequences of
// classic text-protocol commands, valid and invalid, sent byte for byte to
// our server and to a real memcached.
//
// A Command is a list of Parts: latin1 strings (raw bytes, whitespace and
// line ends included) or symbols resolved when the command is sent, per
// server: a CAS value that connection has already seen (CasRef), or a Unix
// time relative to the moment of sending (UnixTime), each after an optional
// prefix (a meta flag's letter: `C<cas>`, `T<time>`). Each command family is
// one arbitrary in `commandFamilies`; another family is added by appending
// one entry there, or, for families in a file of their own that build on
// this one (meta-commands.ts), to the list differential.test.ts plays.
//
// Invariants, so that both servers' answers are deterministic and reading
// them always ends (wire.ts sends a pad and a sentinel after each segment):
// - every number either server could read as a data length n (strtol, then
//   truncated to int32, as memcached does) is below length_bound_bytes or is
//   rejected (negative, > INT_MAX - 2, unparsable): a pad of pad_bytes then
//   always completes an open data block or swallow;
// - no run of bytes without '\n' is longer than run_bytes_max: memcached
//   runs a longer line when it arrives in one read but closes the connection
//   when it arrives split, and we always close (a deliberate deviation);
// - a server never reads 1 or 2 as an exptime or a flush_all delay: memcached
//   keeps time in whole seconds, so such values expire or flush a random
//   part of a second later than ours (a deliberate deviation), and stock
//   memcached's `flush_all 1` even flushes at once;
// - the first byte is never 0x80, which would select the binary protocol;
// - keys and junk words never start with a digit, a sign or whitespace, so
//   no key or junk is read as a number when a mutation shifts tokens;
// - no value made only of whitespace is ever stored, and no number in
//   [2^63, 2^64) is stored or reached by incr: memcached parses values for
//   incr/decr as C strings though they are not NUL-terminated, so there its
//   answer depends on the bytes after the value in memory;
// - a line holding a CAS value seen earlier (it differs per server) is never
//   mangled, so that value cannot shift into a length or flags position;
// - commands whose memcached answer depends on how its reads were batched
//   start a segment of their own (startsSegment).
//
// keyArb, numberArb, exptimeArb and the other arbitraries exported below keep
// these invariants and are exported for new families.

import fc from 'fast-check';

/** -I for both servers: 1k is the smallest memcached accepts (with -o slab_chunk_max=1024). */
export const item_size_max_bytes = 1024;
/** Declared lengths stay below this (a little over -I, so too-large stores are covered). */
export const length_bound_bytes = 1100;
/** Pad before a sentinel: longer than any data block or swallow a command can open. */
export const pad_bytes = length_bound_bytes + 8;
/** Longest run of bytes without a newline in a sequence (memcached's limit is 2048). */
export const run_bytes_max = 2000;

export interface CasRef { readonly casRef: number; readonly prefix?: string }
export interface UnixTime { readonly nowPlus: number; readonly prefix?: string }
export type Part = string | CasRef | UnixTime;

export interface Command { readonly family: string; readonly parts: readonly Part[] }

/**
 * finish 'sentinel': the last segment ends with a pad and a sentinel like the
 * others; 'fin': the client half-closes instead and reads until the server closes.
 */
export interface Sequence { readonly commands: readonly Command[]; readonly finish: 'sentinel' | 'fin' }

/** How a connection resolves symbols when it sends a command. */
export interface RenderContext {
  /** CAS values seen on this connection so far, in order of first appearance. */
  readonly casSeen: readonly string[];
  readonly nowSeconds: number;
}

function renderPart(part: Part, ctx: RenderContext): string {
  if (typeof part === 'string') return part;
  const prefix = part.prefix ?? '';
  if ('casRef' in part) return prefix + (ctx.casSeen.length ? ctx.casSeen[part.casRef % ctx.casSeen.length]! : '0');
  return prefix + String(ctx.nowSeconds + part.nowPlus);
}

export const renderCommand = (c: Command, ctx: RenderContext): string => c.parts.map((p) => renderPart(p, ctx)).join('');

/** The command as a reader sees it: symbols by name, bytes escaped. */
export function showCommand(c: Command): string {
  return c.parts.map((p) => {
    if (typeof p === 'string') return escapeBytes(p);
    const prefix = escapeBytes(p.prefix ?? '');
    return prefix + ('casRef' in p ? `<cas seen #${p.casRef}>` : `<now${p.nowPlus >= 0 ? '+' : ''}${p.nowPlus}s>`);
  }).join('');
}

/** Bytes made readable: \\r, \\n, \\t, and \\xNN for other control and high bytes. */
export function escapeBytes(s: string): string {
  let out = '';
  for (const ch of s) {
    const code = ch.charCodeAt(0);
    if (ch === '\\') out += '\\\\';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code >= 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

const hasCasRef = (c: Command): boolean => c.parts.some((p) => typeof p !== 'string' && 'casRef' in p);

/**
 * Whether a command must start a segment, sent only once every earlier reply
 * has arrived:
 * - it needs a CAS value from an earlier reply;
 * - it is an incr/decr or an ma: memcached rewrites a value in place
 *   (padding a shorter result with spaces) only when nothing else holds the
 *   item, and a get or mg earlier in its read batch does until its reply is
 *   written; then it stores the bare number (and an ma's T is lost, see
 *   meta-commands.ts). We always pad, as memcached does on a quiet item;
 * - it makes memcached drop the replies it has not yet written (those of its
 *   read batch, up to 20 requests): an HTTP request line (conn_closing), and
 *   a get/gets/gat/gats with a key over 250 bytes (conn_release_items culls
 *   the whole response chain, not just the get's own VALUEs). What memcached
 *   then sends depends on how TCP cut the stream; we always send the replies
 *   owed, which is what memcached sends when the line arrives in a later read.
 */
export function startsSegment(c: Command): boolean {
  if (hasCasRef(c) || c.family === 'http' || c.family === 'delta' || c.family === 'ma') return true;
  if (c.family !== 'get' && c.family !== 'gat') return false;
  // (A long get line is rendered whole here: keys past the 24th token count too.)
  const line = renderCommand(c, widest).split('\n')[0]!.split('\0')[0]!.replace(/\r$/, '');
  return line.split(' ').some((word) => word.length > 250);
}

// ---- numbers --------------------------------------------------------------------

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const INT_MAX = (1n << 31n) - 1n;

/**
 * What memcached's safe_strtol leaves in an int32 for this value: null when
 * strtol fails (ERANGE). Written out here, independent of src/engine/cnumbers.ts.
 */
function strtolInt32(v: bigint): bigint | null {
  if (v < I64_MIN || v > I64_MAX) return null;
  return BigInt.asIntN(32, v);
}

/** Safe in any position: never a long data block, never a one-second-grain time (invariants above). */
function isSafeNumber(v: bigint): boolean {
  const n = strtolInt32(v);
  if (n === null) return true;
  if (n === 1n || n === 2n) return false;
  return !(n >= BigInt(length_bound_bytes) && n <= INT_MAX - 2n);
}

const edgeValues: bigint[] = [
  0n, 3n, 5n, 10n, 100n, 255n, 1023n, 1024n, 65535n, 65536n,
  (1n << 31n) - 2n, (1n << 31n) - 1n, 1n << 31n, (1n << 32n) - 1n, 1n << 32n, (1n << 32n) + 5n,
  I64_MAX, 1n << 63n, (1n << 64n) - 1n, 1n << 64n, 10n ** 30n,
  -1n, -2n, -(1n << 31n), -(1n << 31n) - 1n, I64_MIN, I64_MIN - 1n,
].filter(isSafeNumber);

/** A value written the ways clients (and fuzzers) write it: plain, leading zeros, '+', tab before or after. */
function formatted(v: bigint): fc.Arbitrary<string> {
  const s = v.toString();
  const digits = v < 0n ? s.slice(1) : s;
  const sign = v < 0n ? '-' : '';
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(s) },
    { weight: 1, arbitrary: fc.constant(`${sign}00${digits}`) },
    { weight: 1, arbitrary: fc.constant(v < 0n ? s : `+${s}`) },
    { weight: 1, arbitrary: fc.constant(`${s}\t`) },
    { weight: 1, arbitrary: fc.constant(v === 0n ? '-0' : `${s}x`) },
  );
}

/** Tokens that are not numbers, or only look like one. */
const junkNumber = fc.constantFrom('abc', '1e3', '0x10', '3.5', '-', '+', '1-', '\xb91');

/** Any number for a generic numeric position (flags, delta, cas, verbosity): edges, small values, junk. */
export const numberArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...edgeValues).chain(formatted) },
  { weight: 3, arbitrary: fc.bigInt({ min: 3n, max: BigInt(length_bound_bytes - 1) }).chain(formatted) },
  { weight: 1, arbitrary: junkNumber },
);

/** Flags: mostly 0 or a small type marker, sometimes an edge. */
export const flagsArb = fc.oneof({ weight: 12, arbitrary: fc.constantFrom('0', '0', '0', '1', '2', '16', '4294967295') }, { weight: 1, arbitrary: numberArb });

/**
 * Numbers strtoull reads as below 2^32, or rejects (ERANGE, a '-' giving 2^63
 * or more, junk). Not below -2^63: strtoull negates modulo 2^64, so
 * "-9223372036854775809" is 2^63 - 1, accepted.
 */
const smallNumberArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...edgeValues.filter((v) => (v >= I64_MIN && v < 1n << 32n) || v >= 1n << 64n)).chain(formatted) },
  { weight: 3, arbitrary: fc.bigInt({ min: 3n, max: BigInt(length_bound_bytes - 1) }).chain(formatted) },
  { weight: 1, arbitrary: junkNumber },
);

/**
 * incr/decr amounts: 1 mostly, then edges. An incr adds less than 2^32, so
 * no value reaches 2^63 (see numericValueArb); wrapping at 2^64 is left to
 * the engine tests and memcached's incrdecr.t (conformance run).
 */
export const incrAmountArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('1', '1', '2', '0', '10', '4294967295') }, { weight: 1, arbitrary: smallNumberArb });
export const decrAmountArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('1', '1', '2', '0', '10', '18446744073709551615') }, { weight: 1, arbitrary: numberArb });

/**
 * Exptimes (store, touch, gat): never, relative, absolute past and future,
 * negative, and values that truncate to those; never 1 or 2 (see invariants).
 */
export const exptimeArb: fc.Arbitrary<Part> = fc.oneof(
  { weight: 24, arbitrary: fc.constant('0') },
  { weight: 3, arbitrary: fc.constantFrom(3n, 60n, 1000n, 2592000n, 2592001n, 1000000000n, INT_MAX, -1n, -1000n, 1n << 32n, (1n << 32n) + 60n).chain(formatted) },
  { weight: 2, arbitrary: fc.constantFrom<Part>({ nowPlus: 3600 }, { nowPlus: -3600 }, { nowPlus: 100 }) },
  { weight: 1, arbitrary: numberArb },
);

/**
 * flush_all delays: now, pending for longer than any sequence runs, absolute
 * future. Not an absolute time in the past: memcached turns one before its
 * own start into "no flush" (realtime() gives 1, oldest_live becomes 0),
 * where we flush at once, as memcached does for a past time after its start.
 */
const flushDelayArb: fc.Arbitrary<Part> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('0', '-1', '100', '2147483647', String(1n << 32n)) },
  { weight: 1, arbitrary: fc.constant<Part>({ nowPlus: 3600 }) },
  { weight: 1, arbitrary: numberArb },
);

// ---- keys and values ------------------------------------------------------------

/** Byte strings from a set of byte ranges. */
const bytesFrom = (codes: fc.Arbitrary<number>, min: number, max: number): fc.Arbitrary<string> =>
  fc.array(codes, { minLength: min, maxLength: max }).map((a) => String.fromCharCode(...a));

/** Key bytes memcached accepts: anything but space and newline (control, DEL, high bytes, '\r', tab). */
const oddKeyByte = fc.oneof(
  fc.integer({ min: 0x21, max: 0x7e }),
  fc.constantFrom(0x01, 0x09, 0x0b, 0x0c, 0x0d, 0x1f, 0x7f, 0x80, 0xa0, 0xff),
);

/**
 * Keys: a small pool (so commands meet each other's items), lengths 249-251
 * around KEY_MAX_LENGTH, odd bytes, and rarely a NUL (memcached ends the line
 * there). Every key starts with a letter.
 */
export const keyArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 40, arbitrary: fc.constantFrom('a', 'a', 'b', 'b', 'c', 'n') },
  { weight: 2, arbitrary: fc.constantFrom(249, 250, 251).map((n) => 'k'.repeat(n)) },
  { weight: 2, arbitrary: bytesFrom(oddKeyByte, 0, 8).map((s) => `o${s}`) },
  { weight: 1, arbitrary: fc.constantFrom(249, 250, 251).chain((n) => bytesFrom(oddKeyByte, n - 1, n - 1).map((s) => `o${s}`)) },
  { weight: 1, arbitrary: fc.constant('o\0x') },
);

/**
 * Values incr/decr meet: numbers at the edges, padded, signed, too long, not
 * numbers. None in [2^63, 2^64): memcached's safe_strtoull then looks for a
 * '-' with strchr, which runs past the value (item data is not
 * NUL-terminated) into whatever bytes follow in memory, so its answer is
 * garbage-dependent. Over 2^64 is fine (ERANGE stops it first).
 */
const numericValueArb = fc.constantFrom('0', '1', '41', '10', '99', '007', ' 5', '5 ', '-1', '18446744073709551616',
  '4611686018427387904', '12abc', 'abc', '', '4294967296', '1 2', '3\r\n4');

const isCSpace = (ch: string | undefined): boolean => ch !== undefined && ' \t\n\v\f\r'.includes(ch);

/**
 * Whether a server could store a non-empty value made only of whitespace
 * from this data block (the whole value, or a prefix of it followed by
 * "\r\n" when the declared length is shorter). memcached's incr/decr
 * parse such a value with strtoull, which skips the whitespace, the "\r\n"
 * after the value and runs on into whatever bytes follow in memory (the data
 * is not NUL-terminated): its answer is garbage. We answer non-numeric. Not
 * compared, so never generated.
 */
function storesOnlyWhitespace(block: string): boolean {
  let run = 0;
  while (isCSpace(block[run])) run++;
  return block.slice(0, run).indexOf('\r\n', 1) >= 0;
}

/** Values: short binary, numbers for incr/decr, protocol look-alikes, and sizes around -I. */
const valueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: bytesFrom(fc.integer({ min: 0, max: 255 }), 0, 12) },
  { weight: 4, arbitrary: numericValueArb },
  { weight: 1, arbitrary: fc.constantFrom('get a', 'END', 'VALUE a 0 1', 'STORED', '\r\nx', 'x\r\ny', 'x\n') },
  { weight: 1, arbitrary: fc.integer({ min: item_size_max_bytes - 70, max: length_bound_bytes - 1 }).map((n) => 'v'.repeat(n)) },
).filter((v) => !storesOnlyWhitespace(`${v}\r\n`));

// ---- layout: separators, line ends, data blocks -----------------------------------

/** How a line's words are joined and ended: memcached splits on single spaces only. */
interface Layout { lead: string; seps: string[]; trail: string; eol: string }

const sepArb = fc.oneof({ weight: 6, arbitrary: fc.constant(' ') }, { weight: 1, arbitrary: fc.constantFrom('  ', '\t', ' \t', '   ') });
const eolArb = fc.oneof({ weight: 4, arbitrary: fc.constant('\r\n') }, { weight: 2, arbitrary: fc.constantFrom('\n', '\r\r\n', ' \r\n') }, { weight: 1, arbitrary: fc.constantFrom('', '\n\r') });

/**
 * Lines that always end: one followed by a data block (the data's digits
 * would extend its length word), and a get-family line (the next command
 * would extend its last key past 250 bytes unseen by startsSegment).
 */
const endedEolArb = eolArb.filter((eol) => eol !== '');

/** Mostly a plain line (single spaces, CRLF), so commands meet each other's items; else odd whitespace. */
function layoutArb(words: number, mustEnd: boolean): fc.Arbitrary<Layout> {
  const gaps = Math.max(0, words - 1);
  const plain = fc.constant(plainLayout(words));
  const odd = fc.record({
    lead: fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', '  ', '\t') }),
    seps: fc.array(sepArb, { minLength: gaps, maxLength: gaps }),
    trail: fc.oneof({ weight: 2, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', '  ', '\t') }),
    eol: mustEnd ? endedEolArb : eolArb,
  });
  return fc.oneof({ weight: 9, arbitrary: plain }, { weight: 1, arbitrary: odd });
}

/** Token mutations: wrong token counts and wrong words in place of right ones. */
type Mutation = { kind: 'none' } | { kind: 'drop'; at: number } | { kind: 'extra'; words: string[] } | { kind: 'replace'; at: number; word: string };

const extraWordArb = fc.oneof(fc.constant('noreply'), numberArb, keyArb, fc.constantFrom('x', 'NOREPLY', 'noreply2'));

/** Mostly none; `replaceWords` are what may stand in for a right word. */
export function mutationArb(replaceWords: fc.Arbitrary<string>): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { weight: 40, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 1, arbitrary: fc.nat(7).map((at) => ({ kind: 'drop' as const, at })) },
    { weight: 1, arbitrary: extraWordArb.map((word) => ({ kind: 'extra' as const, words: [word] })) },
    // Past memcached's 24 tokens: the rest of the line is one terminal token.
    { weight: 1, arbitrary: fc.array(fc.constantFrom('x', '0', 'noreply'), { minLength: 18, maxLength: 30 }).map((words) => ({ kind: 'extra' as const, words })) },
    { weight: 1, arbitrary: fc.tuple(fc.nat(7), replaceWords).map(([at, word]) => ({ kind: 'replace' as const, at, word })) },
  );
}

const anyMutationArb = mutationArb(fc.oneof(numberArb, fc.constantFrom('noreply', 'x')));

/**
 * How a line may be mangled. `plain`: not at all (single spaces, CRLF, right
 * words), for a line holding a CasRef: its CAS value differs per server, so
 * it must never be shifted into a length or flags position.
 */
interface LineOptions { plain?: boolean; mutations?: fc.Arbitrary<Mutation> }

const plainLayout = (words: number): Layout => ({ lead: '', seps: Array<string>(Math.max(0, words - 1)).fill(' '), trail: '', eol: '\r\n' });

/** Mutations keep the command word (index 0): shifting it would only test ERROR. */
function mutate(words: Part[], m: Mutation): Part[] {
  const out = [...words];
  if (m.kind === 'drop' && out.length > 1) out.splice(1 + (m.at % (out.length - 1)), 1);
  if (m.kind === 'extra') out.push(...m.words);
  if (m.kind === 'replace' && out.length > 1) out[1 + (m.at % (out.length - 1))] = m.word;
  return out;
}

function joinLine(words: Part[], l: Layout): Part[] {
  const parts: Part[] = [];
  if (l.lead) parts.push(l.lead);
  words.forEach((w, i) => {
    if (i > 0) parts.push(l.seps[i - 1] ?? ' ');
    parts.push(w);
  });
  if (l.trail) parts.push(l.trail);
  parts.push(l.eol);
  return parts;
}

/** A command line: words, then a mutation and a layout applied. */
export function lineArb(family: string, words: fc.Arbitrary<Part[]>, data: fc.Arbitrary<string> = fc.constant(''), options: LineOptions = {}): fc.Arbitrary<Command> {
  const mutations = options.plain ? fc.constant<Mutation>({ kind: 'none' }) : options.mutations ?? anyMutationArb;
  return fc.tuple(words, mutations, data).chain(([w, m, d]) => {
    const mutated = mutate(w, m);
    const layout = options.plain ? fc.constant(plainLayout(mutated.length)) : layoutArb(mutated.length, d !== '' || family === 'get' || family === 'gat');
    return layout.map((l): Command => {
      const parts = joinLine(mutated, l);
      if (d) parts.push(d);
      return { family, parts };
    });
  });
}

const noreplyArb = fc.oneof({ weight: 4, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: fc.constant(['noreply']) });

/**
 * A data block for a value: its declared length word and the bytes sent
 * after the line. Mostly right; sometimes the terminator is wrong or missing,
 * the data is shorter or longer than declared, or the length is an edge number.
 */
export const dataBlockArb: fc.Arbitrary<{ length: string; block: string }> = fc.tuple(
  valueArb,
  fc.oneof(
    { weight: 30, arbitrary: fc.constant('exact') },
    { weight: 1, arbitrary: fc.constantFrom('bad-end', 'lf-only', 'no-end', 'short', 'long', 'edge-length') },
  ),
  fc.integer({ min: 1, max: 4 }),
  numberArb,
).map(([value, chosen, k, edge]) => {
  const n = value.length;
  // Data read past the block starts with the value's first byte: never whitespace (see storesOnlyWhitespace).
  const how = ['short', 'edge-length'].includes(chosen) && (n === 0 || isCSpace(value[0])) ? 'exact' : chosen;
  switch (how) {
    case 'bad-end': return { length: String(n), block: `${value}xy` };
    case 'lf-only': return { length: String(n), block: `${value}\n` };
    case 'no-end': return { length: String(n), block: value };
    case 'short': return { length: String(n + k), block: `${value}\r\n` };
    case 'long': return { length: String(Math.max(0, n - k)), block: `${value}\r\n` };
    case 'edge-length': return { length: edge, block: `${value}\r\n` };
    default: return { length: String(n), block: `${value}\r\n` };
  }
});

// ---- command families -------------------------------------------------------------

const storeNameArb = fc.oneof({ weight: 4, arbitrary: fc.constant('set') }, { weight: 1, arbitrary: fc.constantFrom('add', 'replace', 'append', 'prepend') });

const storeArb = fc.tuple(storeNameArb, keyArb, flagsArb, exptimeArb, dataBlockArb, noreplyArb)
  .chain(([name, key, flags, exptime, d, nr]) => lineArb('store', fc.constant<Part[]>([name, key, flags, exptime, d.length, ...nr]), fc.constant(d.block)));

/**
 * A literal cas unique no item can have: 0, negative, at least 2^32 (neither
 * server's counter gets near it in a test), or not a number. A small literal
 * could equal a CAS value on one server and not on the other.
 */
export const casLiteralArb = fc.oneof(fc.constantFrom(...edgeValues.filter((v) => v <= 0n || v >= 1n << 32n)).chain(formatted), junkNumber);

/**
 * cas: with a CAS value this connection saw earlier (usually; a plain line),
 * or a literal (mangled like any line, but never into a small number).
 */
const casArb = fc.tuple(keyArb, flagsArb, exptimeArb, dataBlockArb, fc.oneof({ weight: 3, arbitrary: fc.nat(7) }, { weight: 1, arbitrary: casLiteralArb }), noreplyArb)
  .chain(([key, flags, exptime, d, unique, nr]) => {
    const words = fc.constant<Part[]>(['cas', key, flags, exptime, d.length, typeof unique === 'number' ? { casRef: unique } : unique, ...nr]);
    const options: LineOptions = typeof unique === 'number' ? { plain: true } : { mutations: mutationArb(fc.oneof(casLiteralArb, fc.constantFrom('noreply', 'x'))) };
    return lineArb('cas', words, fc.constant(d.block), options);
  });

/** get keys: a few, or more than memcached's 24 tokens (it re-tokenizes the rest of the line). */
const getKeysArb = fc.oneof({ weight: 12, arbitrary: fc.array(keyArb, { minLength: 0, maxLength: 4 }) }, { weight: 1, arbitrary: fc.array(fc.constantFrom('a', 'b', 'c', 'n', 'x'), { minLength: 20, maxLength: 40 }) });

/** bget: an ancient alias of get that memcached still answers. */
const getArb = fc.tuple(fc.oneof({ weight: 12, arbitrary: fc.constantFrom('get', 'gets') }, { weight: 1, arbitrary: fc.constant('bget') }), getKeysArb)
  .chain(([name, keys]) => lineArb('get', fc.constant<Part[]>([name, ...keys])));

const gatArb = fc.tuple(fc.constantFrom('gat', 'gats'), exptimeArb, getKeysArb)
  .chain(([name, exptime, keys]) => lineArb('gat', fc.constant<Part[]>([name, exptime, ...keys])));

const deleteArb = fc.tuple(keyArb, fc.oneof({ weight: 6, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: fc.constantFrom(['0'], ['noreply'], ['0', 'noreply'], ['5'], ['0', 'x'], ['5', 'noreply']) }))
  .chain(([key, rest]) => lineArb('delete', fc.constant<Part[]>(['delete', key, ...rest])));

/** incr/decr go mostly to n, which the prelude fills with numbers. */
const deltaCmdArb = fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.constant('n') }, { weight: 2, arbitrary: keyArb }), noreplyArb).chain(([key, nr]) => fc.oneof(
  lineArb('delta', incrAmountArb.map((amount): Part[] => ['incr', key, amount, ...nr]), undefined, { mutations: mutationArb(smallNumberArb) }),
  lineArb('delta', decrAmountArb.map((amount): Part[] => ['decr', key, amount, ...nr])),
));

const touchArb = fc.tuple(keyArb, exptimeArb, noreplyArb)
  .chain(([key, exptime, nr]) => lineArb('touch', fc.constant<Part[]>(['touch', key, exptime, ...nr])));

const flushArb = fc.tuple(fc.option(flushDelayArb, { nil: undefined }), noreplyArb)
  .chain(([delay, nr]) => lineArb('flush_all', fc.constant<Part[]>(['flush_all', ...(delay === undefined ? [] : [delay]), ...nr])));

const verbosityArb = fc.tuple(fc.oneof(fc.constantFrom('0', '1', '3'), numberArb), noreplyArb)
  .chain(([level, nr]) => lineArb('verbosity', fc.constant<Part[]>(['verbosity', level, ...nr])));

const versionArb = lineArb('version', fc.constantFrom<Part[]>(['version'], ['version', 'x']));

/**
 * stats: its body is normalised away (the figures differ); only the framing
 * is compared. Not `stats items` or `stats slabs`: memcached lists the slab
 * classes holding any item, flushed ones included until they are reclaimed,
 * so whether it answers a bare END depends on earlier sequences. Not the
 * subcommands we lack (detail, sizes, conns, cachedump, extstore).
 */
const statsArb = lineArb('stats', fc.constantFrom<Part[]>(['stats'], ['stats', 'settings'], ['stats', 'reset'], ['stats', 'reset', 'x'], ['stats', 'bogus']));

const quitArb = lineArb('quit', fc.constant<Part[]>(['quit']));

/** shutdown: refused, as by memcached without -A (neither server is started with -A here). */
const shutdownArb = lineArb('shutdown', fc.constantFrom<Part[]>(['shutdown'], ['shutdown', 'graceful'], ['shutdown', 'x', 'y']));

/**
 * Words no server implements, near misses of real ones, and HTTP request
 * lines (memcached closes on those, unless first-letter dispatch answers ERROR
 * first). Commands memcached has but this generator does not cover (meta,
 * lru_crawler, watch, lru, slabs, cache_memlimit, ...) are not generated
 * here: they belong to their own family.
 */
const unknownWordArb = fc.constantFrom('foo', 'SET', 'GET', 'Get', 'sets', 'getx', 'gett', 'g', 'x', 'm', 'mxy', 'deletes', 'incrx', 'touched',
  'flush', 'flush_al', 'ver', 'versionx', 'cass', 'quit2', 'verbose', 'ok', 'END', 'xyzzy');

const unknownArb = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(unknownWordArb, fc.array(fc.oneof(keyArb, numberArb), { maxLength: 3 })).chain(([w, rest]) => lineArb('unknown', fc.constant<Part[]>([w, ...rest]))) },
  { weight: 1, arbitrary: fc.constantFrom('GET / HTTP/1.1', 'get / HTTP/1.1', 'POST /x HTTP/1.0', 'foo HTTP/', 'xget a HTTP/1.1').map((line): Command => ({ family: 'http', parts: [line, '\r\n'] })) },
  // Raw junk: printable-ish and high bytes, starting with a letter, then a line end.
  { weight: 1, arbitrary: fc.tuple(bytesFrom(fc.integer({ min: 1, max: 255 }).filter((b) => b !== 0x0a), 0, 60), eolArb).map(([s, eol]): Command => ({ family: 'junk', parts: [`j${s}`, eol] })) },
  // Empty and near-empty lines.
  { weight: 1, arbitrary: fc.constantFrom('\r\n', '\n', ' \r\n', '\r\r\n', 'a\r\n', '\t\r\n').map((line): Command => ({ family: 'empty', parts: [line] })) },
);

/** Every command family with its weight. Add a family (meta commands, say) by appending one entry. */
export const commandFamilies: Array<{ weight: number; arbitrary: fc.Arbitrary<Command> }> = [
  { weight: 14, arbitrary: storeArb },
  { weight: 4, arbitrary: casArb },
  { weight: 10, arbitrary: getArb },
  { weight: 3, arbitrary: gatArb },
  { weight: 4, arbitrary: deleteArb },
  { weight: 6, arbitrary: deltaCmdArb },
  { weight: 3, arbitrary: touchArb },
  { weight: 1, arbitrary: flushArb },
  { weight: 1, arbitrary: verbosityArb },
  { weight: 1, arbitrary: versionArb },
  { weight: 1, arbitrary: statsArb },
  { weight: 1, arbitrary: quitArb },
  { weight: 1, arbitrary: shutdownArb },
  { weight: 2, arbitrary: unknownArb },
];

// ---- sequences --------------------------------------------------------------------

/** Symbols render to at most 20 digits: count them at that width for the run bound. */
const widest: RenderContext = { casSeen: ['18446744073709551615'], nowSeconds: 10_000_000_000 };

/** Longest run of bytes without '\n' in the sequence (one segment after another, pads aside). */
function longestRun(commands: readonly Command[]): number {
  let longest = 0;
  let run = 0;
  for (const c of commands) {
    for (const ch of renderCommand(c, widest)) {
      run = ch === '\n' ? 0 : run + 1;
      if (run > longest) longest = run;
    }
  }
  return longest;
}

/**
 * At most one flush_all per sequence: in memcached a flush only marks items
 * (they stay linked until read or crawled), and a later flush_all with a
 * delay replaces the mark, so items an earlier flush_all removed come back.
 * We do not copy that; between sequences the test has memcached's crawler
 * reclaim flushed items, so no earlier sequence's items can come back either.
 */
const fewFlushes = (s: Sequence): boolean => s.commands.filter((c) => c.family === 'flush_all').length <= 1;

/**
 * Plain valid sets of the pool keys that start most sequences, so later
 * commands find items (n holds a number). Values under 900 bytes fit -I.
 */
const preludeArb: fc.Arbitrary<Command[]> = fc.array(
  fc.tuple(fc.constantFrom('a', 'b', 'c', 'n'), fc.constantFrom('0', '1', '16'), valueArb.filter((v) => v.length < 900), numericValueArb)
    .map(([key, flags, value, number]): Command => {
      const v = key === 'n' ? number : value;
      return { family: 'store', parts: [`set ${key} ${flags} 0 ${v.length}\r\n${v}\r\n`] };
    }),
  { maxLength: 4 },
);

export function sequenceArb(families = commandFamilies, maxCommands = 16): fc.Arbitrary<Sequence> {
  return fc.record({
    commands: fc.tuple(preludeArb, fc.array(fc.oneof(...families), { minLength: 1, maxLength: maxCommands, size: 'max' })).map(([p, c]) => [...p, ...c]),
    finish: fc.oneof({ weight: 4, arbitrary: fc.constant('sentinel' as const) }, { weight: 1, arbitrary: fc.constant('fin' as const) }),
  }).filter((s) => longestRun(s.commands) <= run_bytes_max && renderCommand(s.commands[0]!, widest).charCodeAt(0) !== 0x80 && fewFlushes(s));
}
