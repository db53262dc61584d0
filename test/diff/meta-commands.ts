// Meta-command families for the differential test (differential.test.ts):
// mg, ms, md, ma, mn and me lines, valid and invalid, on the keys the classic
// families use (commands.ts), so that meta and classic state meet: a set
// then an mg, an ms then a gets, an md I then a get, an mg N then an incr.
//
// A line is the command, a key, for ms a data length, then flag tokens: some
// of the flags memcached 1.6.18 documents for that command, in random order,
// their arguments valid, at the edges or bad; rarely a flag memcached parses
// but this command ignores, an undocumented or unknown one, a byte >= 127,
// or a repeat; sometimes missing or extra tokens, odd whitespace or line ends
// (commands.ts lineArb). Keys are the classic ones, or base64 with `b`: of
// the classic keys, of binary bytes, of bytes no text line can carry, or not
// valid base64 at all.
//
// commands.ts's invariants hold here too. Besides, these are kept out of the
// comparison (deliberate deviations, see src/net/meta-protocol.ts and the
// header of test/e2e/meta.test.ts):
// - a base64 key whose bytes hold a space, a newline or a NUL (`fragile`)
//   never loses its base64 mark: no N (memcached vivifies an item without
//   the mark), no ms append or prepend and no ma increment (memcached builds
//   a new item without it) on such a key. memcached would then send the raw
//   bytes in `k` and break its own framing; we send base64 with ` b`;
// - ma takes T only when it decrements: an increment that makes the number
//   longer has memcached build a new item and apply T to the old one, so the
//   new TTL is lost there (we keep it); a decrement never grows the number;
// - R (recache) times are 0, -1, 2000 or 50000 s (or read as 0, or refused),
//   never within a second of a TTL a sequence sets (exptimeArb's and
//   ttlArb's): R wins when the TTL left is below R's, and a tie is broken
//   either way by memcached's one-second clock.
// And to keep commands.ts's invariants: ma increments by less than 2^32 and
// J seeds less than 2^62, so no number reaches [2^63, 2^64); ma starts a
// segment (commands.ts startsSegment), so a quiet run or a same-key run
// holds none.
//
// Besides single lines: quiet runs (q lines, then mn), same-key runs (lines
// on one key, so that what one sets, a TTL, a stale mark, a win token, is
// what the next one sees), lines with too few tokens or no command, and
// lines with 15 to 19 different flags, around memcached's token limit.

import fc from 'fast-check';
import {
  casLiteralArb, dataBlockArb, decrAmountArb, exptimeArb, flagsArb, incrAmountArb, keyArb, lineArb, mutationArb, numberArb,
  type Command, type Part,
} from './commands.js';

// ---- keys -------------------------------------------------------------------

interface MetaKey {
  /** The key token as sent. */
  readonly word: string;
  /** It is sent with a `b` flag. */
  readonly base64: boolean;
  /** Decoded, it holds a byte no text line can carry: it must keep its base64 mark (see above). */
  readonly fragile: boolean;
}

const textKey = (word: string): MetaKey => ({ word, base64: false, fragile: false });
const encodedKey = (bytes: string): MetaKey =>
  ({ word: Buffer.from(bytes, 'latin1').toString('base64'), base64: true, fragile: /[ \n\0]/.test(bytes) });

/** Encoded keys never start with a digit or a sign (commands.ts invariants). */
const metaKeyArb: fc.Arbitrary<MetaKey> = fc.oneof(
  { weight: 14, arbitrary: keyArb.map(textKey) },
  // The classic keys, base64: one item reached by both protocols, with and without the mark.
  { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c', 'n').map(encodedKey) },
  // Binary keys: control and high bytes, a '\r'; then bytes no text line can carry.
  { weight: 1, arbitrary: fc.constantFrom('\x01\xff', '\x80', 'k\x7f\xfe', '\xff\xfe\xfd\xfc', 'a\r').map(encodedKey) },
  { weight: 1, arbitrary: fc.constantFrom('a b', '\n', '\0', 'x\0y', ' ').map(encodedKey) },
  // Not base64 as memcached decodes it, or only in part ('!' and 0x80 skipped,
  // decoding stops at the first padded block), and 248 and 252 bytes encoded.
  {
    weight: 1,
    arbitrary: fc.constantFrom('YQ=', 'Y', '====', 'A===', 'Y!Q==', 'YQ==YQ==', 'Y\x80Q==', 'QUFB'.repeat(62), 'QUFB'.repeat(63))
      .map((word): MetaKey => ({ word, base64: true, fragile: false })),
  },
  // Base64 sent without `b`: just a text key.
  { weight: 1, arbitrary: fc.constantFrom('YQ==', 'AA==').map(textKey) },
);

// ---- flags ------------------------------------------------------------------

/** A flag and its argument as one token: `T60`, or a symbol with the flag as its prefix (`T<now+3600s>`, `C<cas seen #2>`). */
const withArg = (flag: string, arg: fc.Arbitrary<Part>): fc.Arbitrary<Part> =>
  arg.map((a) => (typeof a === 'string' ? flag + a : { ...a, prefix: flag }));

/** Arguments no number parser accepts. */
const badArgArb = fc.constantFrom('', 'x', '1e3', '5x');

/** T and N: exptimeArb's, more often a TTL that shows in t than exptimeArb's mostly-0. */
const ttlArb = fc.oneof(
  { weight: 4, arbitrary: exptimeArb },
  { weight: 4, arbitrary: fc.constantFrom<Part>('60', '1000', '100', { nowPlus: 3600 }) },
  { weight: 1, arbitrary: badArgArb },
);

/** R: never near a TTL a sequence sets (see above); 2^32 reads as 0 (int32), 2^63 is out of range. */
const recacheArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('0', '-1', '2000', '50000') },
  { weight: 1, arbitrary: fc.constantFrom('4294967296', '9223372036854775808') },
  { weight: 1, arbitrary: badArgArb },
);

