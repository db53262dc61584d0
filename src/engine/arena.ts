// Value arena: item values live outside the JS heap, in 1 MiB pages carved
// into fixed-size chunks, one chunk size per class (memcached's slab idea).
// A value costs its chunk and no JS object, so a million small items are a
// few hundred pages instead of a million Buffers for the garbage collector.
//
// Invariants:
// - An address is a plain number: page * page_bytes + offset for a chunk, or
//   -(index + 1) for a value above the largest chunk, which gets a Buffer of
//   its own in `big`.
// - A chunk belongs to one class for its life; freed chunks go on their
//   class's free stack and are reused before a new page is taken. Pages are
//   never returned (like memcached's slabs); -m bounds what items may hold.
// - Nothing here knows keys or items: the caller keeps (address, length).

const page_bytes = 1024 * 1024;
const chunk_max_bytes = page_bytes / 2;
const small_step_bytes = 8;
const small_max_bytes = 128;
const growth_factor = 1.25;

function buildChunkSizes(): number[] {
  const sizes: number[] = [];
  for (let s = small_step_bytes; s <= small_max_bytes; s += small_step_bytes) sizes.push(s);
  for (let s = small_max_bytes * growth_factor; s < chunk_max_bytes; s *= growth_factor) {
    sizes.push(Math.ceil(s / small_step_bytes) * small_step_bytes);
  }
  sizes.push(chunk_max_bytes);
  return sizes;
}

const chunkSizes = buildChunkSizes();

/** The smallest class whose chunk holds `length` bytes (length <= chunk_max_bytes). */
function classFor(length: number): number {
  if (length <= small_max_bytes) return length === 0 ? 0 : ((length + small_step_bytes - 1) >> 3) - 1;
  let lo = small_max_bytes / small_step_bytes;
  let hi = chunkSizes.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (chunkSizes[mid]! >= length) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class ValueArena {
  private readonly pages: Buffer[] = [];
  private readonly free: number[][] = chunkSizes.map(() => []);
  /** Per class: address of the next never-used chunk in its newest page, or -1. */
  private readonly fresh: number[] = chunkSizes.map(() => -1);
  private readonly big: Array<Buffer | undefined> = [];
  private readonly bigFree: number[] = [];

  /** Reserves room for `length` bytes; returns the address. */
  alloc(length: number): number {
    if (length > chunk_max_bytes) return this.allocBig(length);
    const cls = classFor(length);
    const reused = this.free[cls]!.pop();
    if (reused !== undefined) return reused;
    let at = this.fresh[cls]!;
    if (at < 0) at = this.newPage();
    const size = chunkSizes[cls]!;
    const next = at + size;
    this.fresh[cls] = (next % page_bytes) + size <= page_bytes && next % page_bytes !== 0 ? next : -1;
    return at;
  }

  /** Returns the chunk at `address` (holding `length` bytes) for reuse. */
  release(address: number, length: number): void {
    if (address < 0) {
      this.big[-address - 1] = undefined;
      this.bigFree.push(-address - 1);
      return;
    }
    this.free[classFor(length)]!.push(address);
  }

  /** Copies src[start, end) to `address`. */
  write(address: number, src: Buffer, start: number, end: number): void {
    if (address < 0) src.copy(this.big[-address - 1]!, 0, start, end);
    else src.copy(this.pages[Math.floor(address / page_bytes)]!, address % page_bytes, start, end);
  }

  /** The Buffer holding the value at `address`; the value starts at offsetOf(address). */
  bufferOf(address: number): Buffer {
    return address < 0 ? this.big[-address - 1]! : this.pages[Math.floor(address / page_bytes)]!;
  }

  offsetOf(address: number): number {
    return address < 0 ? 0 : address % page_bytes;
  }

  /** A copy of `length` bytes at `address`, owned by the caller. */
  copyOut(address: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    const at = this.offsetOf(address);
    this.bufferOf(address).copy(out, 0, at, at + length);
    return out;
  }

  /** Bytes held in pages and big values (for memory reporting). */
  get reservedBytes(): number {
    let total = this.pages.length * page_bytes;
    for (const b of this.big) if (b) total += b.length;
    return total;
  }

  private newPage(): number {
    this.pages.push(Buffer.allocUnsafeSlow(page_bytes));
    return (this.pages.length - 1) * page_bytes;
  }

  private allocBig(length: number): number {
    const index = this.bigFree.pop() ?? this.big.length;
    this.big[index] = Buffer.allocUnsafeSlow(length);
    return -(index + 1);
  }
}
