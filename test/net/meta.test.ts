// Meta command lines (mg ms md ma mn me) through the streaming parser.
// Table tests: each input must give the same Requests whole, byte by byte and
// split at every position (runThreeWays); expected answers follow memcached
// 1.6.18's proto_text.c (_meta_flag_preparse, process_m*_command) and its
// base64.c, and test/e2e/meta.test.ts checks the same replies against a
// running memcached. Property tests (fast-check): random valid meta commands
// with random flags, cut anywhere, parse to the requests a small model of
// the flags predicts; random meta-like lines never throw and parse the same
// however they are cut.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { StoreMode } from '../../src/engine/types.js';
import { decodeBase64Key, encodeBase64Key, type MetaRequest } from '../../src/net/meta.js';
import type { Request } from '../../src/net/requests.js';
import { BAD_CHUNK, ERROR, FORMAT, bytes, reply, runChunks, runThreeWays, splitAt, type Case } from './helpers.js';

/** The request meta.ts makes for `command` and `key` with nothing else on the line, changed by `o`. */
function meta(command: MetaRequest['command'], key: string, o: Partial<MetaRequest> = {}): Request {
  return {
    kind: 'meta', command, key, keyBinary: false, tokens: [],
    quiet: false, returnValue: false, noBump: false, locked: false, invalidate: false,
    ttl: undefined, vivifyTtl: undefined, recacheTtl: undefined, clientFlags: 0, cas: undefined,
    storeMode: 'set', incr: true, delta: 1n, initial: 0n, value: Buffer.alloc(0), ...o,
  };
}

const ms = (key: string, value: string, o: Partial<MetaRequest> = {}): Request => meta('ms', key, { value: bytes(value), ...o });

const MN = reply('MN');
const k250 = 'k'.repeat(250);
const k251 = 'k'.repeat(251);
const o32 = `O${'x'.repeat(31)}`;
const o33 = `O${'x'.repeat(32)}`;
const manyFlags = (n: number): string => Array.from({ length: n }, (_, i) => String.fromCharCode(0x41 + i)).join(' ');

const DUPLICATE = reply('CLIENT_ERROR duplicate flag');
const INVALID = reply('CLIENT_ERROR invalid flag');
const BAD_TOKEN = reply('CLIENT_ERROR bad token in command line format');
const BAD_KEY = reply('CLIENT_ERROR error decoding key');
const INVALID_OR_DUPLICATE = reply('CLIENT_ERROR invalid or duplicate flag');
const OPAQUE = reply('CLIENT_ERROR opaque token too long');

const getCases: Case[] = [
  { input: 'mg k\r\n', expect: [meta('mg', 'k')] },
  { name: 'every read flag', input: 'mg k v s t f c k h l Oxy q u\r\n', expect: [meta('mg', 'k', {
    tokens: ['v', 's', 't', 'f', 'c', 'k', 'h', 'l', 'Oxy', 'q', 'u'], returnValue: true, quiet: true, noBump: true, locked: true,
  })] },
  { name: 'N, T and R take exptimes', input: 'mg k N30 T-1 R4102444800\r\n', expect: [meta('mg', 'k', {
    // memcached reads exptimes into an int32: 4102444800 wraps (to a negative, past time).
    tokens: ['N30', 'T-1', 'R4102444800'], vivifyTtl: 30, ttl: -1, recacheTtl: 4102444800 - 2 ** 32, locked: true,
  })] },
  { name: 'h alone locks (its value is read before the bump)', input: 'mg k h\r\n', expect: [meta('mg', 'k', { tokens: ['h'], locked: true })] },
  { name: 'P and L are proxy hints, ignored', input: 'mg k P Lpath/x\r\n', expect: [meta('mg', 'k', { tokens: ['P', 'Lpath/x'] })] },
  { name: 'flags of other commands are accepted and unused', input: 'mg k F1 C2 MZ J3 D4 I\r\n', expect: [meta('mg', 'k', {
    tokens: ['F1', 'C2', 'MZ', 'J3', 'D4', 'I'], clientFlags: 1, cas: 2n, initial: 3n, delta: 4n, invalidate: true,
  })] },
  { name: 'extra spaces, a bare LF', input: '  mg   k  v  \nmn\n', expect: [meta('mg', 'k', { tokens: ['v'], returnValue: true }), MN] },
  { name: 'an opaque of 32 bytes passes; a longer one is checked when the reply is built', input: `mg k ${o32}\r\nmg k ${o33}\r\n`, expect: [
    meta('mg', 'k', { tokens: [o32] }), meta('mg', 'k', { tokens: [o33] }),
  ] },
  { name: 'a key of 250 bytes', input: `mg ${k250} v\r\n`, expect: [meta('mg', k250, { tokens: ['v'], returnValue: true })] },
  { name: 'a key with control bytes, as memcached allows', input: 'mg a\x01\rb v\r\n', expect: [meta('mg', 'a\x01\rb', { tokens: ['v'], returnValue: true })] },
];

