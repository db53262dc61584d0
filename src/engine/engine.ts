// The engine: memcached's item semantics as a pure state machine.
//
// - Time is an argument (nowMs); nothing here reads a clock, a file or a socket.
// - Every state change is reported as an Effect, numbered with the next WAL
//   sequence, through the `emit` sink given at construction; replaying the
//   effects with applyEffect() rebuilds the same state (they are idempotent).
// - Every result carries the sequence number of the state it reflects, so a
//   caller can hold the reply until that position is durable.
// - Recency is an intrusive linked list beside the key Map (lru.ts): a read
//   moves the item to the most-recent end without touching the Map.
// - Expiry is lazy (on access) plus a bounded sweep in tick(); it needs no
//   effect because expiry times are absolute.
// - Memory is charged like memcached's slabs (slabs.ts) against -m; eviction
//   removes the least recently used item and emits a `del` so that a restart
//   does not bring it back.

import { item_flags_overhead_bytes, item_overhead_bytes, exptime_relative_max_s, reclaim_search_max, sweep_items_per_tick_max } from './limits.js';
import { safeStrtoull, u64_max } from './cnumbers.js';
import { LruList } from './lru.js';
import { chargedBytesFor, newSlabClassStats, pagesNeeded, slabClassFor, slabClasses, type SlabClassStats } from './slabs.js';
import type { DeleteResult, DeltaResult, Effect, EngineImage, EngineOptions, Item, StoreMode, StoreResult, TouchResult } from './types.js';

export type EffectSink = (effect: Effect) => void;

/** Converts a memcached exptime (seconds) to an absolute expiry in ms; 0 = never. */
export function expiresAtFromExptime(exptime: number, nowMs: number): number {
  if (exptime === 0) return 0;
  if (exptime < 0) return 1; // memcached: negative means already expired
  if (exptime > exptime_relative_max_s) return exptime * 1000;
  return nowMs + exptime * 1000;
}

/** memcached's ITEM_ntotal: what counts against -I and the slab class. */
export function itemTotalBytes(keyLength: number, valueLength: number, flags: number): number {
  return keyLength + valueLength + item_overhead_bytes + (flags !== 0 ? item_flags_overhead_bytes : 0);
}

export interface EngineCounters {
  getHits: number; getMisses: number; getExpired: number; getFlushed: number;
  cmdGet: number; cmdSet: number; cmdTouch: number; cmdFlush: number;
  deleteHits: number; deleteMisses: number;
  incrHits: number; incrMisses: number; decrHits: number; decrMisses: number;
  casHits: number; casMisses: number; casBadval: number;
  touchHits: number; touchMisses: number;
  totalItems: number; evictions: number; reclaimed: number; expiredUnfetched: number; evictedUnfetched: number;
  outOfMemory: number; storeTooLarge: number;
}

function zeroCounters(): EngineCounters {
  return {
    getHits: 0, getMisses: 0, getExpired: 0, getFlushed: 0,
    cmdGet: 0, cmdSet: 0, cmdTouch: 0, cmdFlush: 0,
    deleteHits: 0, deleteMisses: 0,
    incrHits: 0, incrMisses: 0, decrHits: 0, decrMisses: 0,
    casHits: 0, casMisses: 0, casBadval: 0,
    touchHits: 0, touchMisses: 0,
    totalItems: 0, evictions: 0, reclaimed: 0, expiredUnfetched: 0, evictedUnfetched: 0,
    outOfMemory: 0, storeTooLarge: 0,
  };
}

export class Engine {
  private readonly items = new Map<string, Item>();
  private readonly lru = new LruList<Item>();
  /** Per slab class id (index), created on first use. */
  private readonly classStats: Array<SlabClassStats | undefined> = [];
  private usedBytes = 0;
  private storedBytes = 0;
  private nextCas = 1;
  private lastSeqValue = 0;
  private removalSeqValue = 0;
  private pendingFlushAtMs = 0;
  private sweepCursor: Iterator<[string, Item]> | null = null;
  counters: EngineCounters = zeroCounters();

