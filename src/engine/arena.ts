// Value arena: item bytes live outside the JS heap, in 1 MiB pages carved
// into fixed-size chunks, one chunk size per page (memcached's slab idea).
// A value costs its chunk and no JS object, so a million small items are a
// few hundred pages instead of a million Buffers for the garbage collector.
//
// Invariants:
// - An address is a plain number: page * page_bytes + offset for a chunk, or
//   -(index + 1) for a value above the largest chunk, which gets a Buffer of
//   its own in `big`.
// - A page holds chunks of one class while any of them is in use. Each page
//   keeps its own stack of released chunks and a bump offset for chunks never
//   used; a class lists the pages that have a chunk to give. A page whose
//   last chunk is released goes back to a pool any class can take, so memory
//   follows the sizes in use (memcached needs a slab rebalancer for this).
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

const no_class = -1;

export class ValueArena {
  private readonly pages: Buffer[] = [];
  /** Per page: its class, or no_class while it is in the free pool. */
  private readonly pageClass: number[] = [];
  /** Per page: chunks in use. */
  private readonly pageUsed: number[] = [];
  /** Per page: offsets of released chunks. */
  private readonly pageReleased: number[][] = [];
  /** Per page: offset of the first never-used chunk (page_bytes when none is left). */
  private readonly pageFresh: number[] = [];
  /** Per page: whether it is in its class's list of pages with a chunk to give. */
  private readonly pageListed: boolean[] = [];
  /** Per class: pages with a chunk to give (the last one is used first). */
  private readonly classPages: number[][] = chunkSizes.map(() => []);
  private readonly freePages: number[] = [];
  private readonly big: Array<Buffer | undefined> = [];
  private readonly bigFree: number[] = [];

  /** Reserves room for `length` bytes; returns the address. */
  alloc(length: number): number {
    if (length > chunk_max_bytes) return this.allocBig(length);
    const cls = classFor(length);
    const listed = this.classPages[cls]!;
    while (listed.length > 0) {
      const page = listed[listed.length - 1]!;
      const offset = this.takeChunk(page, chunkSizes[cls]!);
      if (offset >= 0) return page * page_bytes + offset;
      listed.pop();
      this.pageListed[page] = false;
    }
    const page = this.takePage(cls);
    return page * page_bytes + this.takeChunk(page, chunkSizes[cls]!);
  }

  /** Returns the chunk at `address` (holding `length` bytes) for reuse. */
  release(address: number, length: number): void {
    if (address < 0) {
      this.big[-address - 1] = undefined;
      this.bigFree.push(-address - 1);
      return;
    }
    const page = Math.floor(address / page_bytes);
    const cls = this.pageClass[page]!;
    if (--this.pageUsed[page]! === 0) {
      this.freePage(page, cls);
      return;
    }
    this.pageReleased[page]!.push(address % page_bytes);
    if (!this.pageListed[page]) {
      this.classPages[cls]!.push(page);
      this.pageListed[page] = true;
    }
  }

  /** Whether the chunk at `address`, holding `length` bytes, is the one alloc would give for `newLength` bytes (then it can be rewritten in place). */
  fits(address: number, length: number, newLength: number): boolean {
    return address >= 0 && newLength <= chunk_max_bytes && classFor(newLength) === classFor(length);
  }

  /** Copies src[start, end) to `address`. */
  write(address: number, src: Buffer, start: number, end: number): void {
    src.copy(this.bufferOf(address), this.offsetOf(address), start, end);
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

  /** Bytes held in pages (in use or pooled) and big values (for memory reporting). */
  get reservedBytes(): number {
    let total = this.pages.length * page_bytes;
    for (const b of this.big) if (b) total += b.length;
    return total;
  }

  /** Pages in the free pool. */
  get pooledPages(): number { return this.freePages.length; }

  /** A chunk offset from `page` (released ones first), or -1 if it is full. */
  private takeChunk(page: number, size: number): number {
    const released = this.pageReleased[page]!.pop();
    let offset: number;
    if (released !== undefined) {
      offset = released;
    } else {
      offset = this.pageFresh[page]!;
      if (offset + size > page_bytes) return -1;
      this.pageFresh[page] = offset + size;
    }
    this.pageUsed[page]!++;
    return offset;
  }

  /** A page from the pool (or a new one), carved for `cls` and listed. */
  private takePage(cls: number): number {
    let page = this.freePages.pop();
    if (page === undefined) {
      page = this.pages.length;
      this.pages.push(Buffer.allocUnsafeSlow(page_bytes));
      this.pageReleased.push([]);
      this.pageUsed.push(0);
      this.pageFresh.push(0);
      this.pageClass.push(no_class);
      this.pageListed.push(false);
    }
    this.pageClass[page] = cls;
    this.pageFresh[page] = 0;
    this.pageReleased[page] = [];
    this.pageUsed[page] = 0;
    this.classPages[cls]!.push(page);
    this.pageListed[page] = true;
    return page;
  }

  /** A page none of whose chunks is in use goes back to the pool. */
  private freePage(page: number, cls: number): void {
    if (this.pageListed[page]) {
      const listed = this.classPages[cls]!;
      const at = listed.lastIndexOf(page);
      listed[at] = listed[listed.length - 1]!;
      listed.pop();
      this.pageListed[page] = false;
    }
    this.pageClass[page] = no_class;
    this.pageReleased[page] = [];
    this.freePages.push(page);
  }

  private allocBig(length: number): number {
    const index = this.bigFree.pop() ?? this.big.length;
    this.big[index] = Buffer.allocUnsafeSlow(length);
    return -(index + 1);
  }
}