const base64Cases: Case[] = [
  { input: 'mg Zm9v b k\r\n', expect: [meta('mg', 'foo', { keyBinary: true, tokens: ['b', 'k'] })] },
  { name: 'decodes to any bytes', input: 'mg Zm9vIGJhcg0K b\r\n', expect: [meta('mg', 'foo bar\r\n', { keyBinary: true, tokens: ['b'] })] },
  { name: 'padding', input: 'mg AA== b\r\n', expect: [meta('mg', '\x00', { keyBinary: true, tokens: ['b'] })] },
  { name: 'padding inside a block counts', input: 'mg A=AA b\r\n', expect: [meta('mg', '\x00\x00', { keyBinary: true, tokens: ['b'] })] },
  { name: 'bytes outside the alphabet are skipped', input: 'mg A!A\xffAA b\r\n', expect: [meta('mg', '\x00\x00\x00', { keyBinary: true, tokens: ['b'] })] },
  { name: 'decoding stops at the first padded block', input: 'mg AA==AAAA b\r\n', expect: [meta('mg', '\x00', { keyBinary: true, tokens: ['b'] })] },
  { name: 'not a multiple of 4', input: 'mg AAAAA b\r\n', expect: [BAD_KEY] },
  { name: 'three pads', input: 'mg a=== b\r\n', expect: [BAD_KEY] },
  { name: 'nothing decodable', input: 'mg !!!! b\r\n', expect: [BAD_KEY] },
  { name: 'the limit is on the encoded key', input: `mg ${'A'.repeat(252)} b\r\n`, expect: [reply(FORMAT)] },
  { name: 'an encoded key of 248 bytes', input: `mg ${'A'.repeat(248)} b\r\n`, expect: [meta('mg', '\x00'.repeat(186), { keyBinary: true, tokens: ['b'] })] },
  { name: 'ms with b', input: 'ms Zm9v 2 b k c\r\nhi\r\n', expect: [ms('foo', 'hi', { keyBinary: true, tokens: ['b', 'k', 'c'] })] },
  { name: 'me: b only right after the key', input: 'me Zm9v b\r\nme Zm9v x b\r\nme Zm9v\r\n', expect: [
    meta('me', 'foo', { keyBinary: true }), meta('me', 'Zm9v'), meta('me', 'Zm9v'),
  ] },
  { name: 'me: a bad base64 key', input: 'me k b\r\n', expect: [reply(FORMAT)] },
];

