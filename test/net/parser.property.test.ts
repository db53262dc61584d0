// Property tests for the streaming parser (fast-check):
//  (a) random sequences of valid commands, serialised with random spacing and
//      line endings and cut at random points, parse to exactly the Requests
//      they were built from;
//  (b) random bytes and random mutations of valid streams, pushed in random
//      chunks, never make push()/next() throw or loop, give the same Requests
//      however they are split, and nothing follows a close;
//  (c) memory stays bounded: after every drain, bufferedBytes is at most
//      max(-I, line_length_max), except while a get/gets line accumulates,
//      which stays within get_line_length_max.
//
// fast-check prints the seed and the shrunk counterexample on failure; rerun
// with fc.assert(..., { seed, path }) to reproduce.

import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TextParser } from '../../src/net/parser.js';
import type { Request } from '../../src/net/requests.js';
import type { StoreMode } from '../../src/engine/types.js';
import { get_line_length_max, line_length_max } from '../../src/engine/limits.js';
import {
  BAD_CHUNK, DELETE_USAGE, FORMAT, QUIT, VERSION, bytes, del, delta, drain, flushAll, get, memlimit, runChunks,
  splitAt, stats, store, tooLarge, touch, verbosity,
} from './helpers.js';

const U64_MAX = (1n << 64n) - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

/** memcached's item_size_ok, written out here rather than imported from the engine. */
const itemFits = (key: string, valueBytes: number, flags: number, itemSizeMax: number): boolean =>
  key.length + valueBytes + 48 + 1 + 2 + 8 + (flags !== 0 ? 4 : 0) <= itemSizeMax;

// ---- valid commands -------------------------------------------------------------

interface Cmd { tokens: string[]; data?: Buffer; expect: Request }

/** Key bytes: printable ASCII without space, or high bytes; short mostly, sometimes the 250 maximum. */
const keyByte = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
);
const keyArb = fc.oneof(
  { weight: 8, arbitrary: fc.array(keyByte, { minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.array(keyByte, { minLength: 240, maxLength: 250 }) },
).map((codes) => String.fromCharCode(...codes));

const int32 = fc.oneof(fc.constantFrom(0, -1, INT32_MIN, INT32_MAX, 60, 2592000), fc.integer({ min: INT32_MIN, max: INT32_MAX }));
const uint32 = fc.oneof(fc.constantFrom(0, 1, UINT32_MAX), fc.integer({ min: 0, max: UINT32_MAX }));
const uint64 = fc.oneof(fc.constantFrom(0n, 1n, U64_MAX, 1n << 63n), fc.bigInt({ min: 0n, max: U64_MAX }));

/** Values: binary, often with CRLFs and LFs inside, sometimes empty or large. */
const valueArb = fc.oneof(
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom('\r\n', '\n', '\r', 'get a', ' ', 'x'), { maxLength: 10 }).map((a) => new Uint8Array(bytes(a.join('')))) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3000 }).map((n) => new Uint8Array(n).fill(0x76)) },
).map((u) => Buffer.from(u));

function storeCmd(itemSizeMax: number): fc.Arbitrary<Cmd> {
  return fc.record({
    mode: fc.constantFrom<StoreMode>('set', 'add', 'replace', 'append', 'prepend', 'cas'),
    key: keyArb, flags: uint32, exptime: int32, value: valueArb, cas: uint64, noreply: fc.boolean(),
  }).map(({ mode, key, flags, exptime, value, cas, noreply }) => {
    const tokens = [mode, key, String(flags), String(exptime), String(value.length)];
    if (mode === 'cas') tokens.push(String(cas));
    if (noreply) tokens.push('noreply');
    const expect = itemFits(key, value.length, flags, itemSizeMax)
      ? store(mode, key, value, { flags, exptime, cas: mode === 'cas' ? cas : 0n, noreply })
      : tooLarge(mode, key, noreply);
    return { tokens, data: value, expect };
  });
}

const getCmd: fc.Arbitrary<Cmd> = fc.record({
  withCas: fc.boolean(), touch: fc.option(int32, { nil: undefined }), keys: fc.array(keyArb, { minLength: 1, maxLength: 30 }),
}).map(({ withCas, touch, keys: all }) => {
  // Only get/gets lines may run past line_length_max; keep gat/gats lines short.
  let room = 1900;
  const keys = touch === undefined ? all : all.filter((k) => (room -= k.length + 3) > 0);
  if (keys.length === 0) keys.push('k');
  const word = (touch === undefined ? 'get' : 'gat') + (withCas ? 's' : '');
  const tokens = touch === undefined ? [word, ...keys] : [word, String(touch), ...keys];
  return { tokens, expect: get(keys, withCas, touch) };
});

