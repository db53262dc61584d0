// Example tests of the engine's memcached semantics (memcached 1.6 do_store_item,
// do_add_delta, process_update_command, flush_all) and of its effects: the
// numbered change records the WAL stores and recovery replays.

import { describe, expect, it } from 'vitest';
import { Engine, expiresAtFromExptime, itemTotalBytes } from '../../src/engine/engine.js';
import { chargedBytesFor } from '../../src/engine/slabs.js';
import type { Effect } from '../../src/engine/types.js';
import { T0, bytes, getAll, recordingEngine, replay, seqsOf, visibleState } from './helpers.js';

const DAY_S = 24 * 60 * 60;
const U64_MAX = (1n << 64n) - 1n;

function set(e: Engine, key: string, value: string, now = T0, flags = 0, exptime = 0) {
  return e.store('set', key, flags, exptime, bytes(value), 0n, now);
}
function valueOf(e: Engine, key: string, now = T0): string | undefined {
  return e.get(key, now)?.value.toString('latin1');
}

describe('storage commands', () => {
  it('set stores value, flags and a cas; get returns them', () => {
    const { engine } = recordingEngine();
    expect(set(engine, 'k', 'hello', T0, 4294967295).status).toBe('STORED');
    const it = engine.get('k', T0)!;
    expect(it.value.toString()).toBe('hello');
    expect(it.flags).toBe(4294967295);
    expect(it.expiresAtMs).toBe(0);
    expect(it.cas).toBeGreaterThan(0);
    expect(engine.get('other', T0)).toBeUndefined();
  });

  it('set overwrites and gives a new, larger cas', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'a');
    const cas1 = engine.get('k', T0)!.cas;
    set(engine, 'k', 'b', T0, 7);
    const it = engine.get('k', T0)!;
    expect(it.value.toString()).toBe('b');
    expect(it.flags).toBe(7);
    expect(it.cas).toBeGreaterThan(cas1);
  });

  it('add stores only when the key is missing (or expired)', () => {
    const { engine, effects } = recordingEngine();
    expect(engine.store('add', 'k', 1, 0, bytes('first'), 0n, T0).status).toBe('STORED');
    const n = effects.length;
    expect(engine.store('add', 'k', 2, 0, bytes('second'), 0n, T0).status).toBe('NOT_STORED');
    expect(effects.length).toBe(n); // a refused add logs nothing
    expect(valueOf(engine, 'k')).toBe('first');
    expect(engine.get('k', T0)!.flags).toBe(1);

    engine.store('set', 'e', 0, 10, bytes('old'), 0n, T0);
    expect(engine.store('add', 'e', 0, 0, bytes('new'), 0n, T0 + 10_000).status).toBe('STORED');
    expect(valueOf(engine, 'e', T0 + 10_000)).toBe('new');
  });

  it('replace stores only when the key exists', () => {
    const { engine } = recordingEngine();
    expect(engine.store('replace', 'k', 0, 0, bytes('x'), 0n, T0).status).toBe('NOT_STORED');
    expect(engine.get('k', T0)).toBeUndefined();
    set(engine, 'k', 'a');
    expect(engine.store('replace', 'k', 3, 0, bytes('b'), 0n, T0).status).toBe('STORED');
    expect(valueOf(engine, 'k')).toBe('b');
    expect(engine.get('k', T0)!.flags).toBe(3);
  });

  it('append/prepend need an existing item', () => {
    const { engine } = recordingEngine();
    expect(engine.store('append', 'k', 0, 0, bytes('x'), 0n, T0).status).toBe('NOT_STORED');
    expect(engine.store('prepend', 'k', 0, 0, bytes('x'), 0n, T0).status).toBe('NOT_STORED');
    expect(engine.get('k', T0)).toBeUndefined();
  });

  it('append/prepend concatenate and keep the old flags and exptime, with a new cas', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'mid', T0, 42, 100);
    const before = engine.get('k', T0)!;
    const expiresAtMs = before.expiresAtMs;
    const cas0 = before.cas;
    expect(expiresAtMs).toBe(T0 + 100_000);

    expect(engine.store('append', 'k', 9, 5, bytes('>>'), 0n, T0 + 1000).status).toBe('STORED');
    expect(engine.store('prepend', 'k', 9, 0, bytes('<<'), 0n, T0 + 2000).status).toBe('STORED');
    const it = engine.get('k', T0 + 2000)!;
    expect(it.value.toString()).toBe('<<mid>>');
    expect(it.flags).toBe(42);
    expect(it.expiresAtMs).toBe(expiresAtMs);
    expect(it.cas).toBeGreaterThan(cas0);
    // still expires when the original exptime says
    expect(engine.get('k', T0 + 100_000)).toBeUndefined();
  });

  it('append that would exceed the item size limit is NOT_STORED and changes nothing', () => {
    const { engine, effects } = recordingEngine({ itemSizeMaxBytes: 200 });
    const value = 'v'.repeat(200 - itemTotalBytes(1, 0, 0));
    set(engine, 'k', value);
    const n = effects.length;
    expect(engine.store('append', 'k', 0, 0, bytes('!'), 0n, T0).status).toBe('NOT_STORED');
    expect(engine.store('prepend', 'k', 0, 0, bytes('!'), 0n, T0).status).toBe('NOT_STORED');
    expect(effects.length).toBe(n);
    expect(valueOf(engine, 'k')).toBe(value);
  });

  describe('cas', () => {
    it('matching cas stores and changes the cas', () => {
      const { engine } = recordingEngine();
      set(engine, 'k', 'a');
      const cas = engine.get('k', T0)!.cas;
      expect(engine.store('cas', 'k', 5, 0, bytes('b'), BigInt(cas), T0).status).toBe('STORED');
      const it = engine.get('k', T0)!;
      expect(it.value.toString()).toBe('b');
      expect(it.flags).toBe(5);
      expect(it.cas).not.toBe(cas);
      // the old cas is now stale
      expect(engine.store('cas', 'k', 0, 0, bytes('c'), BigInt(cas), T0).status).toBe('EXISTS');
      expect(valueOf(engine, 'k')).toBe('b');
    });

    it('cas 0 on an existing item is EXISTS (memcached CAS_NONE)', () => {
      const { engine, effects } = recordingEngine();
      set(engine, 'k', 'a');
      const n = effects.length;
      expect(engine.store('cas', 'k', 0, 0, bytes('b'), 0n, T0).status).toBe('EXISTS');
      expect(effects.length).toBe(n);
      expect(valueOf(engine, 'k')).toBe('a');
    });

    it('a wrong cas is EXISTS; a missing or expired key is NOT_FOUND', () => {
      const { engine } = recordingEngine();
      set(engine, 'k', 'a', T0, 0, 5);
      const cas = engine.get('k', T0)!.cas;
      expect(engine.store('cas', 'k', 0, 0, bytes('b'), BigInt(cas) + 1n, T0).status).toBe('EXISTS');
      expect(engine.store('cas', 'k', 0, 0, bytes('b'), U64_MAX, T0).status).toBe('EXISTS');
      expect(engine.store('cas', 'nope', 0, 0, bytes('b'), 1n, T0).status).toBe('NOT_FOUND');
      expect(engine.store('cas', 'k', 0, 0, bytes('b'), BigInt(cas), T0 + 5000).status).toBe('NOT_FOUND');
      expect(engine.get('k', T0 + 5000)).toBeUndefined();
    });

    it('every modification gets a strictly larger cas; touch keeps it', () => {
      const { engine } = recordingEngine();
      const seen: number[] = [];
      const cas = () => engine.get('n', T0)!.cas;
      set(engine, 'n', '1'); seen.push(cas());
      engine.store('append', 'n', 0, 0, bytes('0'), 0n, T0); seen.push(cas());
      engine.delta('n', true, 1n, T0); seen.push(cas());
      engine.delta('n', false, 1n, T0); seen.push(cas());
      engine.store('replace', 'n', 0, 0, bytes('3'), 0n, T0); seen.push(cas());
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
      engine.touch('n', 100, T0);
      expect(cas()).toBe(seen[seen.length - 1]);
    });
  });

  it('delete removes; a second delete is NOT_FOUND', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'a');
    expect(engine.delete('k', T0).status).toBe('DELETED');
    expect(engine.get('k', T0)).toBeUndefined();
    expect(engine.delete('k', T0).status).toBe('NOT_FOUND');
  });
});