const setCases: Case[] = [
  { input: 'ms k 2\r\nhi\r\n', expect: [ms('k', 'hi')] },
  { name: 'every set flag', input: 'ms k 2 T100 F5 c k Oabc I q\r\nhi\r\n', expect: [ms('k', 'hi', {
    tokens: ['T100', 'F5', 'c', 'k', 'Oabc', 'I', 'q'], ttl: 100, clientFlags: 5, invalidate: true, quiet: true, locked: true,
  })] },
  { name: 'zero-length value', input: 'ms k 0\r\n\r\nmn\r\n', expect: [ms('k', ''), MN] },
  { name: 'a value of CRLFs', input: 'ms k 4\r\n\r\n\r\n\r\n', expect: [ms('k', '\r\n\r\n')] },
  { name: 'modes', input: 'ms k 1 ME\r\na\r\nms k 1 MA\r\na\r\nms k 1 MP\r\na\r\nms k 1 MR\r\na\r\nms k 1 MS\r\na\r\n', expect: [
    ms('k', 'a', { tokens: ['ME'], storeMode: 'add' }), ms('k', 'a', { tokens: ['MA'], storeMode: 'append' }),
    ms('k', 'a', { tokens: ['MP'], storeMode: 'prepend' }), ms('k', 'a', { tokens: ['MR'], storeMode: 'replace' }),
    ms('k', 'a', { tokens: ['MS'], storeMode: 'set' }),
  ] },
  { name: 'C makes set and replace a cas; add, append and prepend keep their mode', input: 'ms k 1 C7\r\na\r\nms k 1 MR C7\r\na\r\nms k 1 ME C0\r\na\r\nms k 1 MA C7\r\na\r\n', expect: [
    ms('k', 'a', { tokens: ['C7'], cas: 7n, storeMode: 'cas' }), ms('k', 'a', { tokens: ['MR', 'C7'], cas: 7n, storeMode: 'cas' }),
    ms('k', 'a', { tokens: ['ME', 'C0'], cas: 0n, storeMode: 'add' }), ms('k', 'a', { tokens: ['MA', 'C7'], cas: 7n, storeMode: 'append' }),
  ] },
  { name: 'flags are 32 bits, truncated as memcached stores them', input: 'ms k 1 F4294967296\r\na\r\nms k 1 F4294967295\r\na\r\n', expect: [
    ms('k', 'a', { tokens: ['F4294967296'], clientFlags: 0 }), ms('k', 'a', { tokens: ['F4294967295'], clientFlags: 4294967295 }),
  ] },
  { name: 'the length as a 32-bit int (4294967298 is 2)', input: 'ms k 4294967298\r\nhi\r\n', expect: [ms('k', 'hi')] },
  { name: 'a value that looks like commands', input: 'ms k 8\r\nmn\r\nmn\r\n\r\nmn\r\n', expect: [ms('k', 'mn\r\nmn\r\n'), MN] },
];

const deleteArithmeticCases: Case[] = [
  { input: 'md k\r\n', expect: [meta('md', 'k')] },
  { input: 'md k q I T30 C5 k O1\r\n', expect: [meta('md', 'k', { tokens: ['q', 'I', 'T30', 'C5', 'k', 'O1'], quiet: true, invalidate: true, ttl: 30, cas: 5n, locked: true })] },
  { input: 'ma k\r\n', expect: [meta('ma', 'k')] },
  { input: 'ma k N0 J13 D5 MD q v t c\r\n', expect: [meta('ma', 'k', {
    tokens: ['N0', 'J13', 'D5', 'MD', 'q', 'v', 't', 'c'], vivifyTtl: 0, initial: 13n, delta: 5n, incr: false, quiet: true, returnValue: true, locked: true,
  })] },
  { name: 'modes', input: 'ma k M-\r\nma k M+\r\nma k MI\r\n', expect: [
    meta('ma', 'k', { tokens: ['M-'], incr: false }), meta('ma', 'k', { tokens: ['M+'] }), meta('ma', 'k', { tokens: ['MI'] }),
  ] },
  { name: '64-bit delta and initial value', input: 'ma k D18446744073709551615 J18446744073709551615\r\n', expect: [meta('ma', 'k', {
    tokens: ['D18446744073709551615', 'J18446744073709551615'], delta: 18446744073709551615n, initial: 18446744073709551615n,
  })] },
  { name: 'an overlong opaque is found when ma replies', input: `ma k ${o33}\r\n`, expect: [meta('ma', 'k', { tokens: [o33] })] },
  { input: 'me k\r\nme k x y z\r\n', expect: [meta('me', 'k'), meta('me', 'k')] },
  { input: 'mn\r\nmn foo bar\r\n', expect: [MN, MN] },
];

