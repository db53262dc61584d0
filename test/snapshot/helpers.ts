// Shared helpers for the snapshot tests: temp directories and a fake
// SnapshotSource over a plain Map.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyListScan, type SnapshotSource } from '../../src/snapshot/snapshot.js';
import type { SnapshotItem } from '../../src/snapshot/format.js';

export async function makeTempDir(): Promise<{ dir: string; snapDir: string; walDir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mcl-snap-test-'));
  return { dir, snapDir: join(dir, 'snapshots'), walDir: join(dir, 'wal'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface FakeSource extends SnapshotSource {
  map: Map<string, SnapshotItem>;
  seq: number;
  cas: number;
  flushAt: number;
  keys(): string[];
  item(key: string): SnapshotItem | undefined;
  /** Called once each time keys() is taken (after the list is copied). */
  onKeys?: (keys: string[]) => void;
  /** Called before every item() lookup, with how many lookups came before. */
  onItem?: (index: number) => void;
  itemCalls: number;
}

export function fakeSource(map: Map<string, SnapshotItem>, init: { lastSeq?: number; nextCas?: number; pendingFlushAtMs?: number } = {}): FakeSource {
  const src: FakeSource = {
    map,
    seq: init.lastSeq ?? 0,
    cas: init.nextCas ?? 1,
    flushAt: init.pendingFlushAtMs ?? 0,
    itemCalls: 0,
    lastSeq: () => src.seq,
    nextCas: () => src.cas,
    pendingFlushAtMs: () => src.flushAt,
    keys: () => {
      const keys = [...src.map.keys()];
      src.onKeys?.(keys);
      return keys;
    },
    item: (key) => {
      src.onItem?.(src.itemCalls);
      src.itemCalls++;
      return src.map.get(key);
    },
    scan: () => keyListScan(src.keys(), src.item),
  };
  return src;
}

/** A small deterministic item for key `key`. */
export function smallItem(key: string, i: number): SnapshotItem {
  return { key, value: Buffer.from(`value-${i}`), flags: i, expiresAtMs: 0, cas: i + 1 };
}

export function itemsMap(n: number, prefix = 'k'): Map<string, SnapshotItem> {
  const m = new Map<string, SnapshotItem>();
  for (let i = 0; i < n; i++) m.set(`${prefix}${i}`, smallItem(`${prefix}${i}`, i));
  return m;
}

export interface Deferred<T> { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void }

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