describe('incr / decr', () => {
  function counter(value: string) {
    const r = recordingEngine();
    set(r.engine, 'n', value);
    return r;
  }

  it('incr adds and decr subtracts', () => {
    const { engine } = counter('5');
    expect(engine.delta('n', true, 3n, T0)).toMatchObject({ status: 'VALUE', value: 8n });
    expect(valueOf(engine, 'n')).toBe('8');
    expect(engine.delta('n', false, 2n, T0)).toMatchObject({ status: 'VALUE', value: 6n });
    expect(valueOf(engine, 'n')).toBe('6');
    expect(engine.delta('n', true, 0n, T0)).toMatchObject({ status: 'VALUE', value: 6n });
  });

  it('incr wraps at 2^64 (the value keeps its length, space padded, like memcached in place)', () => {
    const { engine } = counter(U64_MAX.toString());
    expect(engine.delta('n', true, 1n, T0)).toMatchObject({ status: 'VALUE', value: 0n });
    expect(valueOf(engine, 'n')).toBe('0'.padEnd(20, ' '));
    const r2 = counter((U64_MAX - 1n).toString());
    expect(r2.engine.delta('n', true, 3n, T0)).toMatchObject({ status: 'VALUE', value: 1n });
    const r3 = counter('1');
    expect(r3.engine.delta('n', true, U64_MAX, T0)).toMatchObject({ status: 'VALUE', value: 0n });
  });

  it('decr stops at 0', () => {
    const { engine } = counter('5');
    expect(engine.delta('n', false, 10n, T0)).toMatchObject({ status: 'VALUE', value: 0n });
    expect(valueOf(engine, 'n')).toBe('0');
    expect(engine.delta('n', false, 1n, T0)).toMatchObject({ status: 'VALUE', value: 0n });
    const big = counter((1n << 63n).toString());
    expect(big.engine.delta('n', false, U64_MAX, T0)).toMatchObject({ status: 'VALUE', value: 0n });
  });

  it('decr "10" by 1 gives 9 stored as "9 " (memcached rewrites in place, space padded)', () => {
    const { engine } = counter('10');
    expect(engine.delta('n', false, 1n, T0)).toMatchObject({ status: 'VALUE', value: 9n });
    expect(valueOf(engine, 'n')).toBe('9 ');
    // the padded value still counts
    expect(engine.delta('n', true, 1n, T0)).toMatchObject({ status: 'VALUE', value: 10n });
    expect(valueOf(engine, 'n')).toBe('10');
    const wide = counter('1000');
    wide.engine.delta('n', false, 999n, T0);
    expect(valueOf(wide.engine, 'n')).toBe('1   ');
  });

  it('incr to a longer number grows the value', () => {
    const { engine } = counter('99');
    expect(engine.delta('n', true, 1n, T0)).toMatchObject({ status: 'VALUE', value: 100n });
    expect(valueOf(engine, 'n')).toBe('100');
    const r = counter('9');
    r.engine.delta('n', true, U64_MAX - 9n, T0);
    expect(valueOf(r.engine, 'n')).toBe(U64_MAX.toString());
  });

  it('accepts what safe_strtoull accepts: leading space, trailing space or NUL', () => {
    const a = counter(' 5');
    expect(a.engine.delta('n', true, 1n, T0)).toMatchObject({ status: 'VALUE', value: 6n });
    expect(valueOf(a.engine, 'n')).toBe('6 ');
    const b = counter('7 junk');
    expect(b.engine.delta('n', true, 1n, T0)).toMatchObject({ status: 'VALUE', value: 8n });
    expect(valueOf(b.engine, 'n')).toBe('8     ');
    const c = counter('12\0x');
    expect(c.engine.delta('n', true, 1n, T0)).toMatchObject({ status: 'VALUE', value: 13n });
    expect(valueOf(c.engine, 'n')).toBe('13  ');
  });

  it.each(['abc', '', '12abc', '-1', '-9223372036854775808', '18446744073709551616', '1.5', '0x10'])(
    'non-numeric value %j -> NON_NUMERIC, nothing changes',
    (value) => {
      const { engine, effects } = counter(value);
      const before = engine.get('n', T0)!;
      const cas = before.cas;
      const n = effects.length;
      expect(engine.delta('n', true, 1n, T0).status).toBe('NON_NUMERIC');
      expect(engine.delta('n', false, 1n, T0).status).toBe('NON_NUMERIC');
      expect(effects.length).toBe(n);
      expect(valueOf(engine, 'n')).toBe(value);
      expect(engine.get('n', T0)!.cas).toBe(cas);
    },
  );

  it('accepts -N where strtoull negation lands below 2^63 (C quirk)', () => {
    const { engine } = counter('-18446744073709551615'); // strtoull -> 1
    expect(engine.delta('n', true, 1n, T0)).toMatchObject({ status: 'VALUE', value: 2n });
  });

  it('missing key -> NOT_FOUND', () => {
    const { engine } = recordingEngine();
    expect(engine.delta('n', true, 1n, T0).status).toBe('NOT_FOUND');
    expect(engine.delta('n', false, 1n, T0).status).toBe('NOT_FOUND');
    expect(engine.get('n', T0)).toBeUndefined();
  });

  it('keeps flags and exptime', () => {
    const { engine } = recordingEngine();
    set(engine, 'n', '1', T0, 77, 60);
    engine.delta('n', true, 41n, T0 + 1000);
    const it = engine.get('n', T0 + 1000)!;
    expect(it.value.toString()).toBe('42');
    expect(it.flags).toBe(77);
    expect(it.expiresAtMs).toBe(T0 + 60_000);
    expect(engine.delta('n', true, 1n, T0 + 60_000).status).toBe('NOT_FOUND');
  });

  it('a growth that cannot get memory is NO_MEMORY (memcached EOM), not NON_NUMERIC, and keeps the old value', () => {
    // key of 35 bytes + "99" = 96 bytes total: exactly the first slab chunk. "100" needs the next class.
    const key = 'k'.repeat(35);
    expect(chargedBytesFor(itemTotalBytes(35, 2, 0))).toBe(96);
    expect(chargedBytesFor(itemTotalBytes(35, 3, 0))).toBeGreaterThan(96);
    for (const evictionsDisabled of [true, false]) {
      const { engine } = recordingEngine({ memoryLimitBytes: 96, evictionsDisabled });
      expect(set(engine, key, '99').status).toBe('STORED');
      expect(engine.delta(key, true, 1n, T0).status).toBe('NO_MEMORY');
      expect(valueOf(engine, key)).toBe('99');
      // shrinking or same length needs no new memory
      expect(engine.delta(key, false, 90n, T0)).toMatchObject({ status: 'VALUE', value: 9n });
      expect(valueOf(engine, key)).toBe('9 ');
    }
  });
});

