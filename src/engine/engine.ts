// The engine: memcached's item semantics as a pure state machine.
//
// - Time is an argument (nowMs); nothing here reads a clock, a file or a socket.
// - Every state change is reported as an Effect, numbered with the next WAL
//   sequence, through the `emit` sink given at construction; replaying the
//   effects with applyEffect() rebuilds the same state (they are idempotent).
// - Every result carries the sequence number of the state it reflects, so a
//   caller can hold the reply until that position is durable.
// - Items live in an ItemTable (table.ts): slots in typed arrays, values in
//   an off-heap arena, recency as a linked list through the slots. A read
//   moves the slot to the most-recent end without touching the key Map.
// - Expiry is lazy (on access) plus a bounded sweep in tick(); it needs no
//   effect because expiry times are absolute.
// - Memory is charged like memcached's slabs (slabs.ts) against -m; eviction
//   removes the least recently used item and emits a `del` so that a restart
//   does not bring it back.
// - What the meta commands keep per item beyond its fields (memcached's
//   it_flags: fetched, win token sent, stale, base64 key; and the last access
//   time) is advisory and memory-only, as in memcached: no effect carries it,
//   so a restart (or replay) starts every item with it clear. Everything a
//   client stored (value, flags, expiry, CAS, including md I's new CAS) is in
//   the effects.

import assert from 'node:assert';
import { item_flags_overhead_bytes, item_overhead_bytes, exptime_relative_max_s, reclaim_search_max, sweep_items_per_tick_max } from './limits.js';
import { safeStrtoull, u64_max } from './cnumbers.js';
import { item_state_fetched, item_state_key_binary, item_state_stale, item_state_token_sent, ItemTable } from './table.js';
import { chargedBytesFor, newSlabClassStats, pagesNeeded, slabClassFor, slabClasses, type SlabClass, type SlabClassStats } from './slabs.js';
import type {
  DeleteResult, DeltaResult, Effect, EngineImage, EngineOptions, ItemMeta, ItemScan, ItemView, ItemVisitor, MetaDeltaOptions, MetaDeltaResult,
  MetaGetUpdate, MetaItemView, MetaStoreOptions, StoreMode, StoreResult, TouchResult,
} from './types.js';

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

const none = -1;
const empty_value = Buffer.alloc(0);

export class Engine {
  private readonly table = new ItemTable();
  /** Per slab class id (index), created on first use. */
  private readonly classStats: Array<SlabClassStats | undefined> = [];
  private usedBytes = 0;
  private storedBytes = 0;
  private nextCas = 1;
  private lastSeqValue = 0;
  private removalSeqValue = 0;
  private pendingFlushAtMs = 0;
  private sweepCursor = 0;
  counters: EngineCounters = zeroCounters();

  constructor(private options: EngineOptions, private readonly emit: EffectSink = () => {}) {}

  // ---- reads -------------------------------------------------------------

  /** Sequence of the newest effect emitted or replayed. */
  get lastSeq(): number { return this.lastSeqValue; }

  /** A miss may reflect a removal: it must wait for the newest one to be durable. */
  get removalSeq(): number { return this.removalSeqValue; }

  get itemCount(): number { return this.table.size; }

  /** get/gets (touchExptime undefined) or gat/gats. Returns the live item or undefined. */
  get(key: string, nowMs: number, touchExptime?: number): ItemView | undefined {
    this.fireDueFlush(nowMs);
    const touching = touchExptime !== undefined;
    if (touching) this.counters.cmdTouch++;
    else this.counters.cmdGet++;
    const slot = this.live(key, nowMs, !touching);
    if (slot === none) {
      if (touching) this.counters.touchMisses++;
      else this.counters.getMisses++;
      return undefined;
    }
    if (touching) {
      this.counters.touchHits++;
      this.stat(slot).touchHits++;
      this.setExpiry(key, slot, expiresAtFromExptime(touchExptime, nowMs));
    } else {
      this.counters.getHits++;
      this.stat(slot).getHits++;
    }
    this.table.setFetched(slot, 1);
    this.bump(slot, nowMs);
    return this.view(key, slot);
  }

  // ---- writes ------------------------------------------------------------