  constructor(private options: EngineOptions, private readonly emit: EffectSink = () => {}) {}

  // ---- reads -------------------------------------------------------------

  /** Sequence of the newest effect emitted or replayed. */
  get lastSeq(): number { return this.lastSeqValue; }

  /** A miss may reflect a removal: it must wait for the newest one to be durable. */
  get removalSeq(): number { return this.removalSeqValue; }

  get itemCount(): number { return this.items.size; }

  /** get/gets (touchExptime undefined) or gat/gats. Returns the live item or undefined. */
  get(key: string, nowMs: number, touchExptime?: number): Item | undefined {
    this.fireDueFlush(nowMs);
    const touching = touchExptime !== undefined;
    if (touching) this.counters.cmdTouch++;
    else this.counters.cmdGet++;
    const item = this.live(key, nowMs, !touching);
    if (!item) {
      if (touching) this.counters.touchMisses++;
      else this.counters.getMisses++;
      return undefined;
    }
    if (touching) {
      this.counters.touchHits++;
      this.stat(item).touchHits++;
      this.setExpiry(key, item, expiresAtFromExptime(touchExptime, nowMs));
    } else {
      this.counters.getHits++;
      this.stat(item).getHits++;
    }
    item.fetched = true;
    this.bump(item, nowMs);
    return item;
  }

  // ---- writes ------------------------------------------------------------

  store(mode: StoreMode, key: string, flags: number, exptime: number, value: Buffer, casUnique: bigint, nowMs: number): StoreResult {
    this.fireDueFlush(nowMs);
    this.counters.cmdSet++;
    const old = this.live(key, nowMs, false);
    if (!old) return this.storeWithoutOld(mode, key, flags, exptime, value, nowMs);

    switch (mode) {
      case 'add':
        this.bump(old, nowMs);
        return { status: 'NOT_STORED', seq: old.seq };
      case 'cas':
        if (casUnique === 0n || casUnique !== BigInt(old.cas)) {
          this.counters.casBadval++;
          this.stat(old).casBadval++;
          return { status: 'EXISTS', seq: old.seq };
        }
        this.counters.casHits++;
        this.stat(old).casHits++;
        return this.put(key, value, flags, expiresAtFromExptime(exptime, nowMs), nowMs, old);
      case 'append':
      case 'prepend': {
        const combined = mode === 'append' ? Buffer.concat([old.value, value]) : Buffer.concat([value, old.value]);
        if (itemTotalBytes(key.length, combined.length, old.flags) > this.options.itemSizeMaxBytes) {
          return { status: 'NOT_STORED', seq: old.seq };
        }
        return this.put(key, combined, old.flags, old.expiresAtMs, nowMs, old);
      }
      case 'set':
      case 'replace': {
        const result = this.put(key, value, flags, expiresAtFromExptime(exptime, nowMs), nowMs, old);
        // memcached unlinks the old item when a set cannot allocate, so no stale value survives.
        if (result.status === 'NO_MEMORY' && mode === 'set') {
          this.remove(key);
          return { status: 'NO_MEMORY', seq: this.removalSeqValue };
        }
        return result;
      }
    }
  }

  private storeWithoutOld(mode: StoreMode, key: string, flags: number, exptime: number, value: Buffer, nowMs: number): StoreResult {
    switch (mode) {
      case 'set':
      case 'add':
        return this.put(key, value, flags, expiresAtFromExptime(exptime, nowMs), nowMs, undefined);
      case 'cas':
        this.counters.casMisses++;
        return { status: 'NOT_FOUND', seq: this.removalSeqValue };
      default:
        return { status: 'NOT_STORED', seq: this.removalSeqValue };
    }
  }

