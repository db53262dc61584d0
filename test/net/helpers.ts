// Shared helpers for the parser tests: builders for expected Requests,
// drivers that feed a TextParser in chunks, draining next() until null after
// every push (as the connection does when it is not backpressured), and
// runThreeWays, which checks a table case whole, byte by byte and split at
// every position.

import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import { line_length_max } from '../../src/engine/limits.js';
import { TextParser } from '../../src/net/parser.js';
import { makeRng as rng } from '../prng.js';
import type { Request } from '../../src/net/requests.js';
import type { StoreMode } from '../../src/engine/types.js';

export const ITEM_SIZE_MAX = 1024 * 1024;

export const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

export const FORMAT = 'CLIENT_ERROR bad command line format';
export const DELETE_USAGE = 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]';
export const BAD_CHUNK = 'CLIENT_ERROR bad data chunk';
export const BAD_EXPTIME = 'CLIENT_ERROR invalid exptime argument';
export const BAD_DELTA = 'CLIENT_ERROR invalid numeric delta argument';

// ---- expected requests ----------------------------------------------------------

export interface StoreOpts { flags?: number; exptime?: number; cas?: bigint; noreply?: boolean }

export function store(mode: StoreMode, key: string, value: string | Buffer, o: StoreOpts = {}): Request {
  return {
    kind: 'store', mode, key, flags: o.flags ?? 0, exptime: o.exptime ?? 0, casUnique: o.cas ?? 0n,
    noreply: o.noreply ?? false, value: typeof value === 'string' ? bytes(value) : Buffer.from(value),
  };
}
export const tooLarge = (mode: StoreMode, key: string, noreply = false): Request => ({ kind: 'too_large', mode, key, noreply });
export const get = (keys: string[], withCas = false, touchExptime?: number): Request =>
  ({ kind: 'get', keys, withCas, touchExptime });
export const del = (key: string, noreply = false): Request => ({ kind: 'delete', key, noreply });
export const delta = (incr: boolean, key: string, d: bigint, noreply = false): Request => ({ kind: 'delta', incr, key, delta: d, noreply });
export const touch = (key: string, exptime: number, noreply = false): Request => ({ kind: 'touch', key, exptime, noreply });
export const flushAll = (delaySeconds = 0, noreply = false): Request => ({ kind: 'flush_all', delaySeconds, noreply });
export const VERSION: Request = { kind: 'version' };
export const QUIT: Request = { kind: 'quit' };
export const verbosity = (level: number, noreply = false): Request => ({ kind: 'verbosity', level, noreply });
export const stats = (...args: string[]): Request => ({ kind: 'stats', args });
export const memlimit = (megabytes: number | null, noreply = false): Request => ({ kind: 'cache_memlimit', megabytes, noreply });
export const reply = (line: string, noreply = false): Request => ({ kind: 'reply', line, noreply });
export const ERROR: Request = reply('ERROR');
export const TOO_LONG: Request = { kind: 'close', reason: 'line too long' };
export const close = (reason: string): Request => ({ kind: 'close', reason });

// ---- drivers --------------------------------------------------------------------

/**
 * Drain next() until null. Every request consumes at least one byte (its '\n'
 * or its data), so more requests than bytes ever pushed means a loop.
 */
export function drain(parser: TextParser, out: Request[], budget: { left: number }): void {
  for (;;) {
    const request = parser.next();
    if (request === null) return;
    if (--budget.left < 0) throw new Error('parser produced more requests than bytes pushed: a loop');
    out.push(request);
  }
}

export interface Run { requests: Request[]; parser: TextParser }

/** Push the chunks in order, draining after each; the parser is returned for inspection. */
export function runChunks(chunks: readonly Uint8Array[], itemSizeMax = ITEM_SIZE_MAX, strictKeys = false): Run {
  const parser = new TextParser(itemSizeMax, strictKeys);
  const requests: Request[] = [];
  const budget = { left: 1 };
  for (const c of chunks) {
    budget.left += c.length;
    parser.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    drain(parser, requests, budget);
  }
  return { requests, parser };
}