const deleteCmd: fc.Arbitrary<Cmd> = fc.record({ key: keyArb, zero: fc.boolean(), noreply: fc.boolean() })
  .map(({ key, zero, noreply }) => ({
    tokens: ['delete', key, ...(zero ? ['0'] : []), ...(noreply ? ['noreply'] : [])], expect: del(key, noreply),
  }));

const deltaCmd: fc.Arbitrary<Cmd> = fc.record({ incr: fc.boolean(), key: keyArb, d: uint64, noreply: fc.boolean() })
  .map(({ incr, key, d, noreply }) => ({
    tokens: [incr ? 'incr' : 'decr', key, String(d), ...(noreply ? ['noreply'] : [])], expect: delta(incr, key, d, noreply),
  }));

const touchCmd: fc.Arbitrary<Cmd> = fc.record({ key: keyArb, exptime: int32, noreply: fc.boolean() })
  .map(({ key, exptime, noreply }) => ({
    tokens: ['touch', key, String(exptime), ...(noreply ? ['noreply'] : [])], expect: touch(key, exptime, noreply),
  }));

const adminCmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ delay: fc.option(int32, { nil: undefined }), noreply: fc.boolean() }).map(({ delay, noreply }) => ({
    tokens: ['flush_all', ...(delay === undefined ? [] : [String(delay)]), ...(noreply ? ['noreply'] : [])],
    expect: flushAll(delay ?? 0, noreply),
  })),
  fc.constant<Cmd>({ tokens: ['version'], expect: VERSION }),
  fc.constant<Cmd>({ tokens: ['quit'], expect: QUIT }),
  fc.record({ level: uint32, noreply: fc.boolean() }).map(({ level, noreply }) => ({
    tokens: ['verbosity', String(level), ...(noreply ? ['noreply'] : [])], expect: verbosity(level, noreply),
  })),
  fc.array(fc.constantFrom('settings', 'items', 'slabs', 'sizes', 'detail', 'on', 'dump', 'conns'), { maxLength: 3 })
    .map((args) => ({ tokens: ['stats', ...args], expect: stats(...args) })),
  fc.record({ mb: uint32, noreply: fc.boolean() }).map(({ mb, noreply }) => ({
    tokens: ['cache_memlimit', String(mb), ...(noreply ? ['noreply'] : [])], expect: memlimit(mb, noreply),
  })),
);

function commandArb(itemSizeMax: number): fc.Arbitrary<Cmd> {
  return fc.oneof(
    { weight: 4, arbitrary: storeCmd(itemSizeMax) },
    { weight: 3, arbitrary: getCmd },
    { weight: 1, arbitrary: deleteCmd },
    { weight: 1, arbitrary: deltaCmd },
    { weight: 1, arbitrary: touchCmd },
    { weight: 1, arbitrary: adminCmd },
  );
}

/** How a line is written: spaces before, between and after tokens, and its ending. */
interface Layout { lead: number; gaps: number[]; trail: number; lf: boolean }
const layoutArb: fc.Arbitrary<Layout> = fc.record({
  lead: fc.integer({ min: 0, max: 2 }),
  gaps: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 40, maxLength: 40 }),
  trail: fc.integer({ min: 0, max: 2 }),
  lf: fc.boolean(),
});

function serialise(cmd: Cmd, layout: Layout): Buffer {
  let line = ' '.repeat(layout.lead);
  cmd.tokens.forEach((t, i) => { line += (i ? ' '.repeat(layout.gaps[i % layout.gaps.length]!) : '') + t; });
  line += ' '.repeat(layout.trail) + (layout.lf ? '\n' : '\r\n');
  const parts = [bytes(line)];
  if (cmd.data) parts.push(cmd.data, bytes('\r\n'));
  return Buffer.concat(parts);
}

/** Random cut points for a stream of n bytes (possibly many, possibly repeated). */
const cutsArb = fc.oneof(
  fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
  fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 50, maxLength: 200 }),
);
const toCuts = (fractions: number[], n: number): number[] => fractions.map((f) => Math.floor(f * n)).sort((a, b) => a - b);

function streamArb(itemSizeMax: number, maxCommands = 12): fc.Arbitrary<{ input: Buffer; expect: Request[] }> {
  return fc.array(fc.tuple(commandArb(itemSizeMax), layoutArb), { minLength: 1, maxLength: maxCommands }).map((cmds) => ({
    input: Buffer.concat(cmds.map(([c, l]) => serialise(c, l))),
    expect: cmds.map(([c]) => c.expect),
  }));
}

// ---- (a) ----------------------------------------------------------------------

