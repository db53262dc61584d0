// The binary-protocol frame parser: every case three ways (one chunk, byte by
// byte, every split point into two chunks), fed as the connection feeds it
// (push, drain next(), detachInput, after which the chunk's memory is
// overwritten, so a request keeping a view of it would show garbage); then
// fast-check: random valid frames cut at random points parse to what they
// were built from, and random bytes never throw, loop, or grow memory past
// its bound, whatever the split.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BinaryParser, type BinaryRequest } from '../../src/net/binary-parser.js';
import { deltaExtras, frame, storeExtras, u32s } from './binary-helpers.js';
import { byteByByte, splitAt } from './helpers.js';

const ITEM_SIZE_MAX = 256;
/** memcached's item overhead with a 1-byte key and flags 0: 48 header + key NUL + "\r\n" + 8 CAS. */
const ONE_BYTE_KEY_VALUE_MAX = ITEM_SIZE_MAX - 1 - 48 - 1 - 2 - 8;

const UNKNOWN = 0x81;
const INVALID = 0x04;

// ---- expected requests ----------------------------------------------------------

interface CmdOpts { key?: string; extras?: Buffer; value?: string | Buffer; opaque?: number; cas?: bigint }

function cmd(opcode: number, base: number, o: CmdOpts = {}): BinaryRequest {
  const value = typeof o.value === 'string' ? Buffer.from(o.value, 'latin1') : o.value ?? Buffer.alloc(0);
  return { kind: 'command', opcode, opaque: o.opaque ?? 0, base, cas: o.cas ?? 0n, extras: o.extras ?? Buffer.alloc(0), key: o.key ?? '', value };
}
const refuse = (opcode: number, status: number, closeAfter: boolean, opaque = 0): BinaryRequest =>
  ({ kind: 'refuse', opcode, opaque, status, closeAfter });
const tooLarge = (opcode: number, base: number, key: string, opaque = 0): BinaryRequest => ({ kind: 'too_large', opcode, opaque, base, key });
const badMagic = (magic: number): BinaryRequest => ({ kind: 'close', reason: `bad binary magic 0x${magic.toString(16)}` });

const NOOP = frame(0x0a);
const noop = cmd(0x0a, 0x0a);

// ---- driver ---------------------------------------------------------------------

/** Feeds chunks as the connection does; the chunk memory is overwritten after detachInput. */
function parse(chunks: readonly Buffer[], itemSizeMax = ITEM_SIZE_MAX): { requests: BinaryRequest[]; parser: BinaryParser } {
  const parser = new BinaryParser(itemSizeMax);
  const requests: BinaryRequest[] = [];
  let budget = 1;
  for (const c of chunks) {
    const scratch = Buffer.from(c);
    budget += c.length;
    parser.push(scratch);
    for (let r = parser.next(); r !== null; r = parser.next()) {
      if (--budget < 0) throw new Error('more requests than bytes: a loop');
      requests.push(r);
    }
    parser.detachInput();
    scratch.fill(0xee);
  }
  return { requests, parser };
}

/** The same requests from one chunk, byte by byte, and every two-chunk split. */
function expectThreeWays(input: Buffer, expected: BinaryRequest[], itemSizeMax = ITEM_SIZE_MAX): void {
  expect(parse([input], itemSizeMax).requests, 'one chunk').toEqual(expected);
  expect(parse(byteByByte(input), itemSizeMax).requests, 'byte by byte').toEqual(expected);
  for (let cut = 1; cut < input.length; cut++) {
    expect(parse(splitAt(input, [cut]), itemSizeMax).requests, `split at ${cut}`).toEqual(expected);
  }
}

interface Case { name: string; input: Buffer; expected: BinaryRequest[] }

const big = Buffer.alloc(ONE_BYTE_KEY_VALUE_MAX, 0x80);