/** C: mostly a CAS value this connection saw (the line is then sent unmangled), else a literal no item has. */
const casArgArb: fc.Arbitrary<Part> = fc.oneof(
  { weight: 3, arbitrary: fc.nat(7).map((casRef): Part => ({ casRef })) },
  { weight: 1, arbitrary: casLiteralArb },
);

/** O: short, or around memcached's 32 bytes counting the 'O'. */
const opaqueArb = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...'az09:_-.AZ'), maxLength: 8 }) },
  { weight: 1, arbitrary: fc.integer({ min: 30, max: 33 }).map((n) => 'o'.repeat(n)) },
).map((s) => `O${s}`);

const clientFlagsArb = fc.oneof({ weight: 8, arbitrary: flagsArb }, { weight: 1, arbitrary: badArgArb });

/** J: below 2^62, or refused (negative, over 2^64, junk). */
const initialArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('0', '5', '13', '99', '4294967296', '4611686018427387904') },
  { weight: 1, arbitrary: fc.constantFrom('-1', '18446744073709551616', '', 'x') },
);

/**
 * Flags memcached parses but the command at hand ignores, flags it does not
 * know (E, S and others of later versions), bytes >= 127 (answered as a
 * duplicate), and flags the command takes, which may repeat one. Never b, N,
 * T or M: they are the command's own (see the invariants above).
 */
const strayFlagArb = fc.constantFrom(
  'E', 'S5', 'x', 'W', 'X', 'Z', 'a', 'i', '1', '+', '\x7f', '\x80', '\xff',
  'P', 'Lpath', 'F5', 'J7', 'D2', 'C5000000000', 'I', 'R2000', 'O', 'q', 'k', 'c', 's', 't', 'f', 'u', 'h', 'l', 'v',
);

/** A flag token's letter (a symbol's is its prefix's). */
const flagLetter = (f: Part): string => (typeof f === 'string' ? f : f.prefix ?? '').charAt(0);

/** A line's quietness: `q` forced on (a quiet run), or one of the flags that may be drawn. */
type Quiet = 'forced' | 'maybe';

/** The line's flags: some of `own`, in random order; rarely stray ones or a repeat; `b` with a base64 key, `q` when forced. */
function flagsOf(own: ReadonlyArray<fc.Arbitrary<Part>>, key: MetaKey, quiet: Quiet): fc.Arbitrary<Part[]> {
  const stray = fc.oneof({ weight: 20, arbitrary: fc.constant<Part[]>([]) }, { weight: 1, arbitrary: fc.array(strayFlagArb, { minLength: 1, maxLength: 2 }) });
  const repeat = fc.oneof({ weight: 30, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() });
  return fc.tuple(fc.tuple(...own).chain((all) => fc.shuffledSubarray(all, { maxLength: Math.min(6, all.length) })), stray, repeat).chain(([chosen, odd, at]) => {
    const flags: Part[] = [...chosen, ...odd];
    if (at !== undefined && chosen.length > 0) flags.push(chosen[at % chosen.length]!);
    if (key.base64) flags.push('b');
    if (quiet === 'forced') flags.push('q');
    return fc.shuffledSubarray(flags, { minLength: flags.length });
  });
}

/** Flags of mg, md, ms and ma, and `q` unless the line is forced quiet (flagsOf adds it). */
const common = (quiet: Quiet): Array<fc.Arbitrary<Part>> => [fc.constant('k'), opaqueArb, ...(quiet === 'forced' ? [] : [fc.constant('q')])];