export const parseWhole = (input: Buffer, itemSizeMax = ITEM_SIZE_MAX, strictKeys = false): Request[] =>
  runChunks([input], itemSizeMax, strictKeys).requests;

/** Cut input at the given (sorted, in-range) positions. */
export function splitAt(input: Buffer, cuts: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    chunks.push(input.subarray(prev, c));
    prev = c;
  }
  chunks.push(input.subarray(prev));
  return chunks;
}

export function byteByByte(input: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i++) chunks.push(input.subarray(i, i + 1));
  return chunks;
}

/** A readable name for a byte string in test titles. */
export function show(input: Buffer, max = 60): string {
  const s = JSON.stringify(input.toString('latin1').slice(0, max));
  return input.length > max ? `${s}... (${input.length} bytes)` : s;
}

// ---- three-way table runs ----------------------------------------------------

/** A parser table case: input bytes and the Requests they must give. */
export interface Case {
  name?: string;
  input: string | Buffer;
  expect: Request[];
  /** -I for this case; small values keep oversize cases cheap. */
  itemSizeMax?: number;
  /** Parse with --strict-keys (refuse control characters in keys). */
  strictKeys?: boolean;
}

export function expand(c: Case): Case & { name: string; input: Buffer } {
  const input = typeof c.input === 'string' ? bytes(c.input) : c.input;
  return { ...c, input, name: c.name ? `${c.name}: ${show(input, 40)}` : show(input) };
}

const all_splits_max_bytes = 6000;
const all_pairs_max_bytes = 120;

/** Two-chunk cut points: all of them for short inputs, else the edges, the 2 KB boundary and a sample. */
function singleCuts(length: number): number[] {
  if (length <= all_splits_max_bytes) return Array.from({ length: length + 1 }, (_, i) => i);
  const cuts = new Set<number>();
  for (let i = 0; i <= 64; i++) { cuts.add(i); cuts.add(length - i); }
  for (let i = line_length_max - 4; i <= line_length_max + 4; i++) cuts.add(i);
  const r = rng(length);
  for (let i = 0; i < 400; i++) cuts.add(Math.floor(r() * (length + 1)));
  return [...cuts].filter((c) => c >= 0 && c <= length).sort((a, b) => a - b);
}

function pairCuts(length: number): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  if (length <= all_pairs_max_bytes) {
    for (let i = 0; i <= length; i++) for (let j = i; j <= length; j++) pairs.push([i, j]);
    return pairs;
  }
  const r = rng(length * 31 + 7);
  const samples = length > all_splits_max_bytes ? 100 : 1500;
  for (let n = 0; n < samples; n++) {
    const a = Math.floor(r() * (length + 1));
    const b = Math.floor(r() * (length + 1));
    pairs.push(a <= b ? [a, b] : [b, a]);
  }
  return pairs;
}

/** Fast structural comparison in the loops; vitest's diff only for a failure. */
export function check(actual: Request[], expected: Request[], how: string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, how).toEqual(expected);
}

export function runThreeWays(raw: Case): void {
  const c = expand(raw);
  const itemSizeMax = c.itemSizeMax;
  const strict = raw.strictKeys ?? false;
  const whole = parseWhole(c.input, itemSizeMax, strict);
  expect(whole, 'one chunk').toEqual(c.expect);
  check(runChunks(byteByByte(c.input), itemSizeMax, strict).requests, c.expect, 'byte by byte');
  for (const cut of singleCuts(c.input.length)) {
    check(runChunks(splitAt(c.input, [cut]), itemSizeMax, strict).requests, c.expect, `split at ${cut}`);
  }
  for (const [a, b] of pairCuts(c.input.length)) {
    check(runChunks(splitAt(c.input, [a, b]), itemSizeMax, strict).requests, c.expect, `split at ${a} and ${b}`);
  }
}