const cases: Case[] = [
  // ---- well-formed commands
  { name: 'get, opaque kept', input: frame(0x00, { key: 'k', opaque: 0xdeadbeef }), expected: [cmd(0x00, 0x00, { key: 'k', opaque: 0xdeadbeef })] },
  { name: 'getq, getk, getkq map to get and getk', input: Buffer.concat([frame(0x09, { key: 'a' }), frame(0x0c, { key: 'b' }), frame(0x0d, { key: 'c' })]),
    expected: [cmd(0x09, 0x00, { key: 'a' }), cmd(0x0c, 0x0c, { key: 'b' }), cmd(0x0d, 0x0c, { key: 'c' })] },
  { name: 'set with flags, exptime, CAS and a value holding 0x80 and CRLF',
    input: frame(0x01, { key: 'key', extras: storeExtras(0xcafe, 60), value: '\x80\r\n\x80', cas: 0xffff_ffff_ffff_ffffn }),
    expected: [cmd(0x01, 0x01, { key: 'key', extras: storeExtras(0xcafe, 60), value: '\x80\r\n\x80', cas: 0xffff_ffff_ffff_ffffn })] },
  { name: 'set with an empty value', input: frame(0x01, { key: 'k', extras: storeExtras() }), expected: [cmd(0x01, 0x01, { key: 'k', extras: storeExtras() })] },
  { name: 'setq, addq, replaceq map to their loud forms',
    input: Buffer.concat([0x11, 0x12, 0x13].map((op) => frame(op, { key: 'k', extras: storeExtras(), value: 'v' }))),
    expected: [cmd(0x11, 0x01, { key: 'k', extras: storeExtras(), value: 'v' }), cmd(0x12, 0x02, { key: 'k', extras: storeExtras(), value: 'v' }), cmd(0x13, 0x03, { key: 'k', extras: storeExtras(), value: 'v' })] },
  { name: 'append, prependq (no extras)', input: Buffer.concat([frame(0x0e, { key: 'k', value: 'tail' }), frame(0x1a, { key: 'k', value: 'head' })]),
    expected: [cmd(0x0e, 0x0e, { key: 'k', value: 'tail' }), cmd(0x1a, 0x0f, { key: 'k', value: 'head' })] },
  { name: 'delete and deleteq with CAS', input: Buffer.concat([frame(0x04, { key: 'k', cas: 7n }), frame(0x14, { key: 'k' })]),
    expected: [cmd(0x04, 0x04, { key: 'k', cas: 7n }), cmd(0x14, 0x04, { key: 'k' })] },
  { name: 'incr, decrq with 20 bytes of extras', input: Buffer.concat([frame(0x05, { key: 'n', extras: deltaExtras(1n, 5n, 0xffffffff) }), frame(0x16, { key: 'n', extras: deltaExtras(2n) })]),
    expected: [cmd(0x05, 0x05, { key: 'n', extras: deltaExtras(1n, 5n, 0xffffffff) }), cmd(0x16, 0x06, { key: 'n', extras: deltaExtras(2n) })] },
  { name: 'touch, gat, gatq, gatk, gatkq', input: Buffer.concat([0x1c, 0x1d, 0x1e, 0x23, 0x24].map((op) => frame(op, { key: 'k', extras: u32s(9) }))),
    expected: [[0x1c, 0x1c], [0x1d, 0x1d], [0x1e, 0x1d], [0x23, 0x23], [0x24, 0x23]].map(([op, base]) => cmd(op!, base!, { key: 'k', extras: u32s(9) })) },
  { name: 'flush, flushq with an expiration, noop, version, quit, quitq',
    input: Buffer.concat([frame(0x08), frame(0x18, { extras: u32s(30) }), NOOP, frame(0x0b), frame(0x07), frame(0x17)]),
    expected: [cmd(0x08, 0x08), cmd(0x18, 0x08, { extras: u32s(30) }), noop, cmd(0x0b, 0x0b), cmd(0x07, 0x07), cmd(0x17, 0x07)] },
  { name: 'stat without and with a key', input: Buffer.concat([frame(0x10), frame(0x10, { key: 'settings' })]),
    expected: [cmd(0x10, 0x10), cmd(0x10, 0x10, { key: 'settings' })] },
  { name: 'a 250-byte key of any bytes', input: frame(0x00, { key: '\x00 \n\xff'.repeat(62) + 'ab' }), expected: [cmd(0x00, 0x00, { key: '\x00 \n\xff'.repeat(62) + 'ab' })] },
  // ---- sizes against -I
  { name: 'the largest value that fits, then a noop', input: Buffer.concat([frame(0x01, { key: 'k', extras: storeExtras(), value: big }), NOOP]),
    expected: [cmd(0x01, 0x01, { key: 'k', extras: storeExtras(), value: big }), noop] },
  { name: 'one byte more: too large, value swallowed, the next frame parsed',
    input: Buffer.concat([frame(0x11, { key: 'k', extras: storeExtras(), value: Buffer.concat([big, Buffer.from([0x80])]), opaque: 3 }), NOOP]),
    expected: [tooLarge(0x11, 0x01, 'k', 3), noop] },
  { name: 'non-zero flags count 4 bytes more (memcached item_size_ok)',
    input: Buffer.concat([frame(0x02, { key: 'k', extras: storeExtras(1), value: big.subarray(4) }), frame(0x02, { key: 'k', extras: storeExtras(1), value: big.subarray(3) }), NOOP]),
    expected: [cmd(0x02, 0x02, { key: 'k', extras: storeExtras(1), value: big.subarray(4) }), tooLarge(0x02, 0x02, 'k'), noop] },
  { name: 'append too large', input: Buffer.concat([frame(0x0e, { key: 'k', value: Buffer.concat([big, big]) }), NOOP]), expected: [tooLarge(0x0e, 0x0e, 'k'), noop] },
  // ---- refused before running, connection kept
  { name: 'unknown opcode without key: Unknown command, body swallowed',
    input: Buffer.concat([frame(0x50, { value: 'abc', opaque: 9 }), NOOP]), expected: [refuse(0x50, UNKNOWN, false, 9), noop] },
  { name: 'unknown opcode with extras and key: memcached swallows the whole body length again after them',
    input: Buffer.concat([frame(0x1b, { extras: u32s(1), key: 'abc', value: 'vv' }), Buffer.from('JJJJJJJ'), NOOP]), expected: [refuse(0x1b, UNKNOWN, false), noop] },
  { name: 'SASL list mechs, auth, step: Unknown command, the rest of the body swallowed',
    input: Buffer.concat([frame(0x20), frame(0x21, { key: 'PLAIN', value: '\0u\0p' }), frame(0x22, { key: 'PLAIN' }), NOOP]),
    expected: [refuse(0x20, UNKNOWN, false), refuse(0x21, UNKNOWN, false), refuse(0x22, UNKNOWN, false), noop] },
  // ---- closes
  { name: 'a bad magic closes without a reply; nothing after is parsed', input: Buffer.concat([NOOP, frame(0x0a, { magic: 0x81 }), NOOP]), expected: [noop, badMagic(0x81)] },
  { name: 'text after binary: bad magic', input: Buffer.concat([NOOP, Buffer.from('get k\r\n'.repeat(4))]), expected: [noop, badMagic(0x67)] },
  { name: 'key length above body length: Unknown command, close', input: Buffer.concat([frame(0x00, { key: 'abc', bodyLength: 2 }), NOOP]), expected: [refuse(0x00, UNKNOWN, true)] },
  { name: 'key and extras above body length: Unknown command, close', input: Buffer.concat([frame(0x01, { key: 'abc', extras: storeExtras(), bodyLength: 10 }), NOOP]), expected: [refuse(0x01, UNKNOWN, true)] },
  { name: 'a 251-byte key: Invalid arguments, close', input: Buffer.concat([frame(0x00, { key: 'k'.repeat(251) }), NOOP]), expected: [refuse(0x00, INVALID, true)] },
  { name: 'a 251-byte key on an unknown opcode: Invalid arguments, close', input: frame(0x60, { key: 'k'.repeat(251) }), expected: [refuse(0x60, INVALID, true)] },
  ...([
    ['get with extras', frame(0x00, { key: 'k', extras: u32s(1) })],
    ['get without key', frame(0x00)],
    ['get with a value', frame(0x00, { key: 'k', value: 'v' })],
    ['set with 4 bytes of extras', frame(0x01, { key: 'k', extras: u32s(1), value: 'v' })],
    ['set without key', frame(0x01, { extras: storeExtras(), value: 'v' })],
    ['noop with a body', frame(0x0a, { value: 'x' })],
    ['version with a key', frame(0x0b, { key: 'k' })],
    ['flush with 8 bytes of extras', frame(0x08, { extras: storeExtras() })],
    ['flush with extras and a value', frame(0x08, { extras: u32s(5), value: 'x' })],
    ['incr with 8 bytes of extras', frame(0x05, { key: 'n', extras: storeExtras() })],
    ['delete with a value', frame(0x04, { key: 'k', value: 'v' })],
    ['touch without extras', frame(0x1c, { key: 'k' })],
    ['append with extras', frame(0x0e, { key: 'k', extras: storeExtras(), value: 'v' })],
    ['stat with extras', frame(0x10, { extras: u32s(1) })],
    ['quit with a key', frame(0x07, { key: 'k' })],
    ['SASL auth without a key', frame(0x21, { value: 'x' })],
  ] as const).map(([name, input]): Case => ({ name: `${name}: Invalid arguments, close`, input: Buffer.concat([input, NOOP]), expected: [refuse(input[1]!, INVALID, true)] })),
  { name: 'stat with more body than key: the rest is read as the next header (memcached)',
    input: Buffer.concat([frame(0x10, { key: 'items', value: Buffer.from([0x80, 0x0a]) }), Buffer.alloc(22), NOOP]), expected: [cmd(0x10, 0x10, { key: 'items' }), noop, noop] },
];

