// The engine's meta-command operations (memcached 1.6.18 proto_text.c
// process_m*_command, do_store_item's CAS_STALE, do_add_delta): what they
// change, what they log, and the in-memory item state (fetched, win token
// sent, stale, base64 key) that is deliberately not logged.

import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import type { MetaGetUpdate, MetaItemView } from '../../src/engine/types.js';
import { T0, bytes, recordingEngine, replay, visibleState } from './helpers.js';

const plain = { invalidate: false, keyBinary: false };
const noDeltaOptions = { casUnique: 0n, expiresAtMs: undefined, vivify: undefined };
const readOnly: MetaGetUpdate = { expiresAtMs: undefined, winToken: false, bump: false, touched: false };

function set(e: Engine, key: string, value: string, exptime = 0, now = T0) {
  return e.store('set', key, 0, exptime, bytes(value), 0n, now);
}
function look(e: Engine, key: string, now = T0): MetaItemView {
  const item = e.inspect(key, now);
  if (!item) throw new Error(`${key} is missing`);
  return item;
}

describe('mg: metaGet and finishMetaGet', () => {
  it('a miss counts a get miss and changes nothing', () => {
    const { engine, effects } = recordingEngine();
    expect(engine.metaGet('k', T0, true, undefined)).toBeUndefined();
    expect(engine.counters.getMisses).toBe(1);
    expect(engine.counters.cmdGet).toBe(1);
    expect(effects).toHaveLength(0);
  });

  it('N on a miss creates an empty item with flags 0 and the given expiry, logged as a put', () => {
    const { engine, effects } = recordingEngine();
    const r = engine.metaGet('k', T0, true, T0 + 30_000)!;
    expect(r.created).toBe(true);
    expect(r.item.value!.length).toBe(0);
    expect(r.item).toMatchObject({ flags: 0, expiresAtMs: T0 + 30_000, fetched: false, tokenSent: false, stale: false });
    expect(effects).toEqual([{ kind: 'put', seq: 1, key: 'k', value: bytes(''), flags: 0, expiresAtMs: T0 + 30_000, cas: r.item.cas }]);
    expect(engine.counters.getMisses).toBe(0);
    expect(visibleState(replay(effects), T0)).toEqual(visibleState(engine, T0));
  });

  it('N on a hit creates nothing', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'k', 'v');
    const r = engine.metaGet('k', T0, false, T0 + 30_000)!;
    expect(r.created).toBe(false);
    expect(r.item.value).toBeUndefined();
    expect(r.item.valueLength).toBe(1);
    expect(effects).toHaveLength(1);
  });

  it('shows the item as it was before the request: fetched and last access change only in finishMetaGet', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'v');
    const before = engine.metaGet('k', T0 + 5000, false, undefined)!.item;
    expect(before).toMatchObject({ fetched: false, lastAccessMs: T0 });
    engine.finishMetaGet('k', T0 + 5000, { ...readOnly, bump: true });
    expect(look(engine, 'k')).toMatchObject({ fetched: true, lastAccessMs: T0 + 5000 });
    expect(engine.counters.getHits).toBe(1);
  });

  it('without bump (u) the item is neither marked fetched nor given a new access time', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'v');
    engine.metaGet('k', T0 + 5000, false, undefined);
    engine.finishMetaGet('k', T0 + 5000, readOnly);
    expect(look(engine, 'k')).toMatchObject({ fetched: false, lastAccessMs: T0 });
  });

  it('a new expiry (T) is logged as a touch and counted as a touch; an unchanged one logs nothing', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'k', 'v', 100);
    engine.metaGet('k', T0, false, undefined);
    const seq = engine.finishMetaGet('k', T0, { ...readOnly, expiresAtMs: T0 + 300_000, touched: true });
    expect(effects[1]).toEqual({ kind: 'touch', seq: 2, key: 'k', expiresAtMs: T0 + 300_000 });
    expect(seq).toBe(2);
    expect(engine.counters.touchHits).toBe(1);
    expect(engine.counters.cmdTouch).toBe(1);
    engine.metaGet('k', T0, false, undefined);
    engine.finishMetaGet('k', T0, { ...readOnly, expiresAtMs: T0 + 300_000, touched: true });
    expect(effects).toHaveLength(2);
  });

  it('a win marks the token sent, in memory only', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'k', 'v');
    engine.metaGet('k', T0, false, undefined);
    engine.finishMetaGet('k', T0, { ...readOnly, winToken: true });
    expect(look(engine, 'k').tokenSent).toBe(true);
    expect(effects).toHaveLength(1);
    expect(look(replay(effects), 'k').tokenSent).toBe(false);
  });
});

