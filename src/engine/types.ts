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

/** What `lru_crawler metadump` shows of a live item. */
export interface ItemMeta {
  key: string;
  /** Absolute expiry in ms since the epoch; 0 = never. */
  expiresAtMs: number;
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
  /** Calls `visit` once per item in order (a later item with the same key replaces an earlier one); may finish asynchronously. */
  forEachItem(visit: ItemVisitor): void | Promise<void>;
  /** How many items forEachItem will give, if known (lets the engine size its table once). */
  itemCount?: number;
  nextCas: number;
  lastSeq: number;
  pendingFlushAtMs: number;
}
