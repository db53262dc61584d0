// mulberry32: the small seeded PRNG every randomised test here uses, so a
// failing run can be repeated from its printed seed.

/** Uniform numbers in [0, 1) from `seed`. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform integers in [0, n) from `seed`. */
export function prng(seed: number): (n: number) => number {
  const next = makeRng(seed);
  return (n) => Math.floor(next() * n);
}
