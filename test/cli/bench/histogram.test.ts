// The latency histogram of mcl bench (src/cli/bench/histogram.ts): bucket
// layout (every value inside its bucket, buckets at most 1/128 wide, in
// order), exact mean/min/max, and percentiles checked against the exact
// percentile of the same samples.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bucketIndex, bucketRange, Histogram, max_value_us } from '../../../src/cli/bench/histogram.js';

/** The exact p-th percentile (nearest rank) of a list of whole numbers. */
function exactPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

describe('bucket layout', () => {
  const edges = [0, 1, 126, 127, 128, 129, 255, 256, 257, 1000, 2 ** 20 - 1, 2 ** 20, 2 ** 20 + 1, 2 ** 32, max_value_us - 1, max_value_us];

  it('puts every value in a bucket whose range holds it, at most 1/128 of it wide (exact below 128)', () => {
    const check = (v: number): void => {
      const { low, high } = bucketRange(bucketIndex(v));
      expect(low).toBeLessThanOrEqual(v);
      expect(high).toBeGreaterThanOrEqual(v);
      if (v < 128) expect(high).toBe(low);
      else expect(high - low + 1).toBeLessThanOrEqual(low / 128);
    };
    edges.forEach(check);
    fc.assert(fc.property(fc.integer({ min: 0, max: max_value_us }), (v) => check(v)), { numRuns: 2000 });
  });

  it('numbers buckets in value order with no gaps', () => {
    let previous = bucketRange(0);
    for (let i = 1; i < bucketIndex(max_value_us); i++) {
      const r = bucketRange(i);
      expect(r.low).toBe(previous.high + 1);
      expect(bucketIndex(r.low)).toBe(i);
      expect(bucketIndex(r.high)).toBe(i);
      previous = r;
    }
  });
});

describe('Histogram', () => {
  it('summarises 1..1000 us: exact mean, min and max, percentiles within a bucket', () => {
    const h = new Histogram();
    for (let us = 1; us <= 1000; us++) h.recordUs(us);
    expect(h.count).toBe(1000);
    expect(h.meanUs()).toBe(500.5);
    expect(h.summary()).toMatchObject({ count: 1000, avgMs: 0.501, minMs: 0.001, maxMs: 1 });
    expect(h.percentileUs(50)).toBeGreaterThanOrEqual(500);
    expect(h.percentileUs(50)).toBeLessThanOrEqual(503);
    expect(h.percentileUs(99)).toBeGreaterThanOrEqual(990);
    expect(h.percentileUs(99)).toBeLessThanOrEqual(997);
    expect(h.percentileUs(99.9)).toBe(1000);
  });

  it('shows a slow tail at p99.9 but not at p99 (990 fast, 10 slow samples)', () => {
    const h = new Histogram();
    for (let i = 0; i < 990; i++) h.recordMs(0.1);
    for (let i = 0; i < 10; i++) h.recordMs(10);
    const s = h.summary();
    expect(s.p50Ms).toBe(0.1);
    expect(s.p99Ms).toBe(0.1);
    expect(s.p999Ms).toBe(10);
    expect(s.avgMs).toBe(0.199);
  });

  it('is all zeros when empty', () => {
    expect(new Histogram().summary()).toEqual({ count: 0, avgMs: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, minMs: 0, maxMs: 0 });
  });

  it('clamps negative values to 0 and huge ones to the largest value', () => {
    const h = new Histogram();
    h.recordUs(-5);
    h.recordUs(1e20);
    expect(h.minUs).toBe(0);
    expect(h.maxUs).toBe(max_value_us);
    expect(h.percentileUs(100)).toBe(max_value_us);
  });

  it('never reports a percentile below the exact one nor more than a bucket above it', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 50_000_000 }), { minLength: 1, maxLength: 300 }), fc.constantFrom(1, 50, 90, 99, 99.9, 100), (values, p) => {
      const h = new Histogram();
      values.forEach((v) => h.recordUs(v));
      const exact = exactPercentile(values, p);
      const got = h.percentileUs(p);
      expect(got).toBeGreaterThanOrEqual(exact);
      expect(got).toBeLessThanOrEqual(Math.max(exact, exact + exact / 128));
      expect(h.meanUs()).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
    }), { numRuns: 300 });
  });

  it('add() gives the same histogram as recording every sample into one', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1e7 })), fc.array(fc.integer({ min: 0, max: 1e7 })), (a, b) => {
      const ha = new Histogram(), hb = new Histogram(), all = new Histogram();
      a.forEach((v) => { ha.recordUs(v); all.recordUs(v); });
      b.forEach((v) => { hb.recordUs(v); all.recordUs(v); });
      ha.add(hb);
      expect(ha.summary()).toEqual(all.summary());
    }), { numRuns: 100 });
  });
});
