// Engine data types: items, effects (what the WAL records) and results (what
// the net layer turns into reply text). Keys are strings decoded as latin1, so
// every byte maps to one char and back without loss.

/**
 * An item as the engine hands it out: a snapshot of its fields, with a value
 * the caller owns (copied out of the item table, so it stays valid whatever
 * happens to the item afterwards).
 */
export interface ItemView {
  key: string;
  value: Buffer;
  /** 32-bit unsigned client flags, opaque to the server. */
  flags: number;
  /** Absolute expiry in ms since the epoch; 0 = never. */
  expiresAtMs: number;
  /** CAS unique; strictly increasing over the server's life, across restarts. */
  cas: number;
  /** WAL sequence of the effect that last changed this item: a reply showing it waits until that is durable. */
  seq: number;
}

/**
 * Receives one item of a scan or of an image being restored: the key is the
 * latin1 string whose bytes are keyBytes[keyStart, keyEnd), the value
 * value[start, end) (views valid only during the call: copy what you keep).
 */
export type ItemVisitor = (
  keyBytes: Buffer, keyStart: number, keyEnd: number, value: Buffer, start: number, end: number, flags: number, expiresAtMs: number, cas: number,
) => void;

/** What `lru_crawler metadump` and `me` show of a live item (the fields both report). */
export interface ItemMeta {
  key: string;
  /** Absolute expiry in ms since the epoch; 0 = never. */
  expiresAtMs: number;
  /** Last access in ms since the epoch (the server's start for an item recovered and not accessed since). */
  lastAccessMs: number;
  cas: number;
  /** Read since it was stored. */
  fetched: boolean;
  slabClass: number;
  /** memcached's ITEM_ntotal. */
  totalBytes: number;
}

/** A walk over the live items that yields between steps (snapshots, dumps). */
export interface ItemScan {
  /** Visits the live items among the next `maxSlots` slots; false once the walk is complete. */
  step(maxSlots: number, visit: ItemVisitor): boolean;
  /** Ends the walk (always call it, also after an error). */
  close(): void;
}

/**
 * Effects are results, not commands: replaying one twice leaves the same state.
 * Every effect carries the WAL sequence number the engine assigned to it.
 */
export type Effect =
  | { kind: 'put'; seq: number; key: string; value: Buffer; flags: number; expiresAtMs: number; cas: number }
  | { kind: 'del'; seq: number; key: string }
  | { kind: 'touch'; seq: number; key: string; expiresAtMs: number }
  /** Remove every item (an immediate flush_all, or a delayed one whose time came). */
  | { kind: 'flush'; seq: number }
  /** A delayed flush_all is pending until atMs; 0 cancels a pending one. */
  | { kind: 'flushAt'; seq: number; atMs: number };

export type StoreMode = 'set' | 'add' | 'replace' | 'append' | 'prepend' | 'cas';

export type StoreStatus = 'STORED' | 'NOT_STORED' | 'EXISTS' | 'NOT_FOUND' | 'TOO_LARGE' | 'NO_MEMORY';

/**
 * Each result says which WAL position it reflects; the reply waits until that
 * is durable. A result that made a new item version carries its CAS unique
 * (the binary protocol returns it). EXISTS: a CAS unique was given and the
 * item has another one.
 */
export type StoreResult =
  | { status: 'STORED'; seq: number; cas: number }
  | { status: Exclude<StoreStatus, 'STORED'>; seq: number };
export interface DeleteResult { status: 'DELETED' | 'NOT_FOUND' | 'EXISTS'; seq: number }
export interface TouchResult { status: 'TOUCHED' | 'NOT_FOUND'; seq: number }
export type DeltaResult =
  | { status: 'VALUE'; value: bigint; seq: number; cas: number }
  | { status: 'NOT_FOUND' | 'NON_NUMERIC' | 'NO_MEMORY' | 'EXISTS'; seq: number };

/**
 * An item as the meta commands see it: its fields, plus the in-memory state
 * memcached keeps beside them (it_flags and last access time), as it was
 * before the request that looks at it.
 */
export interface MetaItemView extends ItemMeta {
  /** A copy of the value, when it was asked for. */
  value: Buffer | undefined;
  valueLength: number;
  flags: number;
  seq: number;
  /** A client already holds the recache token (memcached ITEM_TOKEN_SENT). */
  tokenSent: boolean;
  stale: boolean;
  /** Stored under a base64 (`b`) key. */
  keyBinary: boolean;
}

/** What `ms` adds to a store. */
export interface MetaStoreOptions {
  /** `I`: a CAS below the item's stores the value anyway, marked stale. */
  invalidate: boolean;
  /** `b`: the key came base64-encoded. */
  keyBinary: boolean;
}

/** What a meta get changes once it has looked at the item. */
export interface MetaGetUpdate {
  /** A new expiry (`T`); undefined keeps it. */
  expiresAtMs: number | undefined;
  /** The client won the recache token (`W`). */
  winToken: boolean;
  /** Mark fetched, note the access time and move to the most-recent end (no `u`). */
  bump: boolean;
  /** Counted as a touch rather than a get. */
  touched: boolean;
}

export interface MetaDeltaOptions {
  /** `C`: the item's CAS must equal this (0 = no check, as memcached). */
  casUnique: bigint;
  /** `T`: the item's new expiry; undefined keeps it. */
  expiresAtMs: number | undefined;
  /** `N` with `J`: on a miss, create the item with this value and expiry. */
  vivify: { initial: bigint; expiresAtMs: number } | undefined;
}

export type MetaDeltaResult =
  | { status: 'VALUE'; value: bigint; cas: number; expiresAtMs: number; created: boolean; seq: number }
  | { status: 'NOT_FOUND' | 'EXISTS' | 'NON_NUMERIC' | 'NO_MEMORY' | 'NO_MEMORY_CREATING'; seq: number };

export interface EngineOptions {
  memoryLimitBytes: number;
  itemSizeMaxBytes: number;
  /** -M: refuse with an error instead of evicting. */
  evictionsDisabled: boolean;
  /**
   * When the server started (ms since the epoch). An item recovered from disk
   * has no access time (it is memory-only, not logged): it counts as accessed
   * then, in `stats items` ages, eviction ages, metadump and `me`/`mg l`.
   */
  startedAtMs?: number;
}

/** The state a snapshot holds and restores (dump/restore). */
export interface EngineImage {
  /** Calls `visit` once per item in order (a later item with the same key replaces an earlier one); may finish asynchronously. */
  forEachItem(visit: ItemVisitor): void | Promise<void>;
  /** How many items forEachItem will give, if known (lets the engine size its table once). */
  itemCount?: number;
  nextCas: number;
  lastSeq: number;
  pendingFlushAtMs: number;
}