const errorCases: Case[] = [
  { name: 'no key', input: 'mg\r\nms\r\nmd\r\nma\r\nme\r\n', expect: [ERROR, ERROR, ERROR, ERROR, reply(FORMAT)] },
  { name: 'unknown 2-letter m commands, and longer ones', input: 'mz k\r\nmgg k\r\nm\r\n', expect: [ERROR, ERROR, ERROR] },
  { name: 'an HTTP-looking meta line is just ERROR', input: 'mx / HTTP/1.1\r\n', expect: [ERROR] },
  { name: 'keys over 250 bytes', input: `mg ${k251}\r\nmd ${k251} q\r\nma ${k251}\r\nme ${k251}\r\n`, expect: [reply(FORMAT), reply(FORMAT), reply(FORMAT), reply(FORMAT)] },
  { name: 'ms with a long key: the data is read as a command', input: `ms ${k251} 2\r\nhi\r\n`, expect: [reply(FORMAT), ERROR] },
  { name: 'ms without a length', input: 'ms k\r\n', expect: [reply(FORMAT)] },
  { name: 'ms with a bad length: the data is read as a command', input: 'ms k x\r\nhi\r\nms k -1\r\nhi\r\nms k 2147483648\r\nmn\r\n', expect: [reply(FORMAT), ERROR, reply(FORMAT), ERROR, reply(FORMAT), MN] },
  { name: 'too many tokens (21 counting the terminal one)', input: `mg k ${manyFlags(18)}\r\nmd k ${manyFlags(18)}\r\nma k ${manyFlags(18)}\r\nms k 2 ${manyFlags(17)}\r\nhi\r\n`, expect: [
    reply('CLIENT_ERROR options flags are too long'), reply('CLIENT_ERROR options flags too long'), reply('CLIENT_ERROR options flags too long'),
    reply('CLIENT_ERROR options flags too long'), ERROR,
  ] },
  { name: 'twenty tokens are not too many', input: `mg k ${manyFlags(17)}\r\n`, expect: [INVALID] },
  { name: 'unknown flags', input: 'mg k E1\r\nmg k m\r\nmd k x\r\nma k S\r\n', expect: [INVALID, INVALID, INVALID_OR_DUPLICATE, INVALID_OR_DUPLICATE] },
  { name: 'repeated flags and bytes from 127 up', input: 'mg k v v\r\nmg k v vx\r\nmg k \x7f\r\nmg k \x80\r\nmd k q q\r\n', expect: [DUPLICATE, DUPLICATE, DUPLICATE, DUPLICATE, INVALID_OR_DUPLICATE] },
  { name: 'bad numbers', input: 'mg k Tx\r\nmg k N\r\nmg k R1x\r\nmg k C-1\r\nmg k C18446744073709551616\r\n', expect: [BAD_TOKEN, BAD_TOKEN, BAD_TOKEN, BAD_TOKEN, BAD_TOKEN] },
  { name: 'bad F sets no message of its own', input: 'mg k Fx\r\nmg k F-1\r\n', expect: [reply(FORMAT), reply(FORMAT)] },
  { name: 'bad J and D', input: 'mg k Jx\r\nmg k D-1\r\nmg k D18446744073709551616\r\n', expect: [
    reply('CLIENT_ERROR invalid numeric initial value'), reply('CLIENT_ERROR invalid numeric delta value'), reply('CLIENT_ERROR invalid numeric delta value'),
  ] },
  { name: 'M takes one byte', input: 'mg k Mxy\r\nmg k M\r\n', expect: [reply('CLIENT_ERROR incorrect length for M token'), reply('CLIENT_ERROR incorrect length for M token')] },
  { name: 'checking goes on after a bad number: the last message wins', input: 'mg k Tx Fx\r\nmg k Fx Tx\r\nmg k b Tx\r\nmg k Tx b\r\nmg k Tx Jx\r\n', expect: [
    BAD_TOKEN, BAD_TOKEN, BAD_TOKEN, BAD_KEY, reply('CLIENT_ERROR invalid numeric initial value'),
  ] },
  { name: 'but a repeated or unknown flag answers at once', input: 'mg k Tx v v\r\nmg k Tx E\r\n', expect: [DUPLICATE, INVALID] },
  { name: 'md and ma answer one message for any flag error', input: 'md k Tx\r\nmd k b\r\nma k Jx\r\nma k Mxy\r\n', expect: [
    INVALID_OR_DUPLICATE, INVALID_OR_DUPLICATE, INVALID_OR_DUPLICATE, INVALID_OR_DUPLICATE,
  ] },
  { name: 'md checks the opaque before acting', input: `md k ${o33}\r\nmd k ${o32}\r\n`, expect: [OPAQUE, meta('md', 'k', { tokens: [o32] })] },
  { name: 'ma modes', input: 'ma k Mx\r\nma k MS\r\n', expect: [reply('CLIENT_ERROR invalid mode for ma M token'), reply('CLIENT_ERROR invalid mode for ma M token')] },
  { name: 'strict keys refuse control bytes in meta keys too', input: 'mg a\x01b v\r\nms a\x7f 1\r\nx\r\n', expect: [reply(FORMAT), reply(FORMAT), ERROR], strictKeys: true },
];

