// bench/step2-data.mjs - the data set of bench/step2.sh, shared by the
// generator (step2-gen.mjs) and the clients (step2-client.mjs) so that
// memcached-lite and Redis hold byte-for-byte the same items.
//
//   key(i)        "key:" + i as 12 digits        -> exactly 16 bytes
//   value(i, gen) 50 printable bytes, a function of (i, gen); gen 0 is the
//                 bulk load, gen 1 the update pass
//   updateIndex(j, n)  the item the j-th update overwrites: a permutation of
//                 0..n-1 (stride 7919, prime and coprime with 10^k), so the
//                 updates hit distinct keys spread over the whole key space
//                 and the item count stays n.

export const key_bytes = 16;
export const value_bytes = 50;
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function key(i) {
  return `key:${String(i).padStart(12, '0')}`;
}

// splitmix32-style mixing: cheap, deterministic, no state
function mix(x) {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** 50 printable ASCII bytes as a latin1/ASCII string. */
export function value(i, gen = 0) {
  let s = gen === 0 ? 'v0:' : `v${gen}:`;
  let h = mix(i * 31 + gen);
  while (s.length < value_bytes) {
    h = mix(h);
    s += alphabet[h % 62] + alphabet[(h >>> 8) % 62] + alphabet[(h >>> 16) % 62] + alphabet[(h >>> 24) % 62];
  }
  return s.slice(0, value_bytes);
}

export const update_stride = 7919;
export function updateIndex(j, n) {
  return (j * update_stride) % n;
}

/** xorshift32 PRNG for random key picks in the load generator. */
export function rng(seed) {
  let x = seed >>> 0 || 0x12345678;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}