  /**
   * A store whose value exceeds -I. memcached refuses it before reading the
   * data and, for `set`, unlinks the old item so no stale value survives.
   */
  rejectTooLarge(mode: StoreMode, key: string, nowMs: number): StoreResult {
    this.fireDueFlush(nowMs);
    this.counters.storeTooLarge++;
    if (mode === 'set' && this.live(key, nowMs, false)) this.remove(key);
    return { status: 'TOO_LARGE', seq: Math.max(this.removalSeqValue, this.lastSeqValue) };
  }

  delete(key: string, nowMs: number): DeleteResult {
    this.fireDueFlush(nowMs);
    const item = this.live(key, nowMs, false);
    if (!item) {
      this.counters.deleteMisses++;
      return { status: 'NOT_FOUND', seq: this.removalSeqValue };
    }
    this.counters.deleteHits++;
    this.stat(item).deleteHits++;
    this.remove(key);
    return { status: 'DELETED', seq: this.removalSeqValue };
  }

  /** incr/decr on a 64-bit unsigned decimal value: incr wraps at 2^64, decr stops at 0. */
  delta(key: string, incr: boolean, amount: bigint, nowMs: number): DeltaResult {
    this.fireDueFlush(nowMs);
    const item = this.live(key, nowMs, false);
    if (!item) {
      if (incr) this.counters.incrMisses++;
      else this.counters.decrMisses++;
      return { status: 'NOT_FOUND', seq: this.removalSeqValue };
    }
    const current = item.value.length === 0 ? null : safeStrtoull(item.value);
    if (current === null) return { status: 'NON_NUMERIC', seq: item.seq };
    const next = incr ? (current + amount) & u64_max : (amount > current ? 0n : current - amount);
    if (incr) { this.counters.incrHits++; this.stat(item).incrHits++; }
    else { this.counters.decrHits++; this.stat(item).decrHits++; }
    const result = this.put(key, deltaValue(next, item.value.length), item.flags, item.expiresAtMs, nowMs, item);
    if (result.status !== 'STORED') return { status: 'NO_MEMORY', seq: result.seq };
    return { status: 'VALUE', value: next, seq: result.seq };
  }

  touch(key: string, exptime: number, nowMs: number): TouchResult {
    this.fireDueFlush(nowMs);
    this.counters.cmdTouch++;
    const item = this.live(key, nowMs, false);
    if (!item) {
      this.counters.touchMisses++;
      return { status: 'NOT_FOUND', seq: this.removalSeqValue };
    }
    this.counters.touchHits++;
    this.stat(item).touchHits++;
    this.setExpiry(key, item, expiresAtFromExptime(exptime, nowMs));
    this.bump(item, nowMs);
    return { status: 'TOUCHED', seq: item.seq };
  }

  /** flush_all [delay]: 0 empties the cache now; a delay schedules it (the newest call wins). */
  flushAll(delaySeconds: number, nowMs: number): { seq: number } {
    this.fireDueFlush(nowMs);
    this.counters.cmdFlush++;
    if (delaySeconds > 0) {
      const atMs = expiresAtFromExptime(delaySeconds, nowMs);
      if (atMs > nowMs) {
        this.pendingFlushAtMs = atMs;
        this.emitEffect({ kind: 'flushAt', seq: 0, atMs });
        return { seq: this.lastSeqValue };
      }
    }
    if (this.pendingFlushAtMs !== 0) {
      this.pendingFlushAtMs = 0;
      this.emitEffect({ kind: 'flushAt', seq: 0, atMs: 0 });
    }
    this.flushNow();
    return { seq: this.lastSeqValue };
  }

  /** Periodic work: a delayed flush whose time came, and a bounded expiry sweep. */
  tick(nowMs: number): void {
    this.fireDueFlush(nowMs);
    this.sweepExpired(nowMs, sweep_items_per_tick_max);
  }

  /** Lowers or raises -m at run time (and evicts down to it). */
  setMemoryLimit(bytes: number, nowMs: number): void {
    this.options = { ...this.options, memoryLimitBytes: bytes };
    if (!this.options.evictionsDisabled) this.makeRoom(0, nowMs);
  }