describe('touch and gat', () => {
  it('touch sets a new exptime, keeps value and cas', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'v', T0, 3, 10);
    const cas = engine.get('k', T0)!.cas;
    expect(engine.touch('k', 100, T0 + 5000).status).toBe('TOUCHED');
    const it = engine.get('k', T0 + 50_000)!;
    expect(it.expiresAtMs).toBe(T0 + 105_000);
    expect(it.cas).toBe(cas);
    expect(it.flags).toBe(3);
    expect(it.value.toString()).toBe('v');
    expect(engine.get('k', T0 + 105_000)).toBeUndefined();
  });

  it('touch 0 makes an item permanent; a negative touch expires it now', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'v', T0, 0, 10);
    engine.touch('k', 0, T0);
    expect(engine.get('k', T0 + 365 * DAY_S * 1000)?.expiresAtMs).toBe(0);
    expect(engine.touch('k', -1, T0).status).toBe('TOUCHED');
    expect(engine.get('k', T0)).toBeUndefined();
  });

  it('touch of a missing or expired key is NOT_FOUND', () => {
    const { engine } = recordingEngine();
    expect(engine.touch('k', 10, T0).status).toBe('NOT_FOUND');
    set(engine, 'k', 'v', T0, 0, 1);
    expect(engine.touch('k', 10, T0 + 1000).status).toBe('NOT_FOUND');
  });

  it('gat (get with touchExptime) returns the item with its new expiry', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'k', 'v', T0, 0, 10);
    const it = engine.get('k', T0 + 1000, 60)!;
    expect(it.value.toString()).toBe('v');
    expect(it.expiresAtMs).toBe(T0 + 61_000);
    expect(effects.at(-1)).toMatchObject({ kind: 'touch', key: 'k', expiresAtMs: T0 + 61_000 });
    expect(engine.get('k', T0 + 30_000)).toBeDefined();
    expect(engine.get('missing', T0, 60)).toBeUndefined();
  });

  it('a plain get emits no effect', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'k', 'v');
    const n = effects.length;
    engine.get('k', T0);
    engine.get('missing', T0);
    expect(effects.length).toBe(n);
  });
});