// ---- lines ------------------------------------------------------------------

/**
 * Mutations: numbers, stray flags or `noreply` in place of a right word; no
 * extra `b` (the classic key b), which could decode a text key to bytes no
 * text line can carry, a fragile key with none of the care above.
 */
const metaMutations = mutationArb(fc.oneof(numberArb, strayFlagArb, fc.constant('noreply')))
  .filter((m) => m.kind !== 'extra' || !m.words.includes('b'));

const hasSymbol = (words: readonly Part[]): boolean => words.some((w) => typeof w !== 'string' && 'casRef' in w);

/**
 * A meta line, mangled or not (commands.ts lineArb). Sent plain: one holding
 * a CAS value seen earlier (commands.ts invariants), or one a dropped or
 * replaced token would take out of this file's invariants (`plain`).
 */
function metaLine(family: string, words: Part[], data = '', plain = false): fc.Arbitrary<Command> {
  return lineArb(family, fc.constant(words), fc.constant(data), plain || hasSymbol(words) ? { plain: true } : { mutations: metaMutations });
}

function mgLine(key: MetaKey, quiet: Quiet): fc.Arbitrary<Command> {
  const own = [
    ...common(quiet), ...'cfhlstuv'.split('').map((f) => fc.constant(f)),
    withArg('T', ttlArb), withArg('R', recacheArb), ...(key.fragile ? [] : [withArg('N', ttlArb)]),
  ];
  return flagsOf(own, key, quiet).chain((flags) => metaLine('mg', ['mg', key.word, ...flags]));
}

/** ms modes: E add, A append, P prepend, R replace, S set, and bad ones (not append or prepend on a fragile key). */
function setModeArb(key: MetaKey): fc.Arbitrary<Part> {
  const modes = key.fragile ? ['ME', 'MR', 'MS'] : ['ME', 'MA', 'MP', 'MR', 'MS'];
  return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...modes) }, { weight: 1, arbitrary: fc.constantFrom('Mx', 'M', 'MSS', 'Ms') });
}

function msLine(key: MetaKey, quiet: Quiet): fc.Arbitrary<Command> {
  const own = [
    ...common(quiet), fc.constant('c'), fc.constant('I'),
    withArg('C', casArgArb), withArg('F', clientFlagsArb), withArg('T', ttlArb), setModeArb(key),
  ];
  return fc.tuple(dataBlockArb, flagsOf(own, key, quiet)).chain(([d, flags]) => metaLine('ms', ['ms', key.word, d.length, ...flags], d.block));
}

function mdLine(key: MetaKey, quiet: Quiet): fc.Arbitrary<Command> {
  const own = [...common(quiet), fc.constant('I'), withArg('C', casArgArb), withArg('T', ttlArb)];
  return flagsOf(own, key, quiet).chain((flags) => metaLine('md', ['md', key.word, ...flags]));
}

/** me: `me <key>`, `me <key> b` for a base64 key, or with tokens it ignores. */
function meLine(key: MetaKey): fc.Arbitrary<Command> {
  return fc.constantFrom<Part[]>([], ['x'], ['x', 'b'], ['b', 'x'])
    .chain((rest) => metaLine('me', ['me', key.word, ...(key.base64 ? ['b'] : []), ...rest]));
}

/** ma modes: none, I or + (increment), D or - (decrement), or bad; `incr` says how D is drawn. */
const arithmeticModeArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ token: [] as Part[], incr: true }) },
  { weight: 2, arbitrary: fc.constantFrom('MI', 'M+').map((m) => ({ token: [m] as Part[], incr: true })) },
  { weight: 3, arbitrary: fc.constantFrom('MD', 'M-').map((m) => ({ token: [m] as Part[], incr: false })) },
  { weight: 1, arbitrary: fc.constantFrom('Mx', 'M', 'MII', 'Mi').map((m) => ({ token: [m] as Part[], incr: true })) },
);

/**
 * ma, mostly on n (numbers): T only when decrementing, and never an increment
 * or N on a fragile key. A decrement with T or on a fragile key is sent
 * plain: dropping or replacing its mode would make it an increment.
 */
const maArb: fc.Arbitrary<Command> = fc.tuple(fc.oneof({ weight: 2, arbitrary: fc.constant(textKey('n')) }, { weight: 3, arbitrary: metaKeyArb }), arithmeticModeArb)
  .filter(([key, mode]) => !(key.fragile && mode.incr))
  .chain(([key, mode]) => {
    const own = [
      ...common('maybe'), ...'tcv'.split('').map((f) => fc.constant(f)), withArg('C', casArgArb), withArg('J', initialArb),
      withArg('D', mode.incr ? incrAmountArb : decrAmountArb),
      ...(mode.incr ? [] : [withArg('T', ttlArb)]), ...(key.fragile ? [] : [withArg('N', ttlArb)]),
    ];
    return flagsOf(own, key, 'maybe').chain((flags) => {
      const needsDecrement = key.fragile || flags.some((f) => flagLetter(f) === 'T');
      return metaLine('ma', ['ma', key.word, ...mode.token, ...flags], '', !mode.incr && needsDecrement);
    });
  });