  get memoryLimitBytes(): number { return this.options.memoryLimitBytes; }

  // ---- replay and snapshots ---------------------------------------------

  /** Applies a logged effect during recovery. Idempotent; emits nothing. */
  applyEffect(effect: Effect): void {
    switch (effect.kind) {
      case 'put':
        this.link(effect.key, effect.value, effect.flags, effect.expiresAtMs, effect.cas, effect.seq, 0, this.items.get(effect.key));
        if (effect.cas >= this.nextCas) this.nextCas = effect.cas + 1;
        break;
      case 'del':
        if (this.items.has(effect.key)) this.unlink(effect.key, this.items.get(effect.key)!);
        this.removalSeqValue = effect.seq;
        break;
      case 'touch': {
        const item = this.items.get(effect.key);
        if (item) { item.expiresAtMs = effect.expiresAtMs; item.seq = effect.seq; }
        break;
      }
      case 'flush':
        this.clear();
        this.pendingFlushAtMs = 0; // the live engine cleared it before flushing; else replay would flush again
        this.removalSeqValue = effect.seq;
        break;
      case 'flushAt':
        this.pendingFlushAtMs = effect.atMs;
        break;
    }
    if (effect.seq > this.lastSeqValue) this.lastSeqValue = effect.seq;
  }

  /** Replaces the whole state with a snapshot image. */
  restore(image: EngineImage): void {
    this.clear();
    let nextCas = Math.max(this.nextCas, image.nextCas);
    for (const [key, it] of image.items) {
      this.link(key, it.value, it.flags, it.expiresAtMs, it.cas, image.lastSeq, 0, this.items.get(key));
      if (it.cas >= nextCas) nextCas = it.cas + 1;
    }
    this.nextCas = nextCas;
    this.lastSeqValue = image.lastSeq;
    this.removalSeqValue = image.lastSeq;
    this.pendingFlushAtMs = image.pendingFlushAtMs;
  }

  /** Every key present now (a copy: a snapshot walks it while writes go on). */
  keys(): string[] {
    return [...this.items.keys()];
  }

  /** The live item for a key, without counting a read or moving it in the LRU. */
  peek(key: string, nowMs: number): Item | undefined {
    const item = this.items.get(key);
    return item && !isExpired(item, nowMs) ? item : undefined;
  }

  /** Live keys and items (snapshot order: the key list is taken first). */
  *dump(nowMs: number): Generator<[string, Item]> {
    for (const key of this.keys()) {
      const item = this.peek(key, nowMs);
      if (item) yield [key, item];
    }
  }

  get casNext(): number { return this.nextCas; }
  get flushPendingAtMs(): number { return this.pendingFlushAtMs; }

  /** After recovery under a lower -m than before: evict down to the limit (logged). */
  enforceMemoryLimit(nowMs: number): void {
    if (!this.options.evictionsDisabled) this.makeRoom(0, nowMs);
  }

  // ---- stats ---------------------------------------------------------------

  get bytes(): number { return this.storedBytes; }
  get chargedBytes(): number { return this.usedBytes; }

  slabStats(): ReadonlyMap<number, SlabClassStats> {
    const stats = new Map<number, SlabClassStats>();
    this.classStats.forEach((s, id) => { if (s) stats.set(id, s); });
    return stats;
  }

  /** Age in seconds of the oldest item per slab class (for `stats items`). */
  oldestAgeByClass(nowMs: number): Map<number, number> {
    const ages = new Map<number, number>();
    for (let item = this.lru.head; item; item = item.lruNext) {
      if (!ages.has(item.slabClass)) ages.set(item.slabClass, Math.max(0, Math.floor((nowMs - item.lastAccessMs) / 1000)));
    }
    return ages;
  }

