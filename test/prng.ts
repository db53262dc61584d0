// The small seeded PRNG every randomised test here uses, so a failing run can
// be repeated from its printed seed: mulberry32, the same one `mcl bench`
// draws its keys and values from (src/cli/bench/workload.ts).

import { makeRng } from '../src/cli/bench/workload.js';

export { makeRng };

/** Uniform integers in [0, n) from `seed`. */
export function prng(seed: number): (n: number) => number {
  const next = makeRng(seed);
  return (n) => Math.floor(next() * n);
}
