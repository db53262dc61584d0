// Shared helpers for the parser tests: builders for expected Requests, and
// drivers that feed a TextParser in chunks, draining next() until null after
// every push (as the connection does when it is not backpressured).

import { TextParser } from '../../src/net/parser.js';
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