  resetCounters(): void {
    this.counters = zeroCounters();
    for (const s of this.classStats) {
      if (s) Object.assign(s, {
        evicted: 0, evictedNonzero: 0, evictedUnfetched: 0, expiredUnfetched: 0, outOfMemory: 0, reclaimed: 0,
        lastEvictedAgeS: 0, getHits: 0, setCmds: 0, deleteHits: 0, incrHits: 0, decrHits: 0, casHits: 0, casBadval: 0, touchHits: 0,
      });
    }
  }

  // ---- internals -----------------------------------------------------------

  private emitEffect(effect: Effect): number {
    effect.seq = ++this.lastSeqValue;
    this.emit(effect);
    return effect.seq;
  }

  /** The item if present, not expired and not flushed; an expired one is unlinked (no effect needed). */
  private live(key: string, nowMs: number, countExpiry: boolean): Item | undefined {
    const item = this.items.get(key);
    if (!item) return undefined;
    if (isExpired(item, nowMs)) {
      if (countExpiry) this.counters.getExpired++;
      this.reclaim(key, item);
      return undefined;
    }
    return item;
  }

  /** Stores a new version of `key`; `old` is its current live item (the caller looked it up), if any. */
  private put(key: string, value: Buffer, flags: number, expiresAtMs: number, nowMs: number, old: Item | undefined): StoreResult {
    const total = itemTotalBytes(key.length, value.length, flags);
    const charge = chargedBytesFor(total);
    const freed = old ? old.chargedBytes : 0;
    this.reclaimExpiredTail(nowMs);
    if (!this.makeRoom(charge - freed, nowMs, key)) {
      this.counters.outOfMemory++;
      this.stat(slabClassFor(total).id).outOfMemory++;
      return { status: 'NO_MEMORY', seq: this.lastSeqValue };
    }
    const cas = this.nextCas++;
    const seq = this.emitEffect({ kind: 'put', seq: 0, key, value, flags, expiresAtMs, cas });
    this.link(key, value, flags, expiresAtMs, cas, seq, nowMs, old);
    this.counters.totalItems++;
    this.stat(slabClassFor(total).id).setCmds++;
    return { status: 'STORED', seq };
  }

  /** Makes a new item current for `key`, replacing `old` (which must be the key's item in the Map, if any). */
  private link(key: string, value: Buffer, flags: number, expiresAtMs: number, cas: number, seq: number, nowMs: number, old: Item | undefined): void {
    if (old) this.unlink(key, old);
    const total = itemTotalBytes(key.length, value.length, flags);
    const cls = slabClassFor(total);
    const item: Item = {
      key, value, flags, expiresAtMs, cas, seq,
      chargedBytes: chargedBytesFor(total), slabClass: cls.id, lastAccessMs: nowMs, fetched: false,
      lruPrev: null, lruNext: null,
    };
    this.items.set(key, item);
    this.lru.pushMostRecent(item);
    this.usedBytes += item.chargedBytes;
    this.storedBytes += total;
    const s = this.stat(cls.id);
    s.number++;
    s.chunksUsed++;
    s.requestedBytes += total;
    s.pagesAllocated = Math.max(s.pagesAllocated, pagesNeeded(cls, s.chunksUsed, s.number * cls.chunkSizeBytes));
  }

  private unlink(key: string, item: Item): void {
    this.items.delete(key);
    this.lru.remove(item);
    const total = itemTotalBytes(key.length, item.value.length, item.flags);
    this.usedBytes -= item.chargedBytes;
    this.storedBytes -= total;
    const s = this.stat(item);
    s.number--;
    s.chunksUsed--;
    s.requestedBytes -= total;
  }

  /** Unlinks an item and logs it (`del`), so a restart does not revive it. */
  private remove(key: string): void {
    const item = this.items.get(key);
    if (!item) return;
    this.unlink(key, item);
    this.removalSeqValue = this.emitEffect({ kind: 'del', seq: 0, key });
  }

  private reclaim(key: string, item: Item): void {
    this.unlink(key, item);
    this.counters.reclaimed++;
    this.stat(item).reclaimed++;
    if (!item.fetched) { this.counters.expiredUnfetched++; this.stat(item).expiredUnfetched++; }
  }

