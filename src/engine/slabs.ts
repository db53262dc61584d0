// memcached's slab classes, emulated for accounting and stats only. Values are
// ordinary Buffers; what we copy is how memcached charges memory: an item
// costs the chunk size of the smallest class it fits (factor 1.25 from 96
// bytes, 8-byte aligned, up to half a 1 MiB page; larger items are chunked).
// Charging like memcached makes -m evict when memcached would, and lets
// `stats items` / `stats slabs` report the class numbers its tools expect.

const slab_page_size_bytes = 1024 * 1024;
const slab_chunk_size_max_bytes = slab_page_size_bytes / 2;
const slab_growth_factor = 1.25;
const item_header_bytes = 48;
const chunk_align_bytes = 8;

export interface SlabClass { id: number; chunkSizeBytes: number; chunksPerPage: number }

function buildClasses(): SlabClass[] {
  const classes: SlabClass[] = [];
  let size = item_header_bytes + 48;
  let id = 1;
  while (size < slab_chunk_size_max_bytes / slab_growth_factor) {
    if (size % chunk_align_bytes) size += chunk_align_bytes - (size % chunk_align_bytes);
    classes.push({ id, chunkSizeBytes: size, chunksPerPage: Math.floor(slab_page_size_bytes / size) });
    size = Math.floor(size * slab_growth_factor);
    id++;
  }
  classes.push({ id, chunkSizeBytes: slab_chunk_size_max_bytes, chunksPerPage: 2 });
  return classes;
}

export const slabClasses: readonly SlabClass[] = buildClasses();
const largestClass = slabClasses[slabClasses.length - 1]!;

/**
 * Per multiple of 8 bytes up to the largest chunk, the index in slabClasses
 * of the smallest class that holds it. Chunk sizes are multiples of 8, so a
 * total's class is that of its next multiple of 8: one lookup per item.
 */
const classIndexByEighths = (() => {
  const table = new Uint8Array(largestClass.chunkSizeBytes / chunk_align_bytes + 1);
  // Filled a class at a time (a range fill each, not 65k interpreted steps at start-up).
  let from = 0;
  for (let c = 0; c < slabClasses.length; c++) {
    const to = slabClasses[c]!.chunkSizeBytes / chunk_align_bytes + 1;
    table.fill(c, from, to);
    from = to;
  }
  return table;
})();

/** The class an item of `totalBytes` (memcached's ITEM_ntotal) is stored in. */
export function slabClassFor(totalBytes: number): SlabClass {
  if (totalBytes > largestClass.chunkSizeBytes) return largestClass;
  return slabClasses[classIndexByEighths[Math.ceil(totalBytes / chunk_align_bytes)]!]!;
}

/** Bytes charged against -m: the chunk, or whole max-size chunks for a chunked item. */
export function chargedBytesFor(totalBytes: number): number {
  if (totalBytes <= largestClass.chunkSizeBytes) return slabClassFor(totalBytes).chunkSizeBytes;
  return Math.ceil(totalBytes / largestClass.chunkSizeBytes) * largestClass.chunkSizeBytes;
}

/** Per-class counters with memcached's `stats items` / `stats slabs` meaning. */
export interface SlabClassStats {
  number: number;
  chunksUsed: number;
  requestedBytes: number;
  pagesAllocated: number;
  evicted: number;
  evictedNonzero: number;
  evictedUnfetched: number;
  expiredUnfetched: number;
  outOfMemory: number;
  reclaimed: number;
  lastEvictedAgeS: number;
  getHits: number;
  setCmds: number;
  deleteHits: number;
  incrHits: number;
  decrHits: number;
  casHits: number;
  casBadval: number;
  touchHits: number;
}

export function newSlabClassStats(): SlabClassStats {
  return {
    number: 0, chunksUsed: 0, requestedBytes: 0, pagesAllocated: 0,
    evicted: 0, evictedNonzero: 0, evictedUnfetched: 0, expiredUnfetched: 0,
    outOfMemory: 0, reclaimed: 0, lastEvictedAgeS: 0,
    getHits: 0, setCmds: 0, deleteHits: 0, incrHits: 0, decrHits: 0, casHits: 0, casBadval: 0, touchHits: 0,
  };
}

/** Pages a class must have allocated to hold its chunks (memcached never gives pages back). */
export function pagesNeeded(cls: SlabClass, chunksUsed: number, chargedBytes: number): number {
  if (cls === largestClass) return Math.ceil(chargedBytes / slab_page_size_bytes);
  return Math.ceil(chunksUsed / cls.chunksPerPage);
}

export { slab_page_size_bytes };
