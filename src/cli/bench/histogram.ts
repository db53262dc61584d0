// Latency histogram for `mcl bench`: HdrHistogram-like log-linear buckets of
// whole microseconds, fixed size, no dependency.
//
// Layout: values below 128 µs get one bucket each (exact); every power-of-two
// range [2^m, 2^(m+1)) above that is cut into 128 equal buckets, so a bucket
// is at most 1/128 (< 0.8 %) of its values wide. Values above max_value_us
// (about 12.7 days) are clamped into the last bucket.
//
// Invariants: count equals the sum of the bucket counts; mean, min and max are
// exact (kept beside the buckets); a percentile is the highest value of the
// bucket that holds the ranked sample, capped at the exact max, so it never
// understates a latency by more than one bucket width and never exceeds max.

const sub_bucket_bits = 7;
const sub_bucket_count = 1 << sub_bucket_bits; // 128
const magnitude_max = 40; // 2^40 µs
export const max_value_us = 2 ** (magnitude_max + 1) - 1;
const bucket_count = sub_bucket_count + (magnitude_max - sub_bucket_bits + 1) * sub_bucket_count;

/** Bucket index of a whole, non-negative number of microseconds. */
export function bucketIndex(us: number): number {
  if (us < sub_bucket_count) return us;
  let magnitude = Math.floor(Math.log2(us));
  // Math.log2 of a double may land one off right beside a power of two
  if (us >= 2 ** (magnitude + 1)) magnitude++;
  else if (us < 2 ** magnitude) magnitude--;
  const shift = magnitude - sub_bucket_bits;
  return sub_bucket_count + shift * sub_bucket_count + (Math.floor(us / 2 ** shift) - sub_bucket_count);
}

/** The range [low, high] of values that fall into bucket `index`. */
export function bucketRange(index: number): { low: number; high: number } {
  if (index < sub_bucket_count) return { low: index, high: index };
  const shift = Math.floor((index - sub_bucket_count) / sub_bucket_count);
  const sub = ((index - sub_bucket_count) % sub_bucket_count) + sub_bucket_count;
  const low = sub * 2 ** shift;
  return { low, high: low + 2 ** shift - 1 };
}

export interface LatencySummary {
  count: number;
  /** Milliseconds, three decimals (microsecond resolution). */
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  /** null where the tool measured does not report it (redis-benchmark). */
  p999Ms: number | null;
  minMs: number;
  maxMs: number;
}

export class Histogram {
  private readonly counts = new Float64Array(bucket_count);
  count = 0;
  private sumUs = 0;
  minUs = Infinity;
  maxUs = 0;

  /** Records one latency given in (fractional) milliseconds. */
  recordMs(ms: number): void {
    this.recordUs(Math.round(ms * 1000));
  }

  recordUs(value: number): void {
    const us = Math.min(max_value_us, Math.max(0, Math.round(value)));
    this.counts[bucketIndex(us)]!++;
    this.count++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** Adds every sample of `other` to this histogram. */
  add(other: Histogram): void {
    for (let i = 0; i < bucket_count; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.minUs = Math.min(this.minUs, other.minUs);
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  meanUs(): number {
    return this.count === 0 ? 0 : this.sumUs / this.count;
  }

  /** The value at percentile p (0 < p <= 100) in µs; 0 when empty. */
  percentileUs(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < bucket_count; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxUs, Math.max(this.minUs, bucketRange(i).high));
    }
    return this.maxUs;
  }

  summary(): LatencySummary {
    const ms = (us: number): number => Math.round(us) / 1000;
    return {
      count: this.count,
      avgMs: ms(this.meanUs()),
      p50Ms: ms(this.percentileUs(50)),
      p99Ms: ms(this.percentileUs(99)),
      p999Ms: ms(this.percentileUs(99.9)),
      minMs: ms(this.count === 0 ? 0 : this.minUs),
      maxMs: ms(this.maxUs),
    };
  }
}