describe('ms: store with meta options', () => {
  it('C below the item\'s CAS with I stores the value stale, keeping the expiry and a sent token', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'first', 'x'); // takes CAS 1, so k's CAS is above 1
    set(engine, 'k', 'old', 30);
    engine.metaGet('k', T0, false, undefined);
    engine.finishMetaGet('k', T0, { ...readOnly, winToken: true });
    const cur = look(engine, 'k');
    const stale = engine.store('cas', 'k', 5, 300, bytes('new'), 1n, T0 + 1000, { invalidate: true, keyBinary: false });
    if (stale.status !== 'STORED') throw new Error(`stale store: ${stale.status}`);
    const after = look(engine, 'k', T0 + 1000);
    expect(after).toMatchObject({ stale: true, tokenSent: true, flags: 5, expiresAtMs: cur.expiresAtMs, cas: stale.cas });
    expect(after.cas).toBeGreaterThan(cur.cas);
    expect(engine.get('k', T0 + 1000)!.value.toString()).toBe('new');
    expect(visibleState(replay(effects), T0 + 1000)).toEqual(visibleState(engine, T0 + 1000));
  });

  it('without I, or with C 0 or above the item\'s CAS, a mismatched C is EXISTS', () => {
    const { engine } = recordingEngine();
    set(engine, 'a', 'x');
    set(engine, 'k', 'v');
    const cas = BigInt(look(engine, 'k').cas);
    expect(engine.store('cas', 'k', 0, 0, bytes('n'), cas - 1n, T0, plain).status).toBe('EXISTS');
    expect(engine.store('cas', 'k', 0, 0, bytes('n'), 0n, T0, { invalidate: true, keyBinary: false }).status).toBe('EXISTS');
    expect(engine.store('cas', 'k', 0, 0, bytes('n'), cas + 1n, T0, { invalidate: true, keyBinary: false }).status).toBe('EXISTS');
    const ok = engine.store('cas', 'k', 0, 0, bytes('n'), cas, T0, { invalidate: true, keyBinary: false });
    expect(ok.status).toBe('STORED');
    expect(look(engine, 'k').stale).toBe(false);
  });

  it('append and prepend compare a CAS when one is given', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'b');
    const cas = BigInt(look(engine, 'k').cas);
    expect(engine.store('append', 'k', 0, 0, bytes('c'), cas + 1n, T0).status).toBe('EXISTS');
    expect(engine.store('prepend', 'k', 0, 0, bytes('a'), cas, T0).status).toBe('STORED');
    expect(engine.get('k', T0)!.value.toString()).toBe('ab');
  });

  it('a base64 key marks the stored item; an append builds a new item without the mark, as memcached does', () => {
    const { engine } = recordingEngine();
    engine.store('set', 'k', 0, 0, bytes('a'), 0n, T0, { invalidate: false, keyBinary: true });
    expect(look(engine, 'k').keyBinary).toBe(true);
    engine.store('append', 'k', 0, 0, bytes('b'), 0n, T0, { invalidate: false, keyBinary: true });
    expect(look(engine, 'k').keyBinary).toBe(false);
    engine.store('set', 'k', 0, 0, bytes('a'), 0n, T0, { invalidate: false, keyBinary: true });
    set(engine, 'k', 'plain');
    expect(look(engine, 'k').keyBinary).toBe(false);
  });
});

describe('md: delete with a CAS, and invalidate', () => {
  it('delete with a CAS removes only the item of that CAS', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'v');
    const cas = BigInt(look(engine, 'k').cas);
    expect(engine.delete('k', T0, cas + 1n).status).toBe('EXISTS');
    expect(engine.inspect('k', T0)).toBeDefined();
    expect(engine.delete('k', T0, cas).status).toBe('DELETED');
    expect(engine.inspect('k', T0)).toBeUndefined();
  });

  it('invalidate marks stale with a new CAS (logged as a put of the same value), re-opens the token and may set the expiry', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'k', 'val', 100);
    engine.metaGet('k', T0, false, undefined);
    engine.finishMetaGet('k', T0, { ...readOnly, winToken: true, bump: true });
    const before = look(engine, 'k');
    const r = engine.invalidate('k', T0 + 1000, 0n, T0 + 30_000);
    expect(r.status).toBe('DELETED');
    const after = look(engine, 'k', T0 + 1000);
    expect(after).toMatchObject({ stale: true, tokenSent: false, fetched: true, expiresAtMs: T0 + 30_000, lastAccessMs: before.lastAccessMs });
    expect(after.cas).toBeGreaterThan(before.cas);
    expect(effects.at(-1)).toEqual({ kind: 'put', seq: r.seq, key: 'k', value: bytes('val'), flags: 0, expiresAtMs: T0 + 30_000, cas: after.cas });
    expect(visibleState(replay(effects), T0 + 1000)).toEqual(visibleState(engine, T0 + 1000));
    expect(engine.invalidate('k', T0, 0n, undefined).status).toBe('DELETED');
    expect(look(engine, 'k').expiresAtMs).toBe(T0 + 30_000);
  });

  it('invalidate of a missing key or with a wrong CAS changes nothing', () => {
    const { engine, effects } = recordingEngine();
    expect(engine.invalidate('k', T0, 0n, undefined).status).toBe('NOT_FOUND');
    set(engine, 'k', 'v');
    expect(engine.invalidate('k', T0, 999n, undefined).status).toBe('EXISTS');
    expect(effects).toHaveLength(1);
    expect(look(engine, 'k').stale).toBe(false);
  });
});