describe('parser properties: valid command streams', () => {
  it('parse to exactly the requests they were built from, however they are cut', () => {
    const itemSizeMax = 2048;
    fc.assert(
      fc.property(streamArb(itemSizeMax), cutsArb, ({ input, expect: expected }, fractions) => {
        const whole = runChunks([input], itemSizeMax);
        expect(whole.requests).toEqual(expected);
        expect(whole.parser.bufferedBytes).toBe(0);
        const cut = runChunks(splitAt(input, toCuts(fractions, input.length)), itemSizeMax);
        expect(cut.requests).toEqual(expected);
        expect(cut.parser.bufferedBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('a valid stream after an error still parses (errors never desynchronise framing)', () => {
    // Each prefix is a complete erroneous unit with a known answer list.
    const errorPrefix = fc.constantFrom<[string, Request[]]>(
      [`set ${'k'.repeat(251)} 0 0 3\r\nabc\r\n`, [{ kind: 'reply', line: FORMAT, noreply: false }, { kind: 'reply', line: 'ERROR', noreply: false }]],
      ['set k 0 0 1\r\nxyz\r\n', [{ kind: 'reply', line: BAD_CHUNK, noreply: false }, { kind: 'reply', line: 'ERROR', noreply: false }]],
      ['delete k 5\r\n', [{ kind: 'reply', line: DELETE_USAGE, noreply: false }]],
      ['bogus\r\n\r\n', [{ kind: 'reply', line: 'ERROR', noreply: false }, { kind: 'reply', line: 'ERROR', noreply: false }]],
      ['set big 0 0 5000 noreply\r\n' + 'get x\r\n'.repeat(714) + '\r\n\r\n', [tooLarge('set', 'big', true)]],
    );
    const itemSizeMax = 2048;
    fc.assert(
      fc.property(errorPrefix, streamArb(itemSizeMax, 6), cutsArb, ([prefix, prefixExpect], { input, expect: expected }, fractions) => {
        const all = Buffer.concat([bytes(prefix), input]);
        const { requests } = runChunks(splitAt(all, toCuts(fractions, all.length)), itemSizeMax);
        expect(requests).toEqual([...prefixExpect, ...expected]);
      }),
      { numRuns: 150 },
    );
  });
});

// ---- (b) ----------------------------------------------------------------------

const kinds = new Set(['store', 'too_large', 'get', 'delete', 'delta', 'touch', 'flush_all', 'version', 'quit', 'verbosity', 'stats', 'cache_memlimit', 'reply', 'close']);
const replyLine = /^(ERROR|OK|CLIENT_ERROR .+)$/;

/** Vocabulary-biased garbage: protocol words, numbers, separators, control and random bytes. */
const garbageArb = fc.array(
  fc.oneof(
    fc.constantFrom('set', 'get', 'gets', 'gat', 'cas', 'add', 'delete', 'incr', 'touch', 'flush_all', 'stats', 'slabs', 'automove', 'ratio',
      'verbosity', 'cache_memlimit', 'noreply', 'version', 'quit', 'HTTP/1.1', 'GET', 'k', '0', '1', '5', '-1', '4294967295',
      '2147483645', '99999999999999999999', ' ', '  ', '\r\n', '\n', '\r', '\0', '\t', '\x7f'),
    fc.integer({ min: 0, max: 2100 }).map((n) => 'x'.repeat(n)),
    fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u).toString('latin1')),
  ),
  { maxLength: 60 },
).map((parts) => bytes(parts.join('')));

type Mutation = { at: number; op: 'flip' | 'delete' | 'insert' | 'dup'; len: number; byte: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  op: fc.constantFrom<Mutation['op']>('flip', 'delete', 'insert', 'dup'),
  len: fc.integer({ min: 1, max: 20 }),
  byte: fc.integer({ min: 0, max: 255 }),
});

function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let b = input;
  for (const m of mutations) {
    const at = Math.floor(m.at * b.length);
    switch (m.op) {
      case 'flip': if (at < b.length) { b = Buffer.from(b); b[at] = m.byte; } break;
      case 'delete': b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]); break;
      case 'insert': b = Buffer.concat([b.subarray(0, at), Buffer.alloc(m.len, m.byte), b.subarray(at)]); break;
      case 'dup': b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at)]); break;
    }
  }
  return b;
}

const hostileArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)),
  garbageArb,
  fc.tuple(streamArb(512, 8), fc.array(mutationArb, { minLength: 1, maxLength: 6 })).map(([s, ms]) => mutate(s.input, ms)),
);

