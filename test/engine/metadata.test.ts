// What lru_crawler uses: Engine.itemMetadata (what `metadump` lists: live
// items only, least recently used first, with memcached's ITEM_ntotal and
// slab class; reading changes nothing) and Engine.reclaimExpired (`crawl`).

import { describe, expect, it } from 'vitest';
import type { ItemMeta } from '../../src/engine/types.js';
import { bytes, recordingEngine, T0 } from './helpers.js';

function metadata(engine: ReturnType<typeof recordingEngine>['engine'], nowMs: number): ItemMeta[] {
  const items: ItemMeta[] = [];
  engine.itemMetadata(nowMs, (m) => items.push(m));
  return items;
}

describe('Engine.itemMetadata', () => {
  it('lists live items least recently used first, with expiry, last access, cas, fetched, class and size', () => {
    const { engine } = recordingEngine();
    engine.store('set', 'foo', 5, 0, bytes('bar'), 0n, T0);
    engine.store('set', 'a%20b/c', 0, 100, bytes('x'), 0n, T0 + 1000);
    engine.get('foo', T0 + 2000);
    expect(metadata(engine, T0 + 3000)).toEqual([
      { key: 'a%20b/c', expiresAtMs: T0 + 101_000, lastAccessMs: T0 + 1000, cas: 2, fetched: false, slabClass: 1, totalBytes: 67 },
      { key: 'foo', expiresAtMs: 0, lastAccessMs: T0 + 2000, cas: 1, fetched: true, slabClass: 1, totalBytes: 69 },
    ]);
  });

  it('skips expired items and shows nothing once a delayed flush_all is due; changes nothing', () => {
    const { engine, effects } = recordingEngine();
    engine.store('set', 'short', 0, 1, bytes('v'), 0n, T0);
    engine.store('set', 'big', 0, 0, Buffer.alloc(5000), 0n, T0);
    engine.flushAll(10, T0);
    const before = effects.length;
    const counters = { ...engine.counters };
    // class and size as memcached 1.6.18's metadump shows them for this item
    expect(metadata(engine, T0 + 1000).map((m) => [m.key, m.slabClass, m.totalBytes])).toEqual([['big', 19, 5062]]);
    expect(metadata(engine, T0 + 10_000)).toEqual([]);
    expect(effects).toHaveLength(before);
    expect(engine.counters).toEqual(counters);
    expect(engine.itemCount).toBe(2);
  });

  it('reclaimExpired removes the expired items of the classes asked for, with no effect', () => {
    const { engine, effects } = recordingEngine();
    engine.store('set', 'small-expiring', 0, 1, bytes('v'), 0n, T0);
    engine.store('set', 'big-expiring', 0, 1, Buffer.alloc(5000), 0n, T0);
    engine.store('set', 'small-live', 0, 0, bytes('v'), 0n, T0);
    const before = effects.length;
    expect(engine.reclaimExpired(T0 + 2000, (id) => id === 1)).toBe(1);
    expect(engine.itemCount).toBe(2);
    expect(engine.slabStats().get(1)?.number).toBe(1);
    expect(engine.reclaimExpired(T0 + 2000, () => true)).toBe(1);
    expect(engine.itemCount).toBe(1);
    expect(engine.counters.reclaimed).toBe(2);
    expect(effects).toHaveLength(before);
    expect(engine.peek('small-live', T0 + 2000)?.value.toString()).toBe('v');
  });
});

describe('items recovered from disk (no access time: it is not logged)', () => {
  it('count as accessed when the server started, for metadump, stats items ages and eviction ages', () => {
    const started = T0 + 60_000;
    const { engine } = recordingEngine({ startedAtMs: started, memoryLimitBytes: 2 << 20 });
    engine.applyEffect({ kind: 'put', seq: 1, key: 'old', value: bytes('v'), flags: 0, expiresAtMs: 0, cas: 1 });
    expect(metadata(engine, started + 5000)[0]).toMatchObject({ key: 'old', lastAccessMs: started });
    expect(engine.oldestAgeByClass(started + 5000).get(1)).toBe(5);
    // Fill memory until 'old' (least recently used) is evicted: its age at eviction counts from the start too.
    const big = Buffer.alloc(500 * 1024, 0x61);
    for (let i = 0; i < 8 && engine.peek('old', started + 9000); i++) engine.store('set', `big${i}`, 0, 0, big, 0n, started + 9000);
    expect(engine.peek('old', started + 9000)).toBeUndefined();
    const evictedAges = [...engine.slabStats()].map(([, s]) => s.lastEvictedAgeS).filter((age) => age > 0);
    expect(evictedAges).toEqual([9]);
  });
});