describe('binary parser: cases, whole / byte by byte / every split', () => {
  for (const c of cases) it(c.name, () => expectThreeWays(c.input, c.expected));
});

describe('binary parser: waiting and bounds', () => {
  it('waits for all of the extras and key before deciding, even on a frame it will refuse', () => {
    const input = frame(0x00, { key: 'k'.repeat(300), bodyLength: 2 });
    const partial = parse([input.subarray(0, input.length - 1)]);
    expect(partial.requests).toEqual([]);
    expect(parse([input]).requests).toEqual([refuse(0x00, UNKNOWN, true)]);
  });

  it('swallows a too-large value of 2^32-1 bytes in O(1) memory, then parses the next frame', () => {
    const parser = new BinaryParser(ITEM_SIZE_MAX);
    parser.push(frame(0x01, { key: 'k', extras: storeExtras(), bodyLength: 0xffff_ffff }));
    expect(parser.next()).toEqual(tooLarge(0x01, 0x01, 'k'));
    const chunk = Buffer.alloc(1 << 20, 0x80);
    for (let left = 0xffff_ffff - 9; left > 0; left -= chunk.length) {
      parser.push(left >= chunk.length ? chunk : chunk.subarray(0, left));
      expect(parser.next()).toBeNull();
      expect(parser.bufferedBytes).toBe(0);
    }
    parser.push(NOOP);
    expect(parser.next()).toEqual(noop);
  });

  it('holds only the bytes received of a value split across chunks', () => {
    const value = Buffer.alloc(ONE_BYTE_KEY_VALUE_MAX, 0x61);
    const input = frame(0x01, { key: 'k', extras: storeExtras(), value });
    const parser = new BinaryParser(ITEM_SIZE_MAX);
    parser.push(input.subarray(0, 24 + 9 + 10));
    parser.detachInput();
    expect(parser.next()).toBeNull();
    expect(parser.bufferedBytes).toBe(10);
    parser.push(input.subarray(24 + 9 + 10));
    expect(parser.next()).toEqual(cmd(0x01, 0x01, { key: 'k', extras: storeExtras(), value }));
    expect(parser.bufferedBytes).toBe(0);
  });

  it('dataState: conn_nread inside a value, conn_swallow inside a discarded one, null before (as memcached 1.6.18 stats conns shows)', () => {
    const states = (...chunks: Buffer[]): Array<string | null> => {
      const parser = new BinaryParser(ITEM_SIZE_MAX);
      return chunks.map((chunk) => {
        parser.push(chunk);
        while (parser.next() !== null);
        return parser.dataState;
      });
    };
    const set = frame(0x01, { key: 'k', extras: storeExtras(), value: 'abcde' });
    expect(states(set.subarray(0, 10), set.subarray(10, 28), set.subarray(28, 35), set.subarray(35))).toEqual([null, null, 'conn_nread', null]);
    const tooBig = frame(0x01, { key: 'k', extras: storeExtras(), bodyLength: 9 + ITEM_SIZE_MAX });
    expect(states(tooBig, Buffer.alloc(ITEM_SIZE_MAX - 1), Buffer.alloc(1))).toEqual(['conn_swallow', 'conn_swallow', null]);
  });

  it('ignores bytes pushed after a close', () => {
    const parser = new BinaryParser(ITEM_SIZE_MAX);
    parser.push(frame(0x0a, { magic: 0x00 }));
    expect(parser.next()).toEqual(badMagic(0));
    parser.push(NOOP);
    expect(parser.next()).toBeNull();
    expect(parser.bufferedBytes).toBe(0);
  });
});