  /**
   * set/add/replace/append/prepend/cas. `meta` carries what `ms` adds: with
   * `invalidate`, a cas below the item's stores the value stale (memcached's
   * CAS_STALE); `keyBinary` marks the stored item (not an append/prepend's,
   * which memcached builds as a new item without the mark).
   */
  store(mode: StoreMode, key: string, flags: number, exptime: number, value: Buffer, casUnique: bigint, nowMs: number, meta?: MetaStoreOptions): StoreResult {
    this.fireDueFlush(nowMs);
    this.counters.cmdSet++;
    const old = this.live(key, nowMs, false);
    const result = old === none
      ? this.storeWithoutOld(mode, key, flags, exptime, value, nowMs)
      : this.storeOverOld(mode, key, flags, exptime, value, casUnique, nowMs, old, meta?.invalidate ?? false);
    if (meta?.keyBinary && result.status === 'STORED' && mode !== 'append' && mode !== 'prepend') {
      this.addStateBits(this.table.slotOf(key), item_state_key_binary);
    }
    return result;
  }

  private storeOverOld(mode: StoreMode, key: string, flags: number, exptime: number, value: Buffer, casUnique: bigint, nowMs: number, old: number, invalidate: boolean): StoreResult {
    const t = this.table;
    switch (mode) {
      case 'add':
        this.bump(old, nowMs);
        return { status: 'NOT_STORED', seq: t.seq(old) };
      case 'cas': {
        const oldCas = BigInt(t.cas(old));
        if (casUnique === 0n || (casUnique !== oldCas && !(invalidate && casUnique < oldCas))) {
          this.counters.casBadval++;
          this.stat(old).casBadval++;
          return { status: 'EXISTS', seq: t.seq(old) };
        }
        this.counters.casHits++;
        this.stat(old).casHits++;
        if (casUnique === oldCas) return this.put(key, value, flags, expiresAtFromExptime(exptime, nowMs), nowMs, old);
        // Stale: the value goes in, keeping the item's expiry and its recache token, marked stale.
        const tokenSent = t.stateBits(old) & item_state_token_sent;
        const result = this.put(key, value, flags, t.expiresAtMs(old), nowMs, old);
        if (result.status === 'STORED') this.addStateBits(old, item_state_stale | tokenSent);
        return result;
      }
      case 'append':
      case 'prepend': {
        // A CAS unique here is the binary protocol's: refuse if the item has moved on (memcached do_store_item).
        if (casUnique !== 0n && casUnique !== BigInt(t.cas(old))) return { status: 'EXISTS', seq: t.seq(old) };
        const current = t.valueCopy(old);
        const combined = mode === 'append' ? Buffer.concat([current, value]) : Buffer.concat([value, current]);
        if (itemTotalBytes(key.length, combined.length, t.flags(old)) > this.options.itemSizeMaxBytes) {
          return { status: 'NOT_STORED', seq: t.seq(old) };
        }
        return this.put(key, combined, t.flags(old), t.expiresAtMs(old), nowMs, old);
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
        return this.put(key, value, flags, expiresAtFromExptime(exptime, nowMs), nowMs, none);
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
    if (mode === 'set' && this.live(key, nowMs, false) !== none) this.remove(key);
    return { status: 'TOO_LARGE', seq: Math.max(this.removalSeqValue, this.lastSeqValue) };
  }

  /** casUnique (binary protocol; 0 = none): delete only the item with this CAS unique, else EXISTS (no counter, as memcached). */
  delete(key: string, nowMs: number, casUnique = 0n): DeleteResult {
    this.fireDueFlush(nowMs);
    const slot = this.live(key, nowMs, false);
    if (slot === none) {
      this.counters.deleteMisses++;
      return { status: 'NOT_FOUND', seq: this.removalSeqValue };
    }
    if (casUnique !== 0n && casUnique !== BigInt(this.table.cas(slot))) return { status: 'EXISTS', seq: this.table.seq(slot) };
    this.counters.deleteHits++;
    this.stat(slot).deleteHits++;
    this.remove(key);
    return { status: 'DELETED', seq: this.removalSeqValue };
  }

  /**
   * incr/decr on a 64-bit unsigned decimal value: incr wraps at 2^64, decr
   * stops at 0. casUnique (binary protocol; 0 = none): change only the item
   * with this CAS unique, else EXISTS; as memcached's do_add_delta, an empty
   * value is NON_NUMERIC before the CAS is compared.
   */
  delta(key: string, incr: boolean, amount: bigint, nowMs: number, casUnique = 0n): DeltaResult {
    this.fireDueFlush(nowMs);
    const slot = this.live(key, nowMs, false);
    if (slot === none) return this.deltaMiss(incr);
    const r = this.applyDelta(key, slot, incr, amount, casUnique, undefined, nowMs);
    return r.status === 'VALUE' ? { status: 'VALUE', value: r.value, seq: r.seq, cas: r.cas } : r;
  }

  touch(key: string, exptime: number, nowMs: number): TouchResult {
    this.fireDueFlush(nowMs);
    this.counters.cmdTouch++;
    const slot = this.live(key, nowMs, false);
    if (slot === none) {
      this.counters.touchMisses++;
      return { status: 'NOT_FOUND', seq: this.removalSeqValue };
    }
    this.counters.touchHits++;
    this.stat(slot).touchHits++;
    this.setExpiry(key, slot, expiresAtFromExptime(exptime, nowMs));
    this.table.setFetched(slot, 1); // memcached's touch is a fetch (do_item_get with DO_UPDATE)
    this.bump(slot, nowMs);
    return { status: 'TOUCHED', seq: this.table.seq(slot) };
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

  // ---- meta commands -------------------------------------------------------

  /** `me`: the live item, without counting a read or changing anything. */
  inspect(key: string, nowMs: number): MetaItemView | undefined {
    this.fireDueFlush(nowMs);
    const slot = this.live(key, nowMs, false);
    return slot === none ? undefined : this.metaView(key, slot, false);
  }

  /**
   * `mg`'s lookup: the live item as it is before the request (not bumped:
   * finishMetaGet does that). On a miss with vivifyAtMs (`N`), an empty item
   * with flags 0 expiring then is stored and logged; it is `created`. A miss
   * (no item, or no memory to create one) counts as a get miss.
   */
  metaGet(key: string, nowMs: number, withValue: boolean, vivifyAtMs: number | undefined): { item: MetaItemView; created: boolean } | undefined {
    this.fireDueFlush(nowMs);
    let slot = this.live(key, nowMs, true);
    let created = false;
    if (slot === none && vivifyAtMs !== undefined && this.put(key, empty_value, 0, vivifyAtMs, nowMs, none).status === 'STORED') {
      slot = this.table.slotOf(key);
      created = true;
    }
    if (slot === none) {
      this.counters.cmdGet++;
      this.counters.getMisses++;
      return undefined;
    }
    return { item: this.metaView(key, slot, withValue), created };
  }

  /** What an `mg` hit changes, applied right after metaGet; returns the WAL sequence the item now reflects. */
  finishMetaGet(key: string, nowMs: number, update: MetaGetUpdate): number {
    const slot = this.table.slotOf(key);
    assert(slot !== none, 'finishMetaGet follows a metaGet hit');
    const t = this.table;
    if (update.expiresAtMs !== undefined && update.expiresAtMs !== t.expiresAtMs(slot)) this.setExpiry(key, slot, update.expiresAtMs);
    if (update.winToken) this.addStateBits(slot, item_state_token_sent);
    if (update.bump) {
      t.setFetched(slot, 1);
      this.bump(slot, nowMs);
    }
    if (update.touched) {
      this.counters.cmdTouch++;
      this.counters.touchHits++;
      this.stat(slot).touchHits++;
    } else {
      this.counters.cmdGet++;
      this.counters.getHits++;
      this.stat(slot).getHits++;
    }
    return t.seq(slot);
  }

  /**
   * `md I`: instead of deleting, mark the item stale with a new CAS (logged as
   * a put of the same value) and, with expiresAtMs (`T`), a new expiry; the
   * recache token is handed out again. casUnique as in delete() (0 = none).
   */
  invalidate(key: string, nowMs: number, casUnique: bigint, expiresAtMs: number | undefined): DeleteResult {
    this.fireDueFlush(nowMs);
    const slot = this.live(key, nowMs, false);
    const t = this.table;
    if (slot === none || (casUnique !== 0n && casUnique !== BigInt(t.cas(slot)))) {
      this.counters.deleteMisses++;
      return slot === none ? { status: 'NOT_FOUND', seq: this.removalSeqValue } : { status: 'EXISTS', seq: t.seq(slot) };
    }
    const cas = this.nextCas++;
    const expires = expiresAtMs ?? t.expiresAtMs(slot);
    const seq = this.emitEffect({ kind: 'put', seq: 0, key, value: t.valueCopy(slot), flags: t.flags(slot), expiresAtMs: expires, cas });
    t.setCas(slot, cas);
    t.setExpiresAtMs(slot, expires);
    t.setSeq(slot, seq);
    t.setStateBits(slot, (t.stateBits(slot) | item_state_stale) & ~item_state_token_sent);
    return { status: 'DELETED', seq };
  }

  /** `ma`: incr/decr with a CAS check, a new expiry on success, and creation on a miss. */
  metaDelta(key: string, incr: boolean, amount: bigint, nowMs: number, opts: MetaDeltaOptions): MetaDeltaResult {
    this.fireDueFlush(nowMs);
    const slot = this.live(key, nowMs, false);
    if (slot !== none) {
      const r = this.applyDelta(key, slot, incr, amount, opts.casUnique, opts.expiresAtMs, nowMs);
      return r.status === 'VALUE' ? { ...r, created: false } : r;
    }
    if (!opts.vivify) return this.deltaMiss(incr);
    const { initial, expiresAtMs } = opts.vivify;
    const r = this.put(key, Buffer.from(initial.toString(), 'latin1'), 0, expiresAtMs, nowMs, none);
    if (r.status !== 'STORED') return { status: 'NO_MEMORY_CREATING', seq: r.seq };
    return { status: 'VALUE', value: initial, cas: r.cas, expiresAtMs: 0, created: true, seq: r.seq };
  }

  // ---- replay and snapshots ---------------------------------------------

  /** Applies a logged effect during recovery. Idempotent; emits nothing. */
  applyEffect(effect: Effect): void {
    switch (effect.kind) {
      case 'put':
        this.link(this.table.slotOf(effect.key), effect.key, effect.value, 0, effect.value.length, effect.flags, effect.expiresAtMs, effect.cas, effect.seq, 0);
        if (effect.cas >= this.nextCas) this.nextCas = effect.cas + 1;
        break;
      case 'del': {
        const slot = this.table.slotOf(effect.key);
        if (slot !== none) this.unlink(slot);
        this.removalSeqValue = effect.seq;
        break;
      }
      case 'touch': {
        const slot = this.table.slotOf(effect.key);
        if (slot !== none) { this.table.setExpiresAtMs(slot, effect.expiresAtMs); this.table.setSeq(slot, effect.seq); }
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

  /**
   * applyEffect of a put whose key is the latin1 string keyBytes[keyStart,
   * keyEnd) and whose value is value[start, end) (views: the bytes are
   * copied), without the Effect, key string and value view that costs per
   * record: WAL replay's path for its commonest record. Same resulting state.
   */
  replayPut(keyBytes: Buffer, keyStart: number, keyEnd: number, value: Buffer, start: number, end: number, flags: number, expiresAtMs: number, cas: number, seq: number): void {
    let slot = this.table.findOrInsertBytes(keyBytes, keyStart, keyEnd, value, start, end);
    if (slot < 0) {
      slot = ~slot;
      this.replace(slot, value, start, end);
    }
    this.fill(slot, keyEnd - keyStart, end - start, flags, expiresAtMs, cas, seq, 0);
    if (cas >= this.nextCas) this.nextCas = cas + 1;
    if (seq > this.lastSeqValue) this.lastSeqValue = seq;
  }

  /**
   * Replaces the whole state with a snapshot image. The image may deliver its
   * items asynchronously (read from a file in chunks); nothing else may use
   * the engine until the returned promise settles.
   */
  async restore(image: EngineImage): Promise<void> {
    this.clear();
    const t = this.table;
    let nextCas = Math.max(this.nextCas, image.nextCas);
    const seq = image.lastSeq;
    // Items are appended and indexed at the end; of two with the same key the later one stays, as if it replaced the earlier.
    // Their bytes are counted per slab class once, at the end: the class stats end as counting item by item leaves them.
    const tally = newRestoreTally();
    t.beginBulkLoad(image.itemCount ?? 0);
    try {
      await image.forEachItem((keyBytes, keyStart, keyEnd, value, start, end, flags, expiresAtMs, cas) => {
        const slot = t.appendBytes(keyBytes, keyStart, keyEnd, value, start, end);
        this.fillRestored(slot, keyEnd - keyStart, end - start, flags, expiresAtMs, cas, seq, tally);
        if (cas >= nextCas) nextCas = cas + 1;
      });
    } finally {
      for (const cls of slabClasses) if (tally.items[cls.id]! > 0) this.countIn(cls, tally.items[cls.id]!, tally.totalBytes[cls.id]!, tally.chargedBytes[cls.id]!);
      t.finishBulkLoad((earlier) => this.uncount(earlier));
    }
    this.nextCas = nextCas;
    this.lastSeqValue = image.lastSeq;
    this.removalSeqValue = image.lastSeq;
    this.pendingFlushAtMs = image.pendingFlushAtMs;
  }

  /**
   * A walk over the live items for a snapshot or dump, in slices the caller
   * paces. Each key present for the whole walk is visited exactly once; one
   * stored, changed or deleted meanwhile is visited at most once, in some state
   * it had during the walk (a fuzzy snapshot: the WAL after the walk's start
   * sequence makes it exact). `now` decides expiry at each step.
   */
  scan(now: () => number): ItemScan {
    const table = this.table;
    const limit = table.openScan();
    let cursor = 0;
    let open = true;
    return {
      step: (maxSlots: number, visit: ItemVisitor): boolean => {
        if (!open) return false;
        const nowMs = now();
        const end = Math.min(limit, cursor + maxSlots);
        for (; cursor < end; cursor++) {
          if (!table.isLive(cursor)) continue;
          const exp = table.expiresAtMs(cursor);
          if (exp !== 0 && exp <= nowMs) continue;
          const buf = table.valueBuffer(cursor);
          const at = table.valueStart(cursor);
          const keyStart = at - table.keyLength(cursor);
          visit(buf, keyStart, at, buf, at, at + table.valueLength(cursor), table.flags(cursor), exp, table.cas(cursor));
        }
        return cursor < limit;
      },
      close: () => {
        if (open) table.closeScan();
        open = false;
      },
    };
  }

  /** The live item for a key, without counting a read or moving it in the LRU. */
  peek(key: string, nowMs: number): ItemView | undefined {
    const slot = this.table.slotOf(key);
    return slot !== none && !this.isExpired(slot, nowMs) ? this.view(key, slot) : undefined;
  }

  /** Live keys and items (copies), as a scan meets them. */
  *dump(nowMs: number): Generator<[string, ItemView]> {
    const walk = this.scan(() => nowMs);
    try {
      const batch: Array<[string, ItemView]> = [];
      let more = true;
      while (more) {
        more = walk.step(1024, (keyBytes, keyStart, keyEnd, value, start, end, flags, expiresAtMs, cas) => {
          const key = keyBytes.toString('latin1', keyStart, keyEnd);
          batch.push([key, { key, value: Buffer.from(value.subarray(start, end)), flags, expiresAtMs, cas, seq: 0 }]);
        });
        yield* batch;
        batch.length = 0;
      }
    } finally {
      walk.close();
    }
  }

  /**
   * The live items' metadata, least recently used first (lru_crawler
   * metadump). Reads only: nothing is unlinked, counted or logged. A delayed
   * flush_all whose time has come hides everything, as it will at the next tick.
   */
  itemMetadata(nowMs: number, visit: (item: ItemMeta) => void): void {
    if (this.pendingFlushAtMs !== 0 && this.pendingFlushAtMs <= nowMs) return;
    const t = this.table;
    for (let slot = t.head; slot !== none; slot = t.next(slot)) {
      if (!this.isExpired(slot, nowMs)) visit(this.itemMeta(t.keyOf(slot), slot));
    }
  }

  /**
   * `lru_crawler crawl`: reclaims now every expired item of the slab classes
   * `inClass` accepts, instead of leaving them to tick()'s sweep. No effect
   * is emitted: expiry times are absolute, so a restart drops them anyway.
   * Returns how many were reclaimed.
   */
  reclaimExpired(nowMs: number, inClass: (slabClass: number) => boolean): number {
    const t = this.table;
    let reclaimed = 0;
    for (let slot = 0; slot < t.slotLimit; slot++) {
      if (!t.isLive(slot) || !this.isExpired(slot, nowMs) || !inClass(t.slabClass(slot))) continue;
      this.reclaim(slot);
      reclaimed++;
    }
    return reclaimed;
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
    const t = this.table;
    for (let slot = t.head; slot !== none; slot = t.next(slot)) {
      const cls = t.slabClass(slot);
      if (!ages.has(cls)) ages.set(cls, this.idleSeconds(slot, nowMs));
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

  private view(key: string, slot: number): ItemView {
    const t = this.table;
    return { key, value: t.valueCopy(slot), flags: t.flags(slot), expiresAtMs: t.expiresAtMs(slot), cas: t.cas(slot), seq: t.seq(slot) };
  }

  /** The slot's last access; an item recovered from disk carries none (0) and counts as accessed at the server's start. */
  private accessedAtMs(slot: number): number {
    const ms = this.table.lastAccessMs(slot);
    return ms === 0 ? this.options.startedAtMs ?? 0 : ms;
  }

  private idleSeconds(slot: number, nowMs: number): number {
    return Math.max(0, Math.floor((nowMs - this.accessedAtMs(slot)) / 1000));
  }

  /** What metadump and `me` both report of a slot (`me` through metaView). */
  private itemMeta(key: string, slot: number): ItemMeta {
    const t = this.table;
    return {
      key, expiresAtMs: t.expiresAtMs(slot), lastAccessMs: this.accessedAtMs(slot), cas: t.cas(slot),
      fetched: (t.stateBits(slot) & item_state_fetched) !== 0, slabClass: t.slabClass(slot), totalBytes: this.totalOf(slot),
    };
  }

  private metaView(key: string, slot: number, withValue: boolean): MetaItemView {
    const t = this.table;
    const bits = t.stateBits(slot);
    return {
      ...this.itemMeta(key, slot),
      value: withValue ? t.valueCopy(slot) : undefined, valueLength: t.valueLength(slot), flags: t.flags(slot), seq: t.seq(slot),
      tokenSent: (bits & item_state_token_sent) !== 0, stale: (bits & item_state_stale) !== 0, keyBinary: (bits & item_state_key_binary) !== 0,
    };
  }

  private addStateBits(slot: number, bits: number): void {
    this.table.setStateBits(slot, this.table.stateBits(slot) | bits);
  }

  private deltaMiss(incr: boolean): { status: 'NOT_FOUND'; seq: number } {
    if (incr) this.counters.incrMisses++;
    else this.counters.decrMisses++;
    return { status: 'NOT_FOUND', seq: this.removalSeqValue };
  }

  /**
   * incr/decr of a live slot. Checks as memcached's do_add_delta does: an
   * empty value is non-numeric before the CAS is compared (casUnique 0 = no
   * check). A result that fits in the old value's length is memcached's
   * in-place rewrite, so the item keeps its state bits; a longer one is a new
   * item. expiresAtMs (`ma T`) replaces the expiry; undefined keeps it. The
   * VALUE result's expiresAtMs is the expiry before this change.
   */
  private applyDelta(key: string, slot: number, incr: boolean, amount: bigint, casUnique: bigint, expiresAtMs: number | undefined, nowMs: number):
    | { status: 'VALUE'; value: bigint; cas: number; expiresAtMs: number; seq: number }
    | { status: 'NON_NUMERIC' | 'EXISTS' | 'NO_MEMORY'; seq: number } {
    const t = this.table;
    const length = t.valueLength(slot);
    if (length === 0) return { status: 'NON_NUMERIC', seq: t.seq(slot) };
    if (casUnique !== 0n && casUnique !== BigInt(t.cas(slot))) return { status: 'EXISTS', seq: t.seq(slot) };
    const start = t.valueStart(slot);
    const current = safeStrtoull(t.valueBuffer(slot).subarray(start, start + length));
    if (current === null) return { status: 'NON_NUMERIC', seq: t.seq(slot) };
    const next = incr ? (current + amount) & u64_max : (amount > current ? 0n : current - amount);
    if (incr) { this.counters.incrHits++; this.stat(slot).incrHits++; }
    else { this.counters.decrHits++; this.stat(slot).decrHits++; }
    const value = deltaValue(next, length);
    const bits = t.stateBits(slot);
    const priorExpiresAtMs = t.expiresAtMs(slot);
    const result = this.put(key, value, t.flags(slot), expiresAtMs ?? priorExpiresAtMs, nowMs, slot);
    if (result.status !== 'STORED') return { status: 'NO_MEMORY', seq: result.seq };
    if (value.length === length) t.setStateBits(slot, bits);
    return { status: 'VALUE', value: next, cas: result.cas, expiresAtMs: priorExpiresAtMs, seq: result.seq };
  }

  private isExpired(slot: number, nowMs: number): boolean {
    const exp = this.table.expiresAtMs(slot);
    return exp !== 0 && exp <= nowMs;
  }

  /** The item's slot if present, not expired and not flushed (else -1); an expired one is unlinked (no effect needed). */
  private live(key: string, nowMs: number, countExpiry: boolean): number {
    const slot = this.table.slotOf(key);
    if (slot === none) return none;
    if (this.isExpired(slot, nowMs)) {
      if (countExpiry) this.counters.getExpired++;
      this.reclaim(slot);
      return none;
    }
    return slot;
  }

  /** Stores a new version of `key`; `old` is its current live slot (the caller looked it up), or -1. */
  private put(key: string, value: Buffer, flags: number, expiresAtMs: number, nowMs: number, old: number): StoreResult {
    const total = itemTotalBytes(key.length, value.length, flags);
    const cls = slabClassFor(total);
    const freed = old !== none ? this.chargeOf(old) : 0;
    this.reclaimExpiredTail(nowMs, old);
    if (!this.makeRoom(chargeIn(total, cls) - freed, nowMs, old)) {
      this.counters.outOfMemory++;
      this.classStat(cls.id).outOfMemory++;
      return { status: 'NO_MEMORY', seq: this.lastSeqValue };
    }
    const cas = this.nextCas++;
    const seq = this.emitEffect({ kind: 'put', seq: 0, key, value, flags, expiresAtMs, cas });
    this.link(old, key, value, 0, value.length, flags, expiresAtMs, cas, seq, nowMs);
    this.counters.totalItems++;
    this.classStat(cls.id).setCmds++;
    return { status: 'STORED', seq, cas };
  }

  /**
   * Makes value[start, end) with these fields current for `key`: in `old`, the
   * key's slot, or in a new slot when old is -1 (the key is not in the table).
   */
  private link(old: number, key: string, value: Buffer, start: number, end: number, flags: number, expiresAtMs: number, cas: number, seq: number, nowMs: number): void {
    let slot = old;
    if (slot === none) slot = this.table.insert(key, value, start, end);
    else this.replace(slot, value, start, end);
    this.fill(slot, key.length, end - start, flags, expiresAtMs, cas, seq, nowMs);
  }

  /** A new value for a live slot: a new item in memcached's terms (most recent, state bits clear); its fields are fill()'s. */
  private replace(slot: number, value: Buffer, start: number, end: number): void {
    const t = this.table;
    this.uncount(slot);
    t.replaceValue(slot, value, start, end);
    t.moveToMostRecent(slot);
    t.setStateBits(slot, 0);
  }

  /** Sets a just linked slot's fields and counts its bytes against -m and its slab class. */
  private fill(slot: number, keyLength: number, valueLength: number, flags: number, expiresAtMs: number, cas: number, seq: number, nowMs: number): void {
    const total = itemTotalBytes(keyLength, valueLength, flags);
    const cls = slabClassFor(total);
    this.setFields(slot, cls, flags, expiresAtMs, cas, seq, nowMs);
    this.countIn(cls, 1, total, chargeIn(total, cls));
  }

  /** fill() for a restored slot, its bytes added to `tally` (countIn for all of them once the restore ends). */
  private fillRestored(slot: number, keyLength: number, valueLength: number, flags: number, expiresAtMs: number, cas: number, seq: number, tally: RestoreTally): void {
    const total = itemTotalBytes(keyLength, valueLength, flags);
    const cls = slabClassFor(total);
    this.setFields(slot, cls, flags, expiresAtMs, cas, seq, 0);
    tally.items[cls.id]++;
    tally.totalBytes[cls.id] += total;
    tally.chargedBytes[cls.id] += chargeIn(total, cls);
  }

  private setFields(slot: number, cls: SlabClass, flags: number, expiresAtMs: number, cas: number, seq: number, nowMs: number): void {
    const t = this.table;
    t.setFlags(slot, flags);
    t.setExpiresAtMs(slot, expiresAtMs);
    t.setCas(slot, cas);
    t.setSeq(slot, seq);
    t.setLastAccessMs(slot, nowMs);
    t.setSlabClass(slot, cls.id);
  }

  /** Counts `items` items of `cls` totalling these bytes against -m and in the class's stats (pages only ever grow). */
  private countIn(cls: SlabClass, items: number, totalBytes: number, chargedBytes: number): void {
    this.usedBytes += chargedBytes;
    this.storedBytes += totalBytes;
    const s = this.classStat(cls.id);
    s.number += items;
    s.chunksUsed += items;
    s.requestedBytes += totalBytes;
    const pages = pagesNeeded(cls, s.chunksUsed, s.number * cls.chunkSizeBytes);
    if (pages > s.pagesAllocated) s.pagesAllocated = pages;
  }

  /** memcached's ITEM_ntotal of a live slot. */
  private totalOf(slot: number): number {
    const t = this.table;
    return itemTotalBytes(t.keyLength(slot), t.valueLength(slot), t.flags(slot));
  }

  /** Bytes a live slot is charged against -m (its class was found when it was stored). */
  private chargeOf(slot: number): number {
    return chargeIn(this.totalOf(slot), slabClasses[this.table.slabClass(slot) - 1]!);
  }

  /** Takes a live slot's bytes out of the memory and class counts. */
  private uncount(slot: number): void {
    const total = this.totalOf(slot);
    this.usedBytes -= this.chargeOf(slot);
    this.storedBytes -= total;
    const s = this.stat(slot);
    s.number--;
    s.chunksUsed--;
    s.requestedBytes -= total;
  }

  private unlink(slot: number): void {
    this.uncount(slot);
    this.table.remove(slot);
  }

  /** Unlinks an item and logs it (`del`), so a restart does not revive it. */
  private remove(key: string): void {
    const slot = this.table.slotOf(key);
    if (slot !== none) this.removeSlot(slot, key);
  }

  private removeSlot(slot: number, key: string): void {
    this.unlink(slot);
    this.removalSeqValue = this.emitEffect({ kind: 'del', seq: 0, key });
  }

  private reclaim(slot: number): void {
    const s = this.stat(slot);
    const unfetched = this.table.fetched(slot) === 0;
    this.unlink(slot);
    this.counters.reclaimed++;
    s.reclaimed++;
    if (unfetched) { this.counters.expiredUnfetched++; s.expiredUnfetched++; }
  }

  private setExpiry(key: string, slot: number, expiresAtMs: number): void {
    this.table.setExpiresAtMs(slot, expiresAtMs);
    this.table.setSeq(slot, this.emitEffect({ kind: 'touch', seq: 0, key, expiresAtMs }));
  }

  /** Moves an item to the most-recently-used end. */
  private bump(slot: number, nowMs: number): void {
    this.table.setLastAccessMs(slot, nowMs);
    this.table.moveToMostRecent(slot);
  }

  /** memcached looks a few items into the LRU tail for expired ones before allocating. */
  private reclaimExpiredTail(nowMs: number, keep: number): void {
    const t = this.table;
    let slot = t.head;
    for (let looked = 0; slot !== none && looked < reclaim_search_max; looked++) {
      const next = t.next(slot);
      if (this.isExpired(slot, nowMs) && slot !== keep) this.reclaim(slot);
      slot = next;
    }
  }

  /** Evicts LRU items until `extraBytes` more fit under -m; false if that cannot be (with -M, or too big). */
  private makeRoom(extraBytes: number, nowMs: number, keep = none): boolean {
    const limit = this.options.memoryLimitBytes;
    if (this.usedBytes + extraBytes <= limit) return true;
    if (this.options.evictionsDisabled) return false;
    const t = this.table;
    for (let slot = t.head; slot !== none && this.usedBytes + extraBytes > limit;) {
      const next = t.next(slot);
      if (slot !== keep) this.evict(slot, nowMs);
      slot = next;
    }
    return this.usedBytes + extraBytes <= limit;
  }

  private evict(slot: number, nowMs: number): void {
    const t = this.table;
    const s = this.stat(slot);
    this.counters.evictions++;
    s.evicted++;
    if (t.expiresAtMs(slot) !== 0) s.evictedNonzero++;
    if (t.fetched(slot) === 0) { this.counters.evictedUnfetched++; s.evictedUnfetched++; }
    s.lastEvictedAgeS = this.idleSeconds(slot, nowMs);
    this.removeSlot(slot, t.keyOf(slot));
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
    this.table.clear();
    this.sweepCursor = 0;
    this.usedBytes = 0;
    this.storedBytes = 0;
    for (const s of this.classStats) if (s) { s.number = 0; s.chunksUsed = 0; s.requestedBytes = 0; }
  }

  /** Looks at up to `budget` slots from where the last sweep stopped and reclaims expired items. */
  private sweepExpired(nowMs: number, budget: number): void {
    const t = this.table;
    const limit = t.slotLimit;
    if (this.sweepCursor >= limit) this.sweepCursor = 0;
    const end = Math.min(limit, this.sweepCursor + budget);
    for (; this.sweepCursor < end; this.sweepCursor++) {
      if (t.isLive(this.sweepCursor) && this.isExpired(this.sweepCursor, nowMs)) this.reclaim(this.sweepCursor);
    }
  }

  /** Stats of the slab class a live slot is counted in. */
  private stat(slot: number): SlabClassStats {
    return this.classStat(this.table.slabClass(slot));
  }

  private classStat(id: number): SlabClassStats {
    return this.classStats[id] ??= newSlabClassStats();
  }
}

/** Per slab class id: the items a restore added and their bytes (memcached's ITEM_ntotal, and as charged against -m). */
interface RestoreTally { items: Float64Array; totalBytes: Float64Array; chargedBytes: Float64Array }

function newRestoreTally(): RestoreTally {
  const ids = slabClasses.length + 1;
  return { items: new Float64Array(ids), totalBytes: new Float64Array(ids), chargedBytes: new Float64Array(ids) };
}

/** Bytes charged for an item of `total` bytes in class `cls`: its chunk, or whole max-size chunks for a chunked item. */
function chargeIn(total: number, cls: SlabClass): number {
  return total > cls.chunkSizeBytes ? chargedBytesFor(total) : cls.chunkSizeBytes;
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