const swallowCases: Case[] = [
  { name: 'ms flag errors swallow the data', input: 'ms k 2 v v\r\nhi\r\nms k 2 E\r\nhi\r\nms k 2 Tx\r\nhi\r\nms k 2 Fx\r\nhi\r\nmn\r\n', expect: [
    DUPLICATE, INVALID, BAD_TOKEN, reply(FORMAT), MN,
  ] },
  { name: 'ms S is not a flag in 1.6.18', input: 'ms k 2 S2\r\nhi\r\nmn\r\n', expect: [INVALID, MN] },
  { name: 'ms: a bad mode, then an overlong opaque', input: `ms k 2 MZ\r\nhi\r\nms k 2 MSS\r\nhi\r\nms k 2 ${o33}\r\nhi\r\nms k 2 ${o33} MZ\r\nhi\r\nmn\r\n`, expect: [
    reply('CLIENT_ERROR invalid mode for ms M token'), reply('CLIENT_ERROR incorrect length for M token'), OPAQUE,
    reply('CLIENT_ERROR invalid mode for ms M token'), MN,
  ] },
  { name: 'ms: errors are answered even with q', input: 'ms k 2 q b\r\nhi\r\nmn\r\n', expect: [BAD_KEY, MN] },
  { name: 'ms: a swallowed block that looks like commands', input: 'ms k 6 E\r\nmn\r\nmn\r\nmn\r\n', expect: [INVALID, MN] },
  { name: 'ms: over the item size limit (key, value, flags and overhead counted)', input: 'ms k 41\r\n01234567890123456789012345678901234567890\r\nms k 40\r\n0123456789012345678901234567890123456789\r\n', itemSizeMax: 100, expect: [
    { kind: 'too_large', mode: 'set', key: 'k', noreply: false }, ms('k', '0123456789012345678901234567890123456789'),
  ] },
  { name: 'ms: the limit counts flags and the decoded key', input: 'ms k 40 F1\r\n0123456789012345678901234567890123456789\r\nms AAAA 38 b\r\n01234567890123456789012345678901234567\r\n', itemSizeMax: 100, expect: [
    { kind: 'too_large', mode: 'set', key: 'k', noreply: false }, ms('\x00\x00\x00', '01234567890123456789012345678901234567', { keyBinary: true, tokens: ['b'] }),
  ] },
  { name: 'ms: a bad data chunk is answered even with q', input: 'ms k 2 q\r\nhiX\r\n', expect: [reply(BAD_CHUNK), ERROR] },
  { name: 'ms: n + 2 bytes are read whatever they hold; the rest is a command', input: 'ms k 2\r\nhi\nmn\r\n', expect: [reply(BAD_CHUNK), ERROR] },
];