describe('exptime', () => {
  it('expiresAtFromExptime follows memcached: 0 never, <= 30 days relative, larger absolute, negative expired', () => {
    expect(expiresAtFromExptime(0, T0)).toBe(0);
    expect(expiresAtFromExptime(1, T0)).toBe(T0 + 1000);
    expect(expiresAtFromExptime(30 * DAY_S, T0)).toBe(T0 + 30 * DAY_S * 1000);
    expect(expiresAtFromExptime(30 * DAY_S + 1, T0)).toBe((30 * DAY_S + 1) * 1000);
    expect(expiresAtFromExptime(T0 / 1000 + 50, T0)).toBe(T0 + 50_000);
    const neg = expiresAtFromExptime(-1, T0);
    expect(neg).toBeGreaterThan(0);
    expect(neg).toBeLessThanOrEqual(T0);
  });

  it('0 never expires', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'v', T0, 0, 0);
    expect(valueOf(engine, 'k', T0 + 10 * 365 * DAY_S * 1000)).toBe('v');
  });

  it('relative seconds: alive until the last ms, gone at the deadline', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'v', T0, 0, 10);
    expect(valueOf(engine, 'k', T0 + 9_999)).toBe('v');
    expect(valueOf(engine, 'k', T0 + 10_000)).toBeUndefined();
  });

  it('exactly 30 days is still relative; one more second is an absolute (long past) time', () => {
    const { engine } = recordingEngine();
    set(engine, 'rel', 'v', T0, 0, 30 * DAY_S);
    set(engine, 'abs', 'v', T0, 0, 30 * DAY_S + 1);
    expect(engine.get('rel', T0)?.expiresAtMs).toBe(T0 + 30 * DAY_S * 1000);
    expect(engine.get('abs', T0)).toBeUndefined();
  });

  it('an absolute unix time in the future expires then', () => {
    const { engine } = recordingEngine();
    const at = T0 / 1000 + 3600;
    set(engine, 'k', 'v', T0, 0, at);
    expect(engine.get('k', T0)?.expiresAtMs).toBe(at * 1000);
    expect(valueOf(engine, 'k', at * 1000 - 1)).toBe('v');
    expect(valueOf(engine, 'k', at * 1000)).toBeUndefined();
  });

  it('negative exptime: stored but already expired', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'old');
    expect(set(engine, 'k', 'v', T0, 0, -1).status).toBe('STORED');
    expect(engine.get('k', T0)).toBeUndefined();
    expect(engine.store('add', 'k', 0, 0, bytes('w'), 0n, T0).status).toBe('STORED');
    expect(valueOf(engine, 'k')).toBe('w');
  });

  it('expired items are not replaceable, appendable or deletable', () => {
    const { engine } = recordingEngine();
    set(engine, 'k', 'v', T0, 0, 1);
    const later = T0 + 1000;
    expect(engine.store('replace', 'k', 0, 0, bytes('x'), 0n, later).status).toBe('NOT_STORED');
    expect(engine.store('append', 'k', 0, 0, bytes('x'), 0n, later).status).toBe('NOT_STORED');
    expect(engine.delete('k', later).status).toBe('NOT_FOUND');
  });

  it('tick() sweeps expired items without effects', () => {
    const { engine, effects } = recordingEngine();
    for (let i = 0; i < 10; i++) set(engine, `k${i}`, 'v', T0, 0, i < 5 ? 1 : 0);
    const n = effects.length;
    engine.tick(T0 + 1000);
    expect(engine.itemCount).toBe(5);
    expect(effects.length).toBe(n);
  });
});

