// slabClassFor (a lookup table) against the rule it encodes: the smallest
// class whose chunk holds the item, the largest class above that.

import { describe, expect, it } from 'vitest';
import { slabClasses, slabClassFor } from '../../src/engine/slabs.js';

/** The rule, by a linear search. */
function smallestHolding(total: number) {
  return slabClasses.find((c) => c.chunkSizeBytes >= total) ?? slabClasses[slabClasses.length - 1]!;
}

describe('slabClassFor', () => {
  it('is the smallest class whose chunk holds the total, for every total up to past the largest chunk', () => {
    const largest = slabClasses[slabClasses.length - 1]!.chunkSizeBytes;
    for (let total = 0; total <= largest + 100; total++) {
      if (slabClassFor(total) !== smallestHolding(total)) expect({ total, id: slabClassFor(total).id }).toEqual({ total, id: smallestHolding(total).id });
    }
    expect(slabClassFor(10 * largest)).toBe(slabClasses[slabClasses.length - 1]);
  });

  it('has chunk sizes in multiples of 8 (what the lookup by eighths relies on)', () => {
    for (const c of slabClasses) expect(c.chunkSizeBytes % 8).toBe(0);
    expect(slabClassFor(96).id).toBe(1);
    expect(slabClassFor(97).id).toBe(2);
  });
});
