// What `mcl bench` sends: seeded random keys and values and the memcached
// text requests built from them.
//
// Keys are 10 and values 50 characters from [A-Za-z0-9] (the original
// methodology's sizes; printable, so every memcached-protocol server accepts
// them). The same seed gives the same keys, values and choices, so two servers
// measured in one run get byte-identical request streams.

export const key_length_chars = 10;
export const value_length_chars = 50;
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Seeded uniform numbers in [0, 1) (mulberry32). */
export type Rng = () => number;

export function makeRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform integer in [0, n). */
export function pick(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

export function randomText(rng: Rng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[pick(rng, alphabet.length)];
  return s;
}

export const randomKey = (rng: Rng): string => randomText(rng, key_length_chars);
export const randomValue = (rng: Rng): string => randomText(rng, value_length_chars);

/** `set KEY 0 0 LEN [noreply]` + data block. */
export function setRequest(key: string, value: string, noreply = false): Buffer {
  return Buffer.from(`set ${key} 0 0 ${Buffer.byteLength(value)}${noreply ? ' noreply' : ''}\r\n${value}\r\n`, 'latin1');
}

export function getRequest(key: string): Buffer {
  return Buffer.from(`get ${key}\r\n`, 'latin1');
}

/**
 * The cheap request sent after a noreply SET on the same connection: every
 * memcached-protocol server answers it, and only after the SET before it (in
 * memcached-lite, only once that SET is durable, since replies leave in order).
 */
export const version_request = Buffer.from('version\r\n', 'latin1');