function checkWellFormed(requests: Request[]): void {
  requests.forEach((r, i) => {
    expect(kinds.has(r.kind), r.kind).toBe(true);
    if (r.kind === 'reply') expect(r.line).toMatch(replyLine);
    if (r.kind === 'close') expect(i, 'nothing follows a close').toBe(requests.length - 1);
    if (r.kind === 'store' || r.kind === 'too_large' || r.kind === 'delete' || r.kind === 'delta' || r.kind === 'touch') {
      expect(r.key.length).toBeGreaterThan(0);
      expect(r.key.length).toBeLessThanOrEqual(250);
      // memcached's key rule (the default): any bytes but the space, newline and NUL that frame them.
      expect(r.key).not.toMatch(/[\x00\x0a\x20]/);
    }
    if (r.kind === 'store') expect(itemFits(r.key, r.value.length, r.flags, 512)).toBe(true);
  });
}

describe('parser properties: hostile input', () => {
  it('random bytes and mutated streams never throw or loop, and give the same requests however split', () => {
    fc.assert(
      fc.property(hostileArb, cutsArb, (input, fractions) => {
        const whole = runChunks([input], 512).requests; // throws on a loop (request budget)
        checkWellFormed(whole);
        const cut = runChunks(splitAt(input, toCuts(fractions, input.length)), 512).requests;
        if (!isDeepStrictEqual(cut, whole)) expect(cut).toEqual(whole);
      }),
      { numRuns: 600 },
    );
  });

  it('with --strict-keys no request ever carries a key with a control character', () => {
    fc.assert(
      fc.property(hostileArb, (input) => {
        for (const r of runChunks([input], 512, true).requests) {
          if ('key' in r) expect(r.key).not.toMatch(/[\x00-\x20\x7f]/);
          if (r.kind === 'get') for (const k of r.keys) expect(k).not.toMatch(/[\x00-\x20\x7f]/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('after a close, next() stays null whatever is pushed', () => {
    fc.assert(
      fc.property(hostileArb, fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 }), (input, more) => {
        const parser = new TextParser(512);
        const out: Request[] = [];
        parser.push(input);
        drain(parser, out, { left: input.length + 1 });
        if (out.at(-1)?.kind !== 'close') return;
        for (const m of more) {
          parser.push(Buffer.from(m));
          expect(parser.next()).toBeNull();
        }
        expect(parser.bufferedBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- (c) ----------------------------------------------------------------------

/** Could the parser legitimately be holding a long get/gets line? (memcached's rule: after <= 100 spaces.) */
const mayHoldGetLine = (input: Buffer): boolean => /(^|\n) {0,100}gets? /.test(input.toString('latin1'));

describe('parser properties: bounded memory', () => {
  it('after every drain, bufferedBytes <= max(-I, line_length_max), or a get line within get_line_length_max', () => {
    const itemSizeMax = 4096;
    const tight = Math.max(itemSizeMax, line_length_max);
    const inputArb = fc.oneof(
      streamArb(itemSizeMax, 10).map((s) => s.input),
      hostileArb,
      // values around the -I boundary and beyond, declared and sent
      fc.array(fc.tuple(fc.integer({ min: 3900, max: 9000 }), fc.boolean()), { minLength: 1, maxLength: 4 })
        .map((vs) => Buffer.concat(vs.map(([n, complete]) => bytes(`set k 0 0 ${n}\r\n${'v'.repeat(complete ? n : n >> 1)}\r\n`)))),
    );
    fc.assert(
      fc.property(inputArb, cutsArb, (input, fractions) => {
        const parser = new TextParser(itemSizeMax);
        const out: Request[] = [];
        const budget = { left: input.length + 1 };
        const getLine = mayHoldGetLine(input);
        for (const chunk of splitAt(input, toCuts(fractions, input.length))) {
          parser.push(chunk);
          drain(parser, out, budget);
          const held = parser.bufferedBytes;
          if (held > tight) {
            expect(getLine, `${held} bytes held with no get line in the input`).toBe(true);
            expect(held).toBeLessThanOrEqual(get_line_length_max);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a get line growing in random chunks is held up to get_line_length_max, then closed and released', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1000, max: 300_000 }), { minLength: 1, maxLength: 30 }), (sizes) => {
        const parser = new TextParser(1024 * 1024);
        parser.push(bytes('get '));
        expect(parser.next()).toBeNull();
        const chunk = bytes('key '.repeat(75_000));
        let pushed = 4;
        let i = 0;
        for (;;) {
          const n = sizes[i++ % sizes.length]!;
          parser.push(chunk.subarray(0, n));
          pushed += n;
          const r = parser.next();
          if (pushed > get_line_length_max) {
            expect(r).toEqual({ kind: 'close', reason: 'line too long' });
            expect(parser.bufferedBytes).toBe(0);
            return;
          }
          expect(r).toBeNull();
          expect(parser.bufferedBytes).toBe(pushed);
        }
      }),
      { numRuns: 8 },
    );
  });
});