// ---- properties -----------------------------------------------------------------

const keyArb = fc.uint8Array({ minLength: 1, maxLength: 250 }).map((u) => Buffer.from(u).toString('latin1'));
const valueArb = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 2000 }).map((n) => new Uint8Array(n).fill(0x80))).map((u) => Buffer.from(u));
const u32Arb = fc.integer({ min: 0, max: 0xffff_ffff });
const casArb = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }));

/** A valid frame and the request it must parse to. */
const validFrame: fc.Arbitrary<{ bytes: Buffer; request: BinaryRequest }> = fc.oneof(
  fc.record({ op: fc.constantFrom(0x00, 0x09, 0x0c, 0x0d, 0x04, 0x14), key: keyArb, opaque: u32Arb, cas: casArb }).map(({ op, key, opaque, cas }) => ({
    bytes: frame(op, { key, opaque, cas }), request: cmd(op, op === 0x09 ? 0x00 : op === 0x0d ? 0x0c : op === 0x14 ? 0x04 : op, { key, opaque, cas }),
  })),
  fc.record({ op: fc.constantFrom(0x01, 0x02, 0x03, 0x11, 0x12, 0x13), key: keyArb, value: valueArb, flags: u32Arb, exptime: u32Arb, opaque: u32Arb, cas: casArb })
    .map(({ op, key, value, flags, exptime, opaque, cas }) => {
      const extras = storeExtras(flags, exptime);
      const bytes = frame(op, { key, extras, value, opaque, cas });
      const base = op & 0x0f;
      const fits = key.length + value.length + 59 + (flags ? 4 : 0) <= ITEM_SIZE_MAX;
      return { bytes, request: fits ? cmd(op, base, { key, extras, value, opaque, cas }) : tooLarge(op, base, key, opaque) };
    }),
  fc.record({ op: fc.constantFrom(0x05, 0x06, 0x15, 0x16), key: keyArb, delta: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }), exp: u32Arb }).map(({ op, key, delta, exp }) => ({
    bytes: frame(op, { key, extras: deltaExtras(delta, delta, exp) }), request: cmd(op, op > 0x10 ? op - 0x10 : op, { key, extras: deltaExtras(delta, delta, exp) }),
  })),
  fc.constantFrom(0x0a, 0x0b, 0x07, 0x08).map((op) => ({ bytes: frame(op), request: cmd(op, op) })),
);