/** mn; mutations add the tokens it ignores. */
const mnArb = metaLine('mn', ['mn']);

/**
 * Too few tokens, 2-letter words starting with m that are no command, and
 * 3-letter ones. A lone ma is of family ma all the same: a mutation may give it a key.
 */
const metaErrorArb = fc.constantFrom<Part[]>(['mg'], ['ms'], ['md'], ['ma'], ['me'], ['ms', 'a'], ['mx', 'a'], ['mG', 'a'], ['mgg', 'a'], ['mss', 'a', '1'])
  .chain((words) => metaLine(words[0] === 'ma' ? 'ma' : 'meta-error', words));

/**
 * Flags every meta command parses, none of them b, N, T or M (see the
 * invariants above): 19, so that with the command and the key a line has 21
 * tokens, and memcached refuses more than 19 (its 20 counts the empty one after them).
 */
const distinct_flags = ['c', 'f', 'h', 'k', 'l', 's', 't', 'u', 'v', 'q', 'O1', 'P', 'L', 'F5', 'J7', 'D2', 'C5000000000', 'I', 'R2000'];

/** Lines with 15 to 19 different flags, around memcached's limit on tokens. */
const wideArb: fc.Arbitrary<Command> = fc.tuple(fc.constantFrom('mg', 'ms', 'md', 'ma'), metaKeyArb, dataBlockArb, fc.shuffledSubarray(distinct_flags, { minLength: 15 }))
  .filter(([, key]) => !key.fragile) // an ma here increments (D2), which would drop the base64 mark
  .chain(([command, key, d, flags]) => {
    const words: Part[] = [command, key.word, ...(command === 'ms' ? [d.length] : []), ...(key.base64 ? ['b'] : []), ...flags];
    return lineArb(command === 'ma' ? 'ma' : 'meta-wide', fc.constant(words), fc.constant(command === 'ms' ? d.block : ''), { plain: true });
  });

/** Lines that need no segment of their own, on one key. */
const keyedLine = (key: MetaKey, quiet: Quiet): fc.Arbitrary<Command> =>
  fc.oneof({ weight: 4, arbitrary: mgLine(key, quiet) }, { weight: 3, arbitrary: msLine(key, quiet) }, { weight: 2, arbitrary: mdLine(key, quiet) });

/** Lines sent one after another as one command. */
const run = (family: string, lines: readonly Command[]): Command => ({ family, parts: lines.flatMap((c) => c.parts) });

/** A quiet run: mg, ms and md lines with q, then mn (memcached's way to learn they all ran). */
const quietRunArb: fc.Arbitrary<Command> = fc.tuple(fc.array(metaKeyArb.chain((key) => keyedLine(key, 'forced')), { minLength: 1, maxLength: 5 }), mnArb)
  .map(([lines, mn]) => run('meta-quiet', [...lines, mn]));

/** Lines on one key, so that state one sets (a TTL, a stale mark, a win token) is what the next one sees. */
const sameKeyRunArb: fc.Arbitrary<Command> = metaKeyArb
  .chain((key) => fc.array(fc.oneof({ weight: 6, arbitrary: keyedLine(key, 'maybe') }, { weight: 1, arbitrary: meLine(key) }), { minLength: 2, maxLength: 4 }))
  .map((lines) => run('meta-run', lines));

/** The meta families with their weights, for sequenceArb beside commands.ts's. */
export const metaFamilies: Array<{ weight: number; arbitrary: fc.Arbitrary<Command> }> = [
  { weight: 8, arbitrary: metaKeyArb.chain((key) => mgLine(key, 'maybe')) },
  { weight: 6, arbitrary: metaKeyArb.chain((key) => msLine(key, 'maybe')) },
  { weight: 3, arbitrary: metaKeyArb.chain((key) => mdLine(key, 'maybe')) },
  { weight: 5, arbitrary: maArb },
  { weight: 2, arbitrary: mnArb },
  { weight: 2, arbitrary: metaKeyArb.chain(meLine) },
  { weight: 2, arbitrary: quietRunArb },
  { weight: 4, arbitrary: sameKeyRunArb },
  { weight: 1, arbitrary: metaErrorArb },
  { weight: 1, arbitrary: wideArb },
];