  private setExpiry(key: string, item: Item, expiresAtMs: number): void {
    item.expiresAtMs = expiresAtMs;
    item.seq = this.emitEffect({ kind: 'touch', seq: 0, key, expiresAtMs });
  }

  /** Moves an item to the most-recently-used end. */
  private bump(item: Item, nowMs: number): void {
    item.lastAccessMs = nowMs;
    this.lru.moveToMostRecent(item);
  }

  /** memcached looks a few items into the LRU tail for expired ones before allocating. */
  private reclaimExpiredTail(nowMs: number): void {
    let item = this.lru.head;
    for (let looked = 0; item && looked < reclaim_search_max; looked++) {
      const next = item.lruNext;
      if (isExpired(item, nowMs)) this.reclaim(item.key, item);
      item = next;
    }
  }

  /** Evicts LRU items until `extraBytes` more fit under -m; false if that cannot be (with -M, or too big). */
  private makeRoom(extraBytes: number, nowMs: number, keep?: string): boolean {
    const limit = this.options.memoryLimitBytes;
    if (this.usedBytes + extraBytes <= limit) return true;
    if (this.options.evictionsDisabled) return false;
    for (let item = this.lru.head; item && this.usedBytes + extraBytes > limit;) {
      const next = item.lruNext;
      if (item.key !== keep) this.evict(item.key, item, nowMs);
      item = next;
    }
    return this.usedBytes + extraBytes <= limit;
  }

  private evict(key: string, item: Item, nowMs: number): void {
    const s = this.stat(item);
    this.counters.evictions++;
    s.evicted++;
    if (item.expiresAtMs !== 0) s.evictedNonzero++;
    if (!item.fetched) { this.counters.evictedUnfetched++; s.evictedUnfetched++; }
    s.lastEvictedAgeS = Math.max(0, Math.floor((nowMs - item.lastAccessMs) / 1000));
    this.remove(key);
  }

  private fireDueFlush(nowMs: number): void {
    if (this.pendingFlushAtMs !== 0 && this.pendingFlushAtMs <= nowMs) {
      this.pendingFlushAtMs = 0;
      this.flushNow();
    }
  }

  private flushNow(): void {
    this.clear();
    this.removalSeqValue = this.emitEffect({ kind: 'flush', seq: 0 });
  }

  private clear(): void {
    this.items.clear();
    this.lru.clear();
    this.sweepCursor = null;
    this.usedBytes = 0;
    this.storedBytes = 0;
    for (const s of this.classStats) if (s) { s.number = 0; s.chunksUsed = 0; s.requestedBytes = 0; }
  }

  private sweepExpired(nowMs: number, budget: number): void {
    if (!this.sweepCursor) this.sweepCursor = this.items.entries();
    for (let i = 0; i < budget; i++) {
      const next = this.sweepCursor.next();
      if (next.done) { this.sweepCursor = null; return; }
      const [key, item] = next.value;
      if (this.items.get(key) === item && isExpired(item, nowMs)) this.reclaim(key, item);
    }
  }

  private stat(itemOrClass: Item | number): SlabClassStats {
    const id = typeof itemOrClass === 'number' ? itemOrClass : itemOrClass.slabClass;
    return this.classStats[id] ??= newSlabClassStats();
  }
}

function isExpired(item: Item, nowMs: number): boolean {
  return item.expiresAtMs !== 0 && item.expiresAtMs <= nowMs;
}

/**
 * memcached rewrites a counter in place when the new number is not longer,
 * padding with spaces (decr 10 -> "9 "); a longer number gets a new item.
 */
function deltaValue(next: bigint, oldLength: number): Buffer {
  const digits = next.toString();
  if (digits.length >= oldLength) return Buffer.from(digits, 'latin1');
  return Buffer.from(digits.padEnd(oldLength, ' '), 'latin1');
}

export { slabClasses };