/** Random cut points for a buffer. */
const cutsFor = (length: number) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 12 }).map((a) => a.filter((c) => c < length).sort((x, y) => x - y));

describe('binary parser: properties', () => {
  it('random valid frames, cut anywhere, parse to the requests they were built from', () => {
    fc.assert(fc.property(
      fc.array(validFrame, { minLength: 1, maxLength: 12 }).chain((frames) => {
        const input = Buffer.concat(frames.map((f) => f.bytes));
        return fc.tuple(fc.constant(frames), fc.constant(input), cutsFor(input.length));
      }),
      ([frames, input, cuts]) => {
        expect(parse(splitAt(input, cuts)).requests).toEqual(frames.map((f) => f.request));
      },
    ), { numRuns: 300 });
  });

  it('random bytes after a 0x80 never throw or loop, give the same requests however split, and stay within memory bounds', () => {
    const bound = Math.max(ITEM_SIZE_MAX, 24 + 255 + 65535);
    fc.assert(fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        // Valid frames with a few bytes changed: shapes near the edges.
        fc.tuple(fc.array(validFrame, { minLength: 1, maxLength: 6 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }))
          .map(([frames, edits]) => {
            const b = Buffer.concat(frames.map((f) => f.bytes));
            for (const [at, byte] of edits) b[at % b.length] = byte;
            return new Uint8Array(b);
          }),
      ).chain((u) => {
        const input = Buffer.concat([Buffer.from([0x80]), Buffer.from(u)]);
        return fc.tuple(fc.constant(input), cutsFor(input.length));
      }),
      ([input, cuts]) => {
        const whole = parse([input]);
        const split = parse(splitAt(input, cuts));
        expect(split.requests).toEqual(whole.requests);
        expect(whole.requests.length).toBeLessThanOrEqual(Math.ceil(input.length / 24));
        expect(split.parser.bufferedBytes).toBeLessThanOrEqual(bound);
        const closes = whole.requests.findIndex((r) => r.kind === 'close' || (r.kind === 'refuse' && r.closeAfter));
        if (closes >= 0) expect(closes).toBe(whole.requests.length - 1);
      },
    ), { numRuns: 1000 });
  });
});