describe('flush_all', () => {
  it('immediate flush removes everything; later stores are kept', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'a', '1');
    set(engine, 'b', '2');
    const r = engine.flushAll(0, T0);
    expect(effects.at(-1)).toMatchObject({ kind: 'flush' });
    expect(r.seq).toBe(effects.at(-1)!.seq);
    expect(getAll(engine, ['a', 'b'], T0)).toEqual([undefined, undefined]);
    set(engine, 'c', '3');
    expect(valueOf(engine, 'c', T0 + 100_000)).toBe('3');
  });

  it('negative delay or an absolute time in the past flush now', () => {
    for (const delay of [-1, 30 * DAY_S + 1]) {
      const { engine } = recordingEngine();
      set(engine, 'a', '1');
      engine.flushAll(delay, T0);
      expect(engine.get('a', T0)).toBeUndefined();
      expect(engine.flushPendingAtMs).toBe(0);
    }
  });

  it('a delayed flush invalidates items stored before its deadline, including after the command', () => {
    const { engine } = recordingEngine();
    set(engine, 'before', '1');
    engine.flushAll(10, T0);
    expect(engine.flushPendingAtMs).toBe(T0 + 10_000);
    set(engine, 'after', '2', T0 + 5000);
    expect(getAll(engine, ['before', 'after'], T0 + 9_999).map((x) => x?.value)).toEqual(['1', '2']);
    expect(getAll(engine, ['before', 'after'], T0 + 10_000)).toEqual([undefined, undefined]);
    expect(engine.flushPendingAtMs).toBe(0);
    set(engine, 'late', '3', T0 + 11_000);
    expect(valueOf(engine, 'late', T0 + 20_000)).toBe('3');
  });

  it('the delayed flush fires for any command, not only get', () => {
    const { engine } = recordingEngine();
    set(engine, 'a', '1');
    engine.flushAll(10, T0);
    expect(engine.store('add', 'a', 0, 0, bytes('new'), 0n, T0 + 10_000).status).toBe('STORED');
    expect(valueOf(engine, 'a', T0 + 10_000)).toBe('new');
  });

  it('a later delayed flush_all replaces a pending one', () => {
    const { engine } = recordingEngine();
    set(engine, 'a', '1');
    engine.flushAll(10, T0);
    engine.flushAll(20, T0 + 1000);
    expect(valueOf(engine, 'a', T0 + 15_000)).toBe('1');
    expect(valueOf(engine, 'a', T0 + 21_000)).toBeUndefined();

    const r2 = recordingEngine();
    set(r2.engine, 'a', '1');
    r2.engine.flushAll(20, T0);
    r2.engine.flushAll(5, T0); // an earlier deadline also wins: newest call
    expect(valueOf(r2.engine, 'a', T0 + 5_000)).toBeUndefined();
  });

  it('an immediate flush_all cancels a pending delayed one', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'a', '1');
    engine.flushAll(10, T0);
    engine.flushAll(0, T0 + 1000);
    expect(engine.flushPendingAtMs).toBe(0);
    expect(effects.slice(-2)).toMatchObject([{ kind: 'flushAt', atMs: 0 }, { kind: 'flush' }]);
    set(engine, 'b', '2', T0 + 2000);
    expect(valueOf(engine, 'b', T0 + 30_000)).toBe('2');
  });
});