const tables: Array<[string, Case[]]> = [
  ['mg', getCases],
  ['base64 keys', base64Cases],
  ['ms', setCases],
  ['md, ma, me, mn', deleteArithmeticCases],
  ['errors', errorCases],
  ['ms errors that swallow the data', swallowCases],
];

for (const [title, cases] of tables) {
  describe(`meta parser: ${title} (one chunk, byte by byte, every split)`, () => {
    for (const c of cases) it(c.name ?? JSON.stringify(c.input).slice(0, 60), () => runThreeWays(c));
  });
}

describe('memcached\'s base64', () => {
  it('round-trips every byte value', () => {
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    const encoded = encodeBase64Key(all);
    expect(decodeBase64Key(bytes(encoded), 0, encoded.length)).toBe(all);
  });

  it('encodes with padding and no line breaks', () => {
    expect(encodeBase64Key('\x00')).toBe('AA==');
    expect(encodeBase64Key('x'.repeat(100))).not.toMatch(/\n/);
  });
});

// ---- properties ------------------------------------------------------------------

const int32 = fc.oneof(fc.constantFrom(0, -1, -(2 ** 31), 2 ** 31 - 1, 60), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
const uint32 = fc.oneof(fc.constantFrom(0, 2 ** 32 - 1), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
const uint64 = fc.oneof(fc.constantFrom(0n, (1n << 64n) - 1n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
const keyArb = fc.array(fc.integer({ min: 0x21, max: 0x7e }), { minLength: 1, maxLength: 20 }).map((c) => String.fromCharCode(...c));
const opaqueArb = fc.array(fc.constantFrom(...'abcxyz0189-_/'), { maxLength: 31 }).map((c) => `O${c.join('')}`);

/** Flag tokens a command accepts, each with its argument's arbitrary (flags without one: constant). */
function flagArbs(command: MetaRequest['command']): Array<fc.Arbitrary<string>> {
  const bare = (f: string) => fc.constant(f);
  const common = [bare('q'), bare('k'), opaqueArb, bare('P'), fc.constant('Lroute')];
  switch (command) {
    case 'mg': return [...common, ...'vstfchlu'.split('').map(bare), ...['T', 'N', 'R'].map((f) => int32.map((n) => `${f}${n}`))];
    case 'ms': return [...common, bare('c'), bare('I'), int32.map((n) => `T${n}`), uint32.map((n) => `F${n}`), uint64.map((n) => `C${n}`), fc.constantFrom('ME', 'MA', 'MP', 'MR', 'MS')];
    case 'md': return [...common, bare('I'), int32.map((n) => `T${n}`), uint64.map((n) => `C${n}`)];
    default: return [...common, bare('v'), bare('t'), bare('c'), int32.map((n) => `N${n}`), int32.map((n) => `T${n}`), uint64.map((n) => `C${n}`),
      uint64.map((n) => `J${n}`), uint64.map((n) => `D${n}`), fc.constantFrom('MI', 'M+', 'MD', 'M-')];
  }
}

/** What the flags mean, written out independently of meta.ts. */
function model(command: MetaRequest['command'], key: string, tokens: string[], value: Buffer): Request {
  const o: Partial<MetaRequest> = { tokens, value };
  const arg = (f: string) => tokens.find((t) => t[0] === f)?.slice(1);
  const has = (f: string) => arg(f) !== undefined;
  o.returnValue = has('v'); o.quiet = has('q'); o.noBump = has('u'); o.invalidate = has('I');
  o.locked = ['h', 'l', 'N', 'T', 'R'].some(has);
  if (has('T')) o.ttl = Number(arg('T'));
  if (has('N')) o.vivifyTtl = Number(arg('N'));
  if (has('R')) o.recacheTtl = Number(arg('R'));
  if (has('F')) o.clientFlags = Number(arg('F'));
  if (has('C')) o.cas = BigInt(arg('C')!);
  if (has('D')) o.delta = BigInt(arg('D')!);
  if (has('J')) o.initial = BigInt(arg('J')!);
  const mode = arg('M');
  if (command === 'ma') o.incr = mode !== 'D' && mode !== '-';
  if (command === 'ms') {
    const storeMode = ({ E: 'add', A: 'append', P: 'prepend', R: 'replace', S: 'set' } as Record<string, StoreMode>)[mode ?? 'S']!;
    o.storeMode = has('C') && (storeMode === 'set' || storeMode === 'replace') ? 'cas' : storeMode;
  }
  return meta(command, key, o);
}

interface MetaCmd { text: Buffer; expect: Request }

const metaCmdArb: fc.Arbitrary<MetaCmd> = fc.constantFrom<MetaRequest['command']>('mg', 'ms', 'md', 'ma').chain((command) =>
  fc.record({
    key: keyArb,
    flags: fc.shuffledSubarray(flagArbs(command)).chain((arbs) => fc.tuple(...arbs)),
    value: fc.uint8Array({ maxLength: 30 }).map((u) => Buffer.from(u)),
    spaces: fc.integer({ min: 1, max: 3 }),
  }).map(({ key, flags, value, spaces }) => {
    // One flag per letter: memcached refuses a repeated one.
    const tokens = flags.filter((t, i) => flags.findIndex((u) => u[0] === t[0]) === i);
    const gap = ' '.repeat(spaces);
    const head = [command, key, ...(command === 'ms' ? [String(value.length)] : []), ...tokens].join(gap);
    const text = Buffer.concat([bytes(`${head}\r\n`), ...(command === 'ms' ? [value, bytes('\r\n')] : [])]);
    return { text, expect: model(command, key, tokens, command === 'ms' ? value : Buffer.alloc(0)) };
  }));

const cutsOf = (fractions: number[], n: number): number[] => fractions.map((f) => Math.floor(f * n)).sort((a, b) => a - b);
const fractionsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 });

describe('meta parser properties', () => {
  it('random valid meta commands, cut anywhere, parse to what their flags say', () => {
    fc.assert(fc.property(fc.array(metaCmdArb, { minLength: 1, maxLength: 8 }), fractionsArb, (cmds, fractions) => {
      const input = Buffer.concat(cmds.map((c) => c.text));
      const { requests, parser } = runChunks(splitAt(input, cutsOf(fractions, input.length)));
      expect(requests).toEqual(cmds.map((c) => c.expect));
      expect(parser.bufferedBytes).toBe(0);
    }), { numRuns: 400 });
  });

  it('random meta-like lines never throw and parse the same whole or cut', () => {
    const token = fc.oneof(
      fc.constantFrom('mg', 'ms', 'md', 'ma', 'mn', 'me', 'mx', 'b', 'q', 'v', 'k', 'T', 'N5', 'C0', 'MZ', 'ME', 'Jx', 'D-1', 'I', '5', '0', '-1', 'Zm9v', 'AA==', '\r'),
      fc.string({ maxLength: 6 }).map((s) => s.replace(/[ \n]/g, '')),
    );
    const line = fc.array(token, { minLength: 1, maxLength: 10 }).map((t) => `${t.join(' ')}\r\n`);
    fc.assert(fc.property(fc.array(line, { minLength: 1, maxLength: 10 }), fractionsArb, (lines, fractions) => {
      const input = bytes(lines.join(''));
      const whole = runChunks([input]).requests;
      expect(runChunks(splitAt(input, cutsOf(fractions, input.length))).requests).toEqual(whole);
    }), { numRuns: 400 });
  });
});
