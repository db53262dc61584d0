// What every interop test writes and how it checks it: deterministic values
// (printable ASCII, no CR/LF, so no client escapes or re-encodes them) and a
// record of acknowledged writes that the restart step reads back in full.
//
// Sizes: "500 KB" is 500 KiB (512,000 bytes). "1 MB" is exactly 1 MiB
// (1,048,576 bytes), sent to a server started with -I 2m (target.ts): with the
// default -I 1m stock memcached refuses it, because its limit counts the key
// and item header too (largest 1-byte-key value there: 1,048,516 bytes).

import { expect } from 'vitest';
import { mib } from './target.js';

export const size500KiB = 500 * 1024;
export const size1MiB = mib;

/** sizeBytes of printable ASCII that differs per seed and per position (catches shifted or truncated blocks). */
export function patterned(sizeBytes: number, seed: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619) >>> 0;
  const out = Buffer.alloc(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) {
    h = (Math.imul(h, 1103515245) + 12345) >>> 0;
    out[i] = alphabet.charCodeAt(h >>> 26);
  }
  return out.toString('latin1');
}

/** Every write the server acknowledged: key -> value, or null once a delete was acknowledged. */
export class AckedWrites {
  private readonly state = new Map<string, string | null>();

  stored(key: string, value: string): void { this.state.set(key, value); }
  deleted(key: string): void { this.state.set(key, null); }
  get size(): number { return this.state.size; }
  entries(): Array<[string, string | null]> { return [...this.state]; }

  /** Checks each acknowledged write against what `read` returns now (undefined/null = miss). */
  async expectAll(read: (key: string) => Promise<string | null | undefined>): Promise<void> {
    expect(this.size).toBeGreaterThan(0);
    for (const [key, value] of this.state) {
      const got = await read(key);
      if (value === null) expect(got ?? null, `${key} was deleted`).toBeNull();
      else expect(got === value, `${key}: expected ${value.length} bytes, got ${got?.length ?? 'a miss'}`).toBe(true);
    }
  }
}

/** A value a client returned as text, whatever type it chose (string, Buffer or number). */
export function asText(value: unknown): string | null {
  if (value === undefined || value === null || value === false) return null;
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  return String(value);
}

/** Relative TTL used by the touch checks, and how long to wait until an untouched item is surely gone (memcached's clock ticks once a second). */
export const shortTtlS = 2;
export const shortTtlWaitMs = 3200;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Adapts a Node-style callback API to a promise (err first; any truthy err rejects). */
export function fromCallback<T>(run: (done: (err: unknown, result: T) => void) => void): Promise<T> {
  return new Promise((res, rej) => {
    run((err, result) => {
      if (err) rej(err instanceof Error ? err : new Error(JSON.stringify(err)));
      else res(result);
    });
  });
}

/** Rejects if `promise` has not settled within ms (for clients that can wait forever on a reply that never comes). */
export function withDeadline<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms); });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