describe('ma: metaDelta', () => {
  it('compares the CAS after the empty-value check and before parsing; 0 means no check', () => {
    const { engine } = recordingEngine();
    set(engine, 'e', '');
    expect(engine.metaDelta('e', true, 1n, T0, { ...noDeltaOptions, casUnique: 12345n }).status).toBe('NON_NUMERIC');
    set(engine, 'x', 'abc');
    expect(engine.metaDelta('x', true, 1n, T0, { ...noDeltaOptions, casUnique: 12345n }).status).toBe('EXISTS');
    set(engine, 'n', '5');
    const cas = BigInt(look(engine, 'n').cas);
    expect(engine.metaDelta('n', true, 1n, T0, { ...noDeltaOptions, casUnique: cas + 1n }).status).toBe('EXISTS');
    const r = engine.metaDelta('n', true, 1n, T0, { ...noDeltaOptions, casUnique: cas });
    expect(r).toMatchObject({ status: 'VALUE', value: 6n, created: false });
    expect(r.status === 'VALUE' && r.cas).toBe(look(engine, 'n').cas);
    expect(engine.metaDelta('n', false, 2n, T0, noDeltaOptions)).toMatchObject({ status: 'VALUE', value: 4n });
  });

  it('a miss is NOT_FOUND unless asked to create the item with an initial value and expiry', () => {
    const { engine, effects } = recordingEngine();
    expect(engine.metaDelta('k', true, 1n, T0, noDeltaOptions).status).toBe('NOT_FOUND');
    expect(engine.counters.incrMisses).toBe(1);
    const r = engine.metaDelta('k', true, 1n, T0, { ...noDeltaOptions, vivify: { initial: 13n, expiresAtMs: T0 + 90_000 } });
    expect(r).toMatchObject({ status: 'VALUE', value: 13n, created: true, expiresAtMs: 0 });
    expect(look(engine, 'k')).toMatchObject({ flags: 0, expiresAtMs: T0 + 90_000 });
    expect(engine.get('k', T0)!.value.toString()).toBe('13');
    expect(effects).toHaveLength(1);
  });

  it('a new expiry goes into the same logged put; the result shows the expiry before it', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'k', '9', 100);
    const r = engine.metaDelta('k', true, 1n, T0, { ...noDeltaOptions, expiresAtMs: T0 + 300_000 });
    expect(r).toMatchObject({ status: 'VALUE', value: 10n, expiresAtMs: T0 + 100_000 });
    expect(effects).toHaveLength(2);
    expect(effects[1]).toMatchObject({ kind: 'put', value: bytes('10'), expiresAtMs: T0 + 300_000 });
  });

  it('a result that fits is rewritten in place and keeps the item\'s state; a longer one is a new item', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', '10');
    engine.metaGet('k', T0, false, undefined);
    engine.finishMetaGet('k', T0, { ...readOnly, bump: true, winToken: true });
    engine.metaDelta('k', false, 1n, T0, noDeltaOptions);
    expect(engine.inspect('k', T0)).toMatchObject({ fetched: true, tokenSent: true });
    expect(engine.peek('k', T0)!.value.toString()).toBe('9 ');
    set(engine, 'j', '9');
    engine.get('j', T0);
    engine.metaDelta('j', true, 1n, T0, noDeltaOptions);
    expect(engine.inspect('j', T0)!.fetched).toBe(false);
  });

  it('classic incr keeps working through the shared path', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', '18446744073709551615');
    expect(engine.delta('k', true, 1n, T0)).toMatchObject({ status: 'VALUE', value: 0n });
    expect(engine.delta('nope', true, 1n, T0).status).toBe('NOT_FOUND');
  });
});

describe('inspect (me)', () => {
  it('reports the slab class and memcached\'s total size, without counting or bumping', () => {
    const { engine } = recordingEngine();
    engine.store('set', 'kk', 5, 100, bytes('hi'), 0n, T0);
    const item = look(engine, 'kk', T0 + 2000);
    expect(item).toMatchObject({ slabClass: 1, totalBytes: 67, fetched: false, lastAccessMs: T0 });
    expect(engine.counters.cmdGet).toBe(0);
  });
});
