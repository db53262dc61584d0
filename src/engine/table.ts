// The item table: every item is a slot number; its fields live in parallel
// typed arrays and its value in the ValueArena. A Map finds a key's slot. Per
// item this costs the Map entry, the key string and ~70 bytes of arrays plus
// the value's chunk, against ~350 bytes for an object + Buffer per item, and
// the garbage collector sees one string per item instead of four objects.
//
// Invariants:
// - A slot is live iff keys[slot] !== undefined; index.get(keys[slot]) === slot.
// - Recency is a doubly linked list through prev/next (-1 = none), head =
//   least recently used; every live slot is on it exactly once.
// - While a scan is open (scanDepth > 0), freed slots are held back and new
//   items take slots at or beyond the scan's limit, so a scan of slots
//   [0, limit) meets each key at most once (a key deleted and stored again
//   during the scan lands beyond the limit; the WAL after the scan's start
//   sequence has it anyway).

import { ValueArena } from './arena.js';

const initial_capacity = 1024;
const none = -1;

export class ItemTable {
  private readonly index = new Map<string, number>();
  private readonly arena = new ValueArena();
  private capacity = 0;
  /** Slots ever used: slots >= used are free and never touched. */
  private used = 0;
  private freeSlots: number[] = [];
  private heldBack: number[] = [];
  private scanDepth = 0;

  keys: Array<string | undefined> = [];
  valueAddress = new Float64Array(0);
  valueLength = new Int32Array(0);
  flags = new Uint32Array(0);
  expiresAtMs = new Float64Array(0);
  cas = new Float64Array(0);
  seq = new Float64Array(0);
  lastAccessMs = new Float64Array(0);
  fetched = new Uint8Array(0);
  /** The engine's memcached slab class id (for stats and charging). */
  slabClass = new Uint8Array(0);
  prev = new Int32Array(0);
  next = new Int32Array(0);
  /** Least recently used live slot, or -1. */
  head = none;
  /** Most recently used live slot, or -1. */
  tail = none;

  constructor(expectedItems = initial_capacity) {
    this.grow(Math.max(initial_capacity, expectedItems));
  }

  get size(): number { return this.index.size; }

  /** The slot of `key`, or -1. */
  slotOf(key: string): number {
    const slot = this.index.get(key);
    return slot === undefined ? none : slot;
  }

  /** Makes room for `count` items in total without growing again (before a bulk load). */
  reserve(count: number): void {
    if (count > this.capacity) this.grow(count);
  }

  /**
   * A new slot for `key` (which must not be present) holding value
   * src[start, end), at the most recently used end. Other fields are the caller's.
   */
  insert(key: string, src: Buffer, start: number, end: number): number {
    const slot = this.takeSlot();
    this.keys[slot] = key;
    this.index.set(key, slot);
    this.storeValue(slot, src, start, end);
    this.fetched[slot] = 0;
    this.pushMostRecent(slot);
    return slot;
  }

  /** Replaces the value of a live slot with src[start, end). */
  replaceValue(slot: number, src: Buffer, start: number, end: number): void {
    this.arena.release(this.valueAddress[slot]!, this.valueLength[slot]!);
    this.storeValue(slot, src, start, end);
  }

  remove(slot: number): void {
    const key = this.keys[slot]!;
    this.index.delete(key);
    this.keys[slot] = undefined;
    this.arena.release(this.valueAddress[slot]!, this.valueLength[slot]!);
    this.unlinkRecency(slot);
    if (this.scanDepth > 0) this.heldBack.push(slot);
    else this.freeSlots.push(slot);
  }

  /** Removes every item (during a scan, slots are held back as remove() does). */
  clear(): void {
    for (let slot = this.head; slot !== none; slot = this.next[slot]!) {
      this.arena.release(this.valueAddress[slot]!, this.valueLength[slot]!);
      if (this.scanDepth > 0) {
        this.keys[slot] = undefined;
        this.heldBack.push(slot);
      }
    }
    this.index.clear();
    this.head = none;
    this.tail = none;
    if (this.scanDepth > 0) return;
    this.keys = [];
    this.freeSlots = [];
    this.heldBack = [];
    this.used = 0;
  }

  /** The value's bytes: buffer(slot)[valueStart(slot), valueStart(slot) + valueLength[slot]). Valid until the next change. */
  valueBuffer(slot: number): Buffer { return this.arena.bufferOf(this.valueAddress[slot]!); }
  valueStart(slot: number): number { return this.arena.offsetOf(this.valueAddress[slot]!); }

  /** A copy of the value that stays valid whatever happens to the slot later. */
  valueCopy(slot: number): Buffer { return this.arena.copyOut(this.valueAddress[slot]!, this.valueLength[slot]!); }

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

  isLive(slot: number): boolean { return slot < this.used && this.keys[slot] !== undefined; }

  // ---- internals -----------------------------------------------------------

  private storeValue(slot: number, src: Buffer, start: number, end: number): void {
    const address = this.arena.alloc(end - start);
    this.arena.write(address, src, start, end);
    this.valueAddress[slot] = address;
    this.valueLength[slot] = end - start;
  }

  private takeSlot(): number {
    if (this.scanDepth === 0) {
      const reused = this.freeSlots.pop();
      if (reused !== undefined) return reused;
    }
    if (this.used === this.capacity) this.grow(this.capacity * 2);
    return this.used++;
  }

  private pushMostRecent(slot: number): void {
    this.prev[slot] = this.tail;
    this.next[slot] = none;
    if (this.tail !== none) this.next[this.tail] = slot;
    else this.head = slot;
    this.tail = slot;
  }

  private unlinkRecency(slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p !== none) this.next[p] = n;
    else this.head = n;
    if (n !== none) this.prev[n] = p;
    else this.tail = p;
  }

  private grow(capacity: number): void {
    const copy = <T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old.subarray(0, this.used) as never);
      return next;
    };
    this.valueAddress = copy(this.valueAddress, (n) => new Float64Array(n));
    this.valueLength = copy(this.valueLength, (n) => new Int32Array(n));
    this.flags = copy(this.flags, (n) => new Uint32Array(n));
    this.expiresAtMs = copy(this.expiresAtMs, (n) => new Float64Array(n));
    this.cas = copy(this.cas, (n) => new Float64Array(n));
    this.seq = copy(this.seq, (n) => new Float64Array(n));
    this.lastAccessMs = copy(this.lastAccessMs, (n) => new Float64Array(n));
    this.fetched = copy(this.fetched, (n) => new Uint8Array(n));
    this.slabClass = copy(this.slabClass, (n) => new Uint8Array(n));
    this.prev = copy(this.prev, (n) => new Int32Array(n));
    this.next = copy(this.next, (n) => new Int32Array(n));
    this.capacity = capacity;
  }
}