describe('memory limit', () => {
  // 'k1' + 10-byte value: 71 bytes, charged as one 96-byte chunk.
  const value10 = '0123456789';
  const chunk = chargedBytesFor(itemTotalBytes(2, 10, 0));

  it('evicts the least recently used item and logs a del for it', () => {
    const { engine, effects } = recordingEngine({ memoryLimitBytes: chunk * 3 });
    for (const k of ['k1', 'k2', 'k3']) set(engine, k, value10);
    expect(engine.chargedBytes).toBe(chunk * 3);
    const n = effects.length;
    expect(set(engine, 'k4', value10).status).toBe('STORED');
    expect(effects.slice(n)).toMatchObject([{ kind: 'del', key: 'k1' }, { kind: 'put', key: 'k4' }]);
    expect(engine.counters.evictions).toBe(1);
    expect(getAll(engine, ['k1', 'k2', 'k3', 'k4'], T0).map((x) => x?.key)).toEqual([undefined, 'k2', 'k3', 'k4']);
    expect(engine.chargedBytes).toBeLessThanOrEqual(chunk * 3);
  });

  it('a get makes an item recently used', () => {
    const { engine, effects } = recordingEngine({ memoryLimitBytes: chunk * 3 });
    for (const k of ['k1', 'k2', 'k3']) set(engine, k, value10);
    engine.get('k1', T0);
    const n = effects.length;
    set(engine, 'k4', value10);
    expect(effects.slice(n)).toMatchObject([{ kind: 'del', key: 'k2' }, { kind: 'put', key: 'k4' }]);
    expect(valueOf(engine, 'k1')).toBe(value10);
  });

  it('a replay of the effects does not bring evicted items back', () => {
    const { engine, effects } = recordingEngine({ memoryLimitBytes: chunk * 3 });
    for (let i = 0; i < 10; i++) set(engine, `k${i}`, value10);
    const replayed = replay(effects, { memoryLimitBytes: chunk * 3 });
    expect(visibleState(replayed, T0)).toEqual(visibleState(engine, T0));
    expect(replayed.itemCount).toBe(3);
  });

  it('with evictions disabled a store that does not fit is NO_MEMORY and evicts nothing', () => {
    const { engine, effects } = recordingEngine({ memoryLimitBytes: chunk * 3, evictionsDisabled: true });
    for (const k of ['k1', 'k2', 'k3']) set(engine, k, value10);
    const n = effects.length;
    expect(set(engine, 'k4', value10).status).toBe('NO_MEMORY');
    expect(engine.store('add', 'k4', 0, 0, bytes(value10), 0n, T0).status).toBe('NO_MEMORY');
    expect(effects.length).toBe(n);
    expect(engine.counters.evictions).toBe(0);
    expect(getAll(engine, ['k1', 'k2', 'k3', 'k4'], T0).map((x) => x?.key)).toEqual(['k1', 'k2', 'k3', undefined]);
    // a same-size overwrite frees what it replaces, so it fits
    expect(set(engine, 'k1', 'abcdefghij').status).toBe('STORED');
  });

  it('with evictions disabled an expired item is reclaimed to make room', () => {
    const { engine } = recordingEngine({ memoryLimitBytes: chunk * 2, evictionsDisabled: true });
    set(engine, 'k1', value10, T0, 0, 1);
    set(engine, 'k2', value10);
    expect(set(engine, 'k3', value10, T0 + 1000).status).toBe('STORED');
  });

  it('a set that fails for memory deletes the old item (memcached: no stale value); replace does not', () => {
    const big = 'x'.repeat(100); // needs a larger chunk than the one k1 holds
    const { engine, effects } = recordingEngine({ memoryLimitBytes: chunk * 2, evictionsDisabled: true });
    set(engine, 'k1', value10);
    set(engine, 'k2', value10);
    expect(engine.store('replace', 'k1', 0, 0, bytes(big), 0n, T0).status).toBe('NO_MEMORY');
    expect(valueOf(engine, 'k1')).toBe(value10);
    const n = effects.length;
    const r = set(engine, 'k1', big);
    expect(r.status).toBe('NO_MEMORY');
    expect(effects.slice(n)).toMatchObject([{ kind: 'del', key: 'k1' }]);
    expect(r.seq).toBe(effects.at(-1)!.seq);
    expect(engine.get('k1', T0)).toBeUndefined();
    expect(visibleState(replay(effects), T0)).toEqual(visibleState(engine, T0));
  });
});

