// The item table: every item is a slot number; its fields live in one
// 64-byte row of a typed-array block (a cache line: touching an item costs
// one miss, not one per field), and its key and value bytes (key first) in
// one chunk of the ValueArena. An open-addressing hash index (linear probing, load <= 1/2,
// backward-shift deletion) maps key bytes to slots. There is no JS object or
// string per item: a million small items cost ~130 bytes each and give the
// garbage collector nothing to trace.
//
// Invariants:
// - Keys are latin1 strings (one char per byte), compared and hashed by their
//   bytes; the hash is seeded per table.
// - A slot is live iff valueLength[slot] >= 0 (a free slot holds -1); every
//   live slot is in the index exactly once, under hash[slot].
// - Recency is a doubly linked list through prev/next (-1 = none), head =
//   least recently used; every live slot is on it exactly once.
// - While a scan is open (scanDepth > 0), freed slots are held back and new
//   items take slots at or beyond the scan's limit, so a scan of slots
//   [0, limit) meets each key at most once (a key deleted and stored again
//   during the scan lands beyond the limit; the WAL after the scan's start
//   sequence has it anyway).
// - While a bulk load is open (beginBulkLoad .. finishBulkLoad, restoring a
//   snapshot into the empty table), appended slots are live and on the
//   recency list but not yet in the index: nothing may look keys up. The
//   index is built once at the end, in home-bucket order (sequential writes
//   instead of a random probe per item), and a key appended twice keeps only
//   its later slot.

import { randomInt } from 'node:crypto';
import { ValueArena } from './arena.js';

const initial_capacity = 1024;
const none = -1;
/** A bulk load indexes its slots in groups of 2^this home buckets (32 KiB of index), group after group. */
const bulk_group_bits = 12;

// Per-item state bits (row byte 62), memcached's it_flags that are not in the
// WAL: they describe what happened to an item in memory (read, handed out a
// recache token, marked stale by `md I`, stored under a base64 key) and, as
// in memcached, do not survive a restart.
/** Read at least once (memcached ITEM_FETCHED). */
export const item_state_fetched = 1;
/** A meta client was handed the win token for it (ITEM_TOKEN_SENT). */
export const item_state_token_sent = 2;
/** Invalidated by `md I` or stored stale by `ms I` (ITEM_STALE). */
export const item_state_stale = 4;
/** Stored by `ms` with a base64 key: `k` shows it base64 (ITEM_KEY_BINARY). */
export const item_state_key_binary = 8;

// Keys hash with murmur3_32 (seeded), 4 bytes per step: a latin1 string and
// its bytes hash alike.

/** murmur3_32 of the latin1 string `key` (its char codes as bytes). */
function hashString(key: string, seed: number): number {
  const n = key.length;
  let h = seed;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    h = mixWord(h, key.charCodeAt(i) | (key.charCodeAt(i + 1) << 8) | (key.charCodeAt(i + 2) << 16) | (key.charCodeAt(i + 3) << 24));
  }
  let tail = 0;
  for (let shift = 0; i < n; i++, shift += 8) tail |= key.charCodeAt(i) << shift;
  return finish(h, tail, n);
}

