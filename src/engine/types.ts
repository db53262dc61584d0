// Engine data types: items, effects (what the WAL records) and results (what
// the net layer turns into reply text). Keys are strings decoded as latin1, so
// every byte maps to one char and back without loss.

export interface Item {
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
  /** Bytes charged against -m (memcached's slab chunk size for this item). */
  chargedBytes: number;
  /** Slab class the item is counted in (for memcached-style stats). */
  slabClass: number;
  /** Last access time, for `stats items` age and memcached's LRU semantics. */
  lastAccessMs: number;
  /** Whether a get has read the item since it was stored. */
  fetched: boolean;
  /** Neighbours in the engine's recency list (see lru.ts). */
  lruPrev: Item | null;
  lruNext: Item | null;
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

/** Each result says which WAL position it reflects; the reply waits until that is durable. */
export interface StoreResult { status: StoreStatus; seq: number }
export interface DeleteResult { status: 'DELETED' | 'NOT_FOUND'; seq: number }
export interface TouchResult { status: 'TOUCHED' | 'NOT_FOUND'; seq: number }
export type DeltaResult =
  | { status: 'VALUE'; value: bigint; seq: number }
  | { status: 'NOT_FOUND' | 'NON_NUMERIC' | 'NO_MEMORY'; seq: number };

export interface EngineOptions {
  memoryLimitBytes: number;
  itemSizeMaxBytes: number;
  /** -M: refuse with an error instead of evicting. */
  evictionsDisabled: boolean;
}

/** The state a snapshot holds and restores (dump/restore). */
export interface EngineImage {
  items: Iterable<[string, { value: Buffer; flags: number; expiresAtMs: number; cas: number }]>;
  nextCas: number;
  lastSeq: number;
  pendingFlushAtMs: number;
}