describe('rejectTooLarge', () => {
  it('set: deletes the old item and logs the del', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'k', 'old');
    const r = engine.rejectTooLarge('set', 'k', T0);
    expect(r.status).toBe('TOO_LARGE');
    expect(effects.at(-1)).toMatchObject({ kind: 'del', key: 'k' });
    expect(r.seq).toBe(effects.at(-1)!.seq);
    expect(engine.get('k', T0)).toBeUndefined();
  });

  it('add (and others): the old item stays, nothing is logged', () => {
    for (const mode of ['add', 'replace', 'append', 'prepend', 'cas'] as const) {
      const { engine, effects } = recordingEngine();
      set(engine, 'k', 'old');
      const n = effects.length;
      expect(engine.rejectTooLarge(mode, 'k', T0).status).toBe('TOO_LARGE');
      expect(effects.length).toBe(n);
      expect(valueOf(engine, 'k')).toBe('old');
    }
  });

  it('set of a missing key logs nothing', () => {
    const { engine, effects } = recordingEngine();
    engine.rejectTooLarge('set', 'k', T0);
    expect(effects).toEqual([]);
  });
});

describe('effects, seqs and replay', () => {
  /** A mixed workload touching every kind of effect. */
  function workload(): { engine: Engine; effects: Effect[]; keys: string[]; end: number } {
    const chunk = chargedBytesFor(itemTotalBytes(2, 10, 0));
    const { engine, effects } = recordingEngine({ memoryLimitBytes: chunk * 6 });
    let t = T0;
    set(engine, 'k1', '10', t, 5, 100);
    set(engine, 'k2', 'hello', t, 0, 0);
    engine.store('append', 'k2', 0, 0, bytes(' world'), 0n, t);
    engine.store('prepend', 'k1', 0, 0, bytes('2'), 0n, t); // "210"
    engine.delta('k1', false, 200n, t); // "10 "
    engine.delta('k1', true, 1n, t);
    engine.store('cas', 'k2', 1, 0, bytes('swapped'), BigInt(engine.get('k2', t)!.cas), t);
    engine.touch('k2', 50, t);
    engine.get('k2', t, 500); // gat
    set(engine, 'k3', 'gone soon', t, 0, 2);
    set(engine, 'k4', 'to delete', t);
    engine.delete('k4', t);
    engine.rejectTooLarge('set', 'k3', t);
    for (let i = 0; i < 8; i++) set(engine, `e${i}`, '0123456789', t); // evictions
    t += 3000;
    engine.flushAll(10, t);
    set(engine, 'k5', 'pre-deadline', t);
    t += 10_000;
    engine.tick(t); // fires the delayed flush
    set(engine, 'k6', 'post-flush', t, 9, 60);
    engine.flushAll(100, t); // left pending
    set(engine, 'k7', 'pending', t);
    engine.delta('k7', true, 1n, t); // NON_NUMERIC, no effect
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', ...Array.from({ length: 8 }, (_, i) => `e${i}`)];
    return { engine, effects, keys, end: t };
  }

  it('effects are numbered 1, 2, 3, ... and lastSeq is the last one', () => {
    const { engine, effects } = workload();
    expect(effects.length).toBeGreaterThan(20);
    expect(seqsOf(effects)).toEqual(effects.map((_, i) => i + 1));
    expect(engine.lastSeq).toBe(effects.length);
    const kinds = new Set(effects.map((e) => e.kind));
    expect([...kinds].sort()).toEqual(['del', 'flush', 'flushAt', 'put', 'touch']);
  });

  it('replaying the effects into a fresh engine gives the same visible state', () => {
    const { engine, effects, keys, end } = workload();
    const replayed = replay(effects, { memoryLimitBytes: engine.memoryLimitBytes });
    for (const t of [end, end + 59_999, end + 60_000, end + 100_000, end + 200_000]) {
      expect(visibleState(replayed, t)).toEqual(visibleState(engine, t));
    }
    // and what clients would read, including a pending flush firing
    for (const t of [end, end + 60_000, end + 100_000]) {
      expect(getAll(replayed, keys, t)).toEqual(getAll(engine, keys, t));
    }
  });

  it('replay is idempotent: applying every effect twice changes nothing', () => {
    const { engine, effects, end } = workload();
    const twice = replay([...effects, ...effects]);
    expect(visibleState(twice, end).items).toEqual(visibleState(engine, end).items);
    const pairwise = replay(effects.flatMap((e) => [e, e]));
    expect(visibleState(pairwise, end)).toEqual(visibleState(engine, end));
  });

  it('a replayed engine continues with fresh cas values and seqs', () => {
    const { engine, effects, end } = workload();
    const log: Effect[] = [];
    const replayed = new Engine({ memoryLimitBytes: 1 << 20, itemSizeMaxBytes: 1 << 20, evictionsDisabled: false }, (e) => log.push(e));
    for (const e of effects) replayed.applyEffect(e);
    expect(log).toEqual([]); // replay emits nothing
    const maxCas = Math.max(...[...engine.dump(end)].map(([, it]) => it.cas));
    replayed.store('set', 'new', 0, 0, bytes('x'), 0n, end);
    expect(replayed.get('new', end)!.cas).toBeGreaterThan(maxCas);
    expect(log[0]!.seq).toBe(effects.length + 1);
  });

  it('a delayed flush that already fired is not fired again after replay', () => {
    const { engine, effects } = recordingEngine();
    set(engine, 'a', '1');
    engine.flushAll(10, T0);
    expect(engine.get('a', T0 + 10_000)).toBeUndefined(); // fires; logs a flush
    set(engine, 'b', '2', T0 + 11_000);
    const replayed = replay(effects);
    expect(replayed.flushPendingAtMs).toBe(0);
    expect(valueOf(replayed, 'b', T0 + 12_000)).toBe('2');
  });

  it('result seqs: STORED/VALUE/TOUCHED/DELETED carry their effect seq; misses carry removalSeq', () => {
    const { engine, effects } = recordingEngine();
    const last = () => effects.at(-1)!;

    const stored = set(engine, 'a', '1');
    expect(last()).toMatchObject({ kind: 'put', key: 'a' });
    expect(stored.seq).toBe(last().seq);

    const appended = engine.store('append', 'a', 0, 0, bytes('0'), 0n, T0);
    expect(appended.seq).toBe(last().seq);
    expect(last()).toMatchObject({ kind: 'put', key: 'a' });
    expect((last() as Extract<Effect, { kind: 'put' }>).value.toString()).toBe('10');

    const incr = engine.delta('a', true, 5n, T0);
    expect(incr).toMatchObject({ status: 'VALUE', value: 15n, seq: last().seq });
    expect(last()).toMatchObject({ kind: 'put', key: 'a' });

    const touched = engine.touch('a', 100, T0);
    expect(touched).toEqual({ status: 'TOUCHED', seq: last().seq });
    expect(last()).toMatchObject({ kind: 'touch', key: 'a', expiresAtMs: T0 + 100_000 });

    // a refused add reflects the item it saw
    expect(engine.store('add', 'a', 0, 0, bytes('x'), 0n, T0)).toEqual({ status: 'NOT_STORED', seq: last().seq });

    set(engine, 'b', '2');
    const deleted = engine.delete('b', T0);
    expect(last()).toMatchObject({ kind: 'del', key: 'b' });
    expect(deleted).toEqual({ status: 'DELETED', seq: last().seq });
    expect(engine.removalSeq).toBe(last().seq);

    set(engine, 'c', '3'); // removalSeq stays at the delete
    const removal = engine.removalSeq;
    expect(removal).toBe(deleted.seq);
    expect(engine.delete('b', T0)).toEqual({ status: 'NOT_FOUND', seq: removal });
    expect(engine.touch('b', 1, T0)).toEqual({ status: 'NOT_FOUND', seq: removal });
    expect(engine.delta('b', true, 1n, T0)).toEqual({ status: 'NOT_FOUND', seq: removal });
    expect(engine.store('replace', 'b', 0, 0, bytes('x'), 0n, T0)).toEqual({ status: 'NOT_STORED', seq: removal });
    expect(engine.store('cas', 'b', 0, 0, bytes('x'), 1n, T0)).toEqual({ status: 'NOT_FOUND', seq: removal });

    const flushed = engine.flushAll(0, T0);
    expect(last()).toMatchObject({ kind: 'flush' });
    expect(flushed.seq).toBe(last().seq);
    expect(engine.removalSeq).toBe(last().seq);
    expect(engine.delete('a', T0)).toEqual({ status: 'NOT_FOUND', seq: flushed.seq });
  });

  it('restore from an image that holds a key twice keeps the later line and counts the key once', async () => {
    const lines: Array<[string, string, number]> = [['a', 'first', 1], ['b', 'bee', 2], ['a', 'second-longer', 3]];
    const engine = new Engine({ memoryLimitBytes: 1 << 20, itemSizeMaxBytes: 1 << 20, evictionsDisabled: false }, () => {});
    await engine.restore({
      forEachItem: (visit) => {
        for (const [key, value, cas] of lines) {
          const k = bytes(key);
          const v = bytes(value);
          visit(k, 0, k.length, v, 0, v.length, 0, 0, cas);
        }
      },
      nextCas: 1, lastSeq: 7, pendingFlushAtMs: 0,
    });
    expect(visibleState(engine, T0).items).toEqual([
      { key: 'a', value: 'second-longer', flags: 0, cas: 3, expiresAtMs: 0 },
      { key: 'b', value: 'bee', flags: 0, cas: 2, expiresAtMs: 0 },
    ]);
    const single = new Engine({ memoryLimitBytes: 1 << 20, itemSizeMaxBytes: 1 << 20, evictionsDisabled: false }, () => {});
    single.store('set', 'a', 0, 0, bytes('second-longer'), 0n, T0);
    single.store('set', 'b', 0, 0, bytes('bee'), 0n, T0);
    expect(engine.itemCount).toBe(2);
    expect(engine.chargedBytes).toBe(single.chargedBytes);
    expect(engine.bytes).toBe(single.bytes);
  });
});