/** hashString of the latin1 string whose bytes are buf[start, end). */
function hashBytes(buf: Buffer, start: number, end: number, seed: number): number {
  let h = seed;
  let i = start;
  for (; i + 4 <= end; i += 4) h = mixWord(h, buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
  let tail = 0;
  for (let shift = 0; i < end; i++, shift += 8) tail |= buf[i]! << shift;
  return finish(h, tail, end - start);
}

function scramble(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

function mixWord(h: number, word: number): number {
  h ^= scramble(word);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The last 0-3 bytes (`tail`, little-endian), the length, and murmur3's avalanche; an unsigned 32-bit result. */
function finish(h: number, tail: number, length: number): number {
  if ((length & 3) !== 0) h ^= scramble(tail);
  h ^= length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class ItemTable {
  private readonly arena = new ValueArena();
  private readonly seed = randomInt(0x7fffffff) | 1;
  /**
   * Index buckets, two Int32s each: slot + 1 (0 = empty) and the slot's hash,
   * side by side so a probe compares hashes without touching another array.
   * The bucket count is a power of two.
   */
  private buckets = new Int32Array(0);
  private mask = 0;
  private count = 0;
  private capacity = 0;
  /** Slots ever used: slots >= used are free and never touched. */
  private used = 0;
  private freeSlots: number[] = [];
  private heldBack: number[] = [];
  private scanDepth = 0;
  /** First slot of the open bulk load (none: no bulk load is open). */
  private bulkFrom = none;
  /** The hash of each slot appended by the open bulk load, from bulkFrom on: a dense copy of the rows' hash field, so the index build's sort reads 4 bytes per item, not a 64-byte row. */
  private bulkHashes = new Int32Array(0);

  /** Row storage: 64 bytes per slot, viewed as float64, int32/uint32 and uint16/uint8 (layout below). */
  private f64 = new Float64Array(0);
  private i32 = new Int32Array(0);
  private u32 = new Uint32Array(0);
  private u16 = new Uint16Array(0);
  private u8 = new Uint8Array(0);
  /** Least recently used live slot, or -1. */
  head = none;
  /** Most recently used live slot, or -1. */
  tail = none;

  constructor(expectedItems = initial_capacity) {
    this.growSlots(Math.max(initial_capacity, expectedItems));
    this.rebuildIndex(this.bucketsFor(this.capacity));
  }

  get size(): number { return this.count; }

  // ---- fields: row layout (byte offsets in a slot's 64-byte row) ------------
  //  0 chunk address f64 | 8 expiresAtMs f64 | 16 cas f64 | 24 seq f64 | 32 lastAccessMs f64
  // 40 hash u32 | 44 valueLength i32 (-1 = free slot) | 48 flags u32 | 52 prev i32 | 56 next i32
  // 60 keyLength u16 | 62 state bits u8 (item_state_*) | 63 slab class u8

  chunk(slot: number): number { return this.f64[slot * 8]!; }
  private setChunk(slot: number, v: number): void { this.f64[slot * 8] = v; }
  expiresAtMs(slot: number): number { return this.f64[slot * 8 + 1]!; }
  setExpiresAtMs(slot: number, v: number): void { this.f64[slot * 8 + 1] = v; }
  cas(slot: number): number { return this.f64[slot * 8 + 2]!; }
  setCas(slot: number, v: number): void { this.f64[slot * 8 + 2] = v; }
  seq(slot: number): number { return this.f64[slot * 8 + 3]!; }
  setSeq(slot: number, v: number): void { this.f64[slot * 8 + 3] = v; }
  lastAccessMs(slot: number): number { return this.f64[slot * 8 + 4]!; }
  setLastAccessMs(slot: number, v: number): void { this.f64[slot * 8 + 4] = v; }
  hash(slot: number): number { return this.u32[slot * 16 + 10]!; }
  private setHash(slot: number, v: number): void { this.u32[slot * 16 + 10] = v; }
  valueLength(slot: number): number { return this.i32[slot * 16 + 11]!; }
  private setValueLength(slot: number, v: number): void { this.i32[slot * 16 + 11] = v; }
  flags(slot: number): number { return this.u32[slot * 16 + 12]!; }
  setFlags(slot: number, v: number): void { this.u32[slot * 16 + 12] = v; }
  prev(slot: number): number { return this.i32[slot * 16 + 13]!; }
  private setPrev(slot: number, v: number): void { this.i32[slot * 16 + 13] = v; }
  next(slot: number): number { return this.i32[slot * 16 + 14]!; }
  private setNext(slot: number, v: number): void { this.i32[slot * 16 + 14] = v; }
  keyLength(slot: number): number { return this.u16[slot * 32 + 30]!; }
  private setKeyLength(slot: number, v: number): void { this.u16[slot * 32 + 30] = v; }
  /** 1 once the item was read (memcached's ITEM_FETCHED), else 0. */
  fetched(slot: number): number { return this.u8[slot * 64 + 62]! & item_state_fetched; }
  setFetched(slot: number, v: number): void { this.u8[slot * 64 + 62] = (this.u8[slot * 64 + 62]! & ~item_state_fetched) | (v & item_state_fetched); }
  /** All of the item's state bits (item_state_*). */
  stateBits(slot: number): number { return this.u8[slot * 64 + 62]!; }
  setStateBits(slot: number, v: number): void { this.u8[slot * 64 + 62] = v; }
  /** The engine's memcached slab class id (for stats). */
  slabClass(slot: number): number { return this.u8[slot * 64 + 63]!; }
  setSlabClass(slot: number, v: number): void { this.u8[slot * 64 + 63] = v; }

  /** The slot of `key`, or -1. */
  slotOf(key: string): number {
    const h = hashString(key, this.seed);
    const buckets = this.buckets;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const slot = buckets[2 * i]! - 1;
      if (slot < 0) return none;
      if (buckets[2 * i + 1] === (h | 0) && this.keyEquals(slot, key)) return slot;
    }
  }

  /** The key of a live slot (a new string each call). */
  keyOf(slot: number): string {
    const address = this.chunk(slot);
    const at = this.arena.offsetOf(address);
    return this.arena.bufferOf(address).toString('latin1', at, at + this.keyLength(slot));
  }

  /** Makes room for `count` items in total without growing again (before a bulk load). */
  reserve(count: number): void {
    if (count > this.capacity) this.growSlots(count);
    const wanted = this.bucketsFor(count);
    if (wanted > this.bucketCount) this.rebuildIndex(wanted);
  }

  /**
   * A new slot for `key` (which must not be present) holding value
   * src[start, end), at the most recently used end. Other fields are the caller's.
   */
  insert(key: string, src: Buffer, start: number, end: number): number {
    const slot = this.newSlot(hashString(key, this.seed), key.length, end - start);
    const at = this.keyStart(slot);
    writeLatin1(this.valueBuffer(slot), at, key);
    copyBytes(src, start, end, this.valueBuffer(slot), at + key.length);
    return slot;
  }

  /**
   * For the key whose latin1 bytes are keyBuf[keyStart, keyEnd): ~slot (a
   * negative number) if it is present, changing nothing; otherwise a new slot
   * holding value src[start, end), as insert() makes it. One hash, one probe
   * (a bulk load meets mostly new keys).
   */
  findOrInsertBytes(keyBuf: Buffer, keyStart: number, keyEnd: number, src: Buffer, start: number, end: number): number {
    this.makeRoomForOne();
    const h = hashBytes(keyBuf, keyStart, keyEnd, this.seed);
    const buckets = this.buckets;
    let i = h & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const slot = buckets[2 * i]! - 1;
      if (slot < 0) break;
      if (buckets[2 * i + 1] === (h | 0) && this.keyBytesEqual(slot, keyBuf, keyStart, keyEnd)) return ~slot;
    }
    const slot = this.newSlot(h, keyEnd - keyStart, end - start, i);
    const at = this.keyStart(slot);
    copyBytes(keyBuf, keyStart, keyEnd, this.valueBuffer(slot), at);
    copyBytes(src, start, end, this.valueBuffer(slot), at + keyEnd - keyStart);
    return slot;
  }

  // ---- bulk load ---------------------------------------------------------

  /**
   * Opens a bulk load into the empty table, sized for `expectedItems`:
   * appendBytes() adds items without indexing them until finishBulkLoad().
   */
  beginBulkLoad(expectedItems: number): void {
    if (this.count !== 0 || this.bulkFrom !== none) throw new Error('a bulk load needs an empty table and no bulk load open');
    this.reserve(expectedItems);
    this.bulkFrom = this.used;
    this.bulkHashes = new Int32Array(Math.max(initial_capacity, expectedItems));
  }

  /**
   * A new slot, at the most recent end and not yet indexed, for the key whose
   * latin1 bytes are keyBuf[keyStart, keyEnd), holding value src[start, end).
   * Other fields are the caller's. Slots are taken in order, never reused.
   */
  appendBytes(keyBuf: Buffer, keyStart: number, keyEnd: number, src: Buffer, start: number, end: number): number {
    const h = hashBytes(keyBuf, keyStart, keyEnd, this.seed);
    if (this.used === this.capacity) this.growSlots(this.capacity * 2);
    const slot = this.used++;
    const k = slot - this.bulkFrom;
    if (k === this.bulkHashes.length) this.growBulkHashes();
    this.bulkHashes[k] = h;
    this.fillRow(slot, h, keyEnd - keyStart, end - start);
    this.count++;
    this.pushMostRecent(slot);
    const at = this.keyStart(slot);
    copyBytes(keyBuf, keyStart, keyEnd, this.valueBuffer(slot), at);
    copyBytes(src, start, end, this.valueBuffer(slot), at + keyEnd - keyStart);
    return slot;
  }

  /**
   * Closes the bulk load: indexes every appended slot. Of slots with the same
   * key, the later one stays; `beforeDrop` is told each earlier one just
   * before it is removed.
   */
  finishBulkLoad(beforeDrop: (slot: number) => void): void {
    if (this.bulkFrom === none) return;
    const from = this.bulkFrom;
    const hashes = this.bulkHashes;
    this.bulkFrom = none;
    this.bulkHashes = new Int32Array(0);
    const wanted = this.bucketsFor(this.count);
    if (wanted > this.bucketCount) this.emptyIndex(wanted); // no slot outside the bulk load is live, so none is lost
    const sorted = sortByHomeGroup(hashes, this.used - from, this.mask);
    for (let j = 0; j < sorted.ks.length; j++) this.indexAppended(from + sorted.ks[j]!, sorted.hashes[j]!, beforeDrop);
  }

  /** Indexes an appended slot; if an earlier slot holds its key, the later of the two takes its bucket and the earlier is removed. */
  private indexAppended(slot: number, h: number, beforeDrop: (slot: number) => void): void {
    const buckets = this.buckets;
    let i = h & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const other = buckets[2 * i]! - 1;
      if (other < 0) break;
      if (buckets[2 * i + 1] === h && this.sameKey(other, slot)) {
        const dropped = Math.min(other, slot);
        buckets[2 * i] = Math.max(other, slot) + 1;
        beforeDrop(dropped);
        this.dropUnindexed(dropped);
        return;
      }
    }
    this.occupy(i, slot, h);
  }

  /** remove() for a slot that is not (or no longer) in the index. */
  private dropUnindexed(slot: number): void {
    this.count--;
    this.arena.release(this.chunk(slot), this.keyLength(slot) + this.valueLength(slot));
    this.setValueLength(slot, none);
    this.unlinkRecency(slot);
    if (this.scanDepth > 0) this.heldBack.push(slot);
    else this.freeSlots.push(slot);
  }

  private growBulkHashes(): void {
    const bigger = new Int32Array(this.bulkHashes.length * 2);
    bigger.set(this.bulkHashes);
    this.bulkHashes = bigger;
  }

  /** Replaces the value of a live slot with src[start, end): in its chunk if that is of the size class the new value needs, else in a new one. */
  replaceValue(slot: number, src: Buffer, start: number, end: number): void {
    const keyLength = this.keyLength(slot);
    const old = this.chunk(slot);
    if (this.arena.fits(old, keyLength + this.valueLength(slot), keyLength + end - start)) {
      copyBytes(src, start, end, this.arena.bufferOf(old), this.arena.offsetOf(old) + keyLength);
      this.setValueLength(slot, end - start);
      return;
    }
    const address = this.arena.alloc(keyLength + end - start);
    const buf = this.arena.bufferOf(address);
    const at = this.arena.offsetOf(address);
    const oldAt = this.arena.offsetOf(old);
    copyBytes(this.arena.bufferOf(old), oldAt, oldAt + keyLength, buf, at);
    copyBytes(src, start, end, buf, at + keyLength);
    this.arena.release(old, keyLength + this.valueLength(slot));
    this.setChunk(slot, address);
    this.setValueLength(slot, end - start);
  }

  remove(slot: number): void {
    this.removeFromIndex(slot);
    this.dropUnindexed(slot);
  }

  /** Removes every item (during a scan, slots are held back as remove() does). */
  clear(): void {
    for (let slot = this.head; slot !== none; slot = this.next(slot)) {
      this.arena.release(this.chunk(slot), this.keyLength(slot) + this.valueLength(slot));
      this.setValueLength(slot, none);
      if (this.scanDepth > 0) this.heldBack.push(slot);
    }
    this.buckets.fill(0);
    this.count = 0;
    this.head = none;
    this.tail = none;
    if (this.scanDepth > 0) return;
    this.freeSlots = [];
    this.heldBack = [];
    this.used = 0;
  }

  /** The value's bytes: valueBuffer(slot)[valueStart(slot), valueStart(slot) + valueLength[slot]). Valid until the next change. */
  valueBuffer(slot: number): Buffer { return this.arena.bufferOf(this.chunk(slot)); }
  valueStart(slot: number): number { return this.arena.offsetOf(this.chunk(slot)) + this.keyLength(slot); }

  /** A copy of the value that stays valid whatever happens to the slot later. */
  valueCopy(slot: number): Buffer {
    const length = this.valueLength(slot);
    const out = Buffer.allocUnsafe(length);
    const at = this.valueStart(slot);
    copyBytes(this.valueBuffer(slot), at, at + length, out, 0);
    return out;
  }

  moveToMostRecent(slot: number): void {
    if (this.tail === slot) return;
    this.unlinkRecency(slot);
    this.pushMostRecent(slot);
  }

  // ---- scans ---------------------------------------------------------------

  /** Opens a scan; returns its limit: slots [0, limit) are the ones to visit. */
  openScan(): number {
    this.scanDepth++;
    return this.used;
  }

  closeScan(): void {
    if (this.scanDepth === 0) return;
    if (--this.scanDepth === 0) {
      for (const slot of this.heldBack) this.freeSlots.push(slot);
      this.heldBack = [];
    }
  }

  /** Every live slot is below this. */
  get slotLimit(): number { return this.used; }

  isLive(slot: number): boolean { return slot < this.used && this.valueLength(slot) >= 0; }

  // ---- internals -----------------------------------------------------------

  /**
   * A live, indexed, most recent slot with room for the key and value bytes
   * (not yet written); emptyBucket, if given, is where a probe for h ended.
   */
  private newSlot(h: number, keyLength: number, valueLength: number, emptyBucket = none): number {
    if (emptyBucket === none) this.makeRoomForOne();
    const slot = this.takeSlot();
    this.fillRow(slot, h, keyLength, valueLength);
    if (emptyBucket === none) this.addToIndex(slot, h);
    else this.occupy(emptyBucket, slot, h);
    this.count++;
    this.pushMostRecent(slot);
    return slot;
  }

  /** A taken slot's own fields, and a chunk for its key and value (not yet written). */
  private fillRow(slot: number, h: number, keyLength: number, valueLength: number): void {
    this.setHash(slot, h);
    this.setKeyLength(slot, keyLength);
    this.setChunk(slot, this.arena.alloc(keyLength + valueLength));
    this.setValueLength(slot, valueLength);
    this.setStateBits(slot, 0);
  }

  private keyStart(slot: number): number { return this.arena.offsetOf(this.chunk(slot)); }

  private get bucketCount(): number { return this.buckets.length >> 1; }

  private keyBytesEqual(slot: number, buf: Buffer, start: number, end: number): boolean {
    if (this.keyLength(slot) !== end - start) return false;
    const address = this.chunk(slot);
    const own = this.arena.bufferOf(address);
    const at = this.arena.offsetOf(address) - start;
    for (let i = start; i < end; i++) if (own[at + i] !== buf[i]) return false;
    return true;
  }

  private sameKey(a: number, b: number): boolean {
    const b0 = this.chunk(b);
    const at = this.arena.offsetOf(b0);
    return this.keyBytesEqual(a, this.arena.bufferOf(b0), at, at + this.keyLength(b));
  }

  private keyEquals(slot: number, key: string): boolean {
    if (this.keyLength(slot) !== key.length) return false;
    const address = this.chunk(slot);
    const buf = this.arena.bufferOf(address);
    const at = this.arena.offsetOf(address);
    for (let i = 0; i < key.length; i++) if (buf[at + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  /** Keeps the index at most half full with one more item (a probe's empty bucket stays valid after this). */
  private makeRoomForOne(): void {
    if ((this.count + 1) * 2 > this.bucketCount) this.rebuildIndex(this.bucketCount * 2);
  }

  private addToIndex(slot: number, h: number): void {
    let i = h & this.mask;
    while (this.buckets[2 * i] !== 0) i = (i + 1) & this.mask;
    this.occupy(i, slot, h);
  }

  private occupy(bucket: number, slot: number, h: number): void {
    this.buckets[2 * bucket] = slot + 1;
    this.buckets[2 * bucket + 1] = h;
  }

  /** Linear-probing removal with backward shift: no tombstones, probe chains stay short. */
  private removeFromIndex(slot: number): void {
    const buckets = this.buckets;
    const mask = this.mask;
    let i = this.hash(slot) & mask;
    while (buckets[2 * i] !== slot + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; buckets[2 * j] !== 0; j = (j + 1) & mask) {
      const home = buckets[2 * j + 1]! & mask;
      // The entry at j may move back to i unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!stays) {
        buckets[2 * i] = buckets[2 * j]!;
        buckets[2 * i + 1] = buckets[2 * j + 1]!;
        i = j;
      }
    }
    buckets[2 * i] = 0;
  }

  private bucketsFor(items: number): number {
    let n = 1024;
    while (n < items * 2) n *= 2;
    return n;
  }

  private rebuildIndex(size: number): void {
    this.emptyIndex(size);
    for (let slot = 0; slot < this.used; slot++) if (this.valueLength(slot) >= 0) this.addToIndex(slot, this.hash(slot));
  }

  private emptyIndex(size: number): void {
    this.buckets = new Int32Array(2 * size);
    this.mask = size - 1;
  }

  private takeSlot(): number {
    if (this.scanDepth === 0) {
      const reused = this.freeSlots.pop();
      if (reused !== undefined) return reused;
    }
    if (this.used === this.capacity) this.growSlots(this.capacity * 2);
    return this.used++;
  }

  private pushMostRecent(slot: number): void {
    this.setPrev(slot, this.tail);
    this.setNext(slot, none);
    if (this.tail !== none) this.setNext(this.tail, slot);
    else this.head = slot;
    this.tail = slot;
  }

  private unlinkRecency(slot: number): void {
    const p = this.prev(slot);
    const n = this.next(slot);
    if (p !== none) this.setNext(p, n);
    else this.head = n;
    if (n !== none) this.setPrev(n, p);
    else this.tail = p;
  }

  private growSlots(capacity: number): void {
    const rows = new ArrayBuffer(capacity * 64);
    new Uint8Array(rows).set(this.u8.subarray(0, this.used * 64));
    this.f64 = new Float64Array(rows);
    this.i32 = new Int32Array(rows);
    this.u32 = new Uint32Array(rows);
    this.u16 = new Uint16Array(rows);
    this.u8 = new Uint8Array(rows);
    this.capacity = capacity;
  }
}

/**
 * The numbers [0, n) ordered by the group of home buckets (bulk_group_bits)
 * of hashes[k] under `mask`, and by k within a group, with their hashes in
 * the same order: a counting sort, so indexing in this order writes the
 * index group after group and reads both arrays front to back.
 */
function sortByHomeGroup(hashes: Int32Array, n: number, mask: number): { ks: Int32Array; hashes: Int32Array } {
  const groups = (mask >>> bulk_group_bits) + 1;
  const next = new Int32Array(groups + 1);
  for (let k = 0; k < n; k++) next[((hashes[k]! & mask) >>> bulk_group_bits) + 1]++;
  for (let g = 0; g < groups; g++) next[g + 1] = next[g + 1]! + next[g]!;
  const ks = new Int32Array(n);
  const sortedHashes = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const h = hashes[k]!;
    const at = next[(h & mask) >>> bulk_group_bits]!++;
    ks[at] = k;
    sortedHashes[at] = h;
  }
  return { ks, hashes: sortedHashes };
}

/** Writes a latin1 string's bytes at buf[at..] (short keys: a JS loop beats a call into C++). */
function writeLatin1(buf: Buffer, at: number, s: string): void {
  if (s.length > 32) {
    buf.write(s, at, 'latin1');
    return;
  }
  for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
}

/** src[start, end) to dst[at..] (short runs: a JS loop, 4 bytes a turn, beats a call into C++). */
function copyBytes(src: Buffer, start: number, end: number, dst: Buffer, at: number): void {
  if (end - start > 64) {
    src.copy(dst, at, start, end);
    return;
  }
  let i = start;
  for (; i + 4 <= end; i += 4, at += 4) {
    dst[at] = src[i]!;
    dst[at + 1] = src[i + 1]!;
    dst[at + 2] = src[i + 2]!;
    dst[at + 3] = src[i + 3]!;
  }
  for (; i < end; i++) dst[at++] = src[i]!;
}
