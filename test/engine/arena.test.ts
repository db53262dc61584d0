// ValueArena and ItemTable: random allocation/release sequences against a
// plain model; every live value must read back byte for byte after every
// step (a chunk handed out twice, or a write into the wrong page, shows up as
// a corrupted neighbour), and a scan must meet each key at most once.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValueArena } from '../../src/engine/arena.js';
import { ItemTable } from '../../src/engine/table.js';

const chunk_max = 512 * 1024;
/** Lengths around the arena's class edges, including values above the largest chunk. */
const lengthArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(7, 8, 9, 127, 128, 129, 160, 161, chunk_max - 1, chunk_max, chunk_max + 1, 700_000),
);

function filled(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

function readBack(arena: ValueArena, address: number, length: number): Buffer {
  const at = arena.offsetOf(address);
  return Buffer.from(arena.bufferOf(address).subarray(at, at + length));
}

describe('ValueArena', () => {
  it('keeps every live value intact through random alloc/release (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(lengthArb.map((length) => ({ op: 'alloc' as const, length })), fc.nat().map((pick) => ({ op: 'free' as const, pick }))), { maxLength: 120 }),
      (ops) => {
        const arena = new ValueArena();
        const live: Array<{ address: number; value: Buffer }> = [];
        ops.forEach((o, n) => {
          if (o.op === 'alloc') {
            const value = filled(o.length, n);
            const address = arena.alloc(value.length);
            arena.write(address, value, 0, value.length);
            live.push({ address, value });
          } else if (live.length > 0) {
            const [gone] = live.splice(o.pick % live.length, 1);
            arena.release(gone!.address, gone!.value.length);
          }
          for (const { address, value } of live) expect(readBack(arena, address, value.length).equals(value)).toBe(true);
        });
        const addresses = live.map((l) => l.address);
        expect(new Set(addresses).size).toBe(addresses.length);
      },
    ), { numRuns: 150 });
  });

  it('reuses a released chunk of the same class before taking a new page', () => {
    const arena = new ValueArena();
    const a = arena.alloc(50);
    const pages = arena.reservedBytes;
    arena.release(a, 50);
    expect(arena.alloc(49)).toBe(a);
    expect(arena.reservedBytes).toBe(pages);
  });

  it('a page whose chunks are all released is reused by another size class', () => {
    const arena = new ValueArena();
    const small = Array.from({ length: 20_000 }, () => arena.alloc(40)); // 48-byte chunks: ~1 page
    const reserved = arena.reservedBytes;
    for (const a of small) arena.release(a, 40);
    expect(arena.pooledPages).toBe(reserved / (1024 * 1024));
    const big = Array.from({ length: 1500 }, (_, i) => {
      const a = arena.alloc(600);
      arena.write(a, filled(600, i), 0, 600);
      return a;
    });
    expect(arena.reservedBytes).toBe(reserved); // no new page: the pooled ones were carved again
    big.forEach((a, i) => expect(readBack(arena, a, 600).equals(filled(600, i))).toBe(true));
  });

  it('copyOut gives a copy that a later reuse of the chunk does not change', () => {
    const arena = new ValueArena();
    const a = arena.alloc(5);
    arena.write(a, Buffer.from('hello'), 0, 5);
    const copy = arena.copyOut(a, 5);
    arena.release(a, 5);
    const b = arena.alloc(5);
    arena.write(b, Buffer.from('world'), 0, 5);
    expect(copy.toString()).toBe('hello');
  });
});

describe('ItemTable scans', () => {
  type Op = { op: 'set' | 'del'; key: number; v: number } | { op: 'step'; n: number } | { op: 'clear' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constantFrom('set' as const, 'del' as const), key: fc.integer({ min: 0, max: 7 }), v: fc.nat(1000) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('step' as const), n: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  );

  /** Table operations as the engine does them: a key keeps its slot while it lives. */
  function apply(t: ItemTable, op: Op, model: Map<string, string>): void {
    if (op.op === 'clear') { t.clear(); model.clear(); return; }
    if (op.op === 'step') return;
    const key = `k${op.key}`;
    const slot = t.slotOf(key);
    if (op.op === 'set') {
      const value = Buffer.from(`v${op.v}`);
      if (slot >= 0) t.replaceValue(slot, value, 0, value.length);
      else t.insert(key, value, 0, value.length);
      model.set(key, value.toString());
    } else if (slot >= 0) {
      t.remove(slot);
      model.delete(key);
    }
  }

  it('meets each key at most once, every key live throughout the scan exactly once, in a state it had (property)', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 30 }), fc.array(opArb, { maxLength: 60 }), (before, during) => {
      const t = new ItemTable(4);
      const model = new Map<string, string>();
      for (const op of before) apply(t, op, model);
      const limit = t.openScan();
      const statesSeen = new Map<string, Set<string>>();
      for (const [k, v] of model) statesSeen.set(k, new Set([v]));
      const untouched = new Set(model.keys());
      const visits = new Map<string, string[]>();
      let cursor = 0;
      const step = (n: number) => {
        for (const end = Math.min(limit, cursor + n); cursor < end; cursor++) {
          if (!t.isLive(cursor)) continue;
          const key = t.keyOf(cursor);
          const at = t.valueStart(cursor);
          const value = t.valueBuffer(cursor).toString('latin1', at, at + t.valueLength(cursor));
          visits.set(key, [...(visits.get(key) ?? []), value]);
        }
      };
      for (const op of during) {
        if (op.op === 'step') step(op.n);
        else {
          apply(t, op, model);
          if (op.op === 'clear') untouched.clear();
          else untouched.delete(`k${op.key}`);
          for (const [k, v] of model) statesSeen.set(k, (statesSeen.get(k) ?? new Set()).add(v));
        }
      }
      step(limit);
      t.closeScan();
      for (const [key, values] of visits) {
        expect(values.length, `${key} visited ${values.length} times`).toBe(1);
        expect(statesSeen.get(key)?.has(values[0]!), `${key}=${values[0]} was never its state`).toBe(true);
      }
      for (const key of untouched) expect(visits.has(key), `${key} was live throughout but not visited`).toBe(true);
      // After the scan, the table still matches the model.
      expect(t.size).toBe(model.size);
      for (const [k, v] of model) {
        const slot = t.slotOf(k);
        const at = t.valueStart(slot);
        expect(t.valueBuffer(slot).toString('latin1', at, at + t.valueLength(slot))).toBe(v);
      }
    }), { numRuns: 1000 });
  });

  it('a key deleted and stored again mid-scan does not land in a slot the scan has yet to visit', () => {
    const t = new ItemTable(4);
    const v = Buffer.from('v');
    for (const k of ['k0', 'k1', 'k2', 'k3']) t.insert(k, v, 0, 1);
    t.remove(t.slotOf('k3')); // slot 3 is free before the scan starts
    const limit = t.openScan();
    const seen: string[] = [];
    const visit = (slot: number) => { if (t.isLive(slot)) seen.push(t.keyOf(slot)); };
    visit(0);
    t.remove(t.slotOf('k0'));
    t.insert('k5', v, 0, 1);
    t.insert('k0', v, 0, 1); // must not take slot 3
    for (let slot = 1; slot < limit; slot++) visit(slot);
    t.closeScan();
    expect(seen).toEqual(['k0', 'k1', 'k2']);
  });

  it('finds every key after random inserts and removals across index growth (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 })), { maxLength: 4000 }), (ops) => {
      const t = new ItemTable(4);
      const model = new Map<string, number>();
      const value = Buffer.from('v');
      for (const [add, n] of ops) {
        const key = `key:${n}`;
        const slot = t.slotOf(key);
        expect(slot >= 0).toBe(model.has(key));
        if (add && slot < 0) model.set(key, t.insert(key, value, 0, 1));
        if (!add && slot >= 0) { t.remove(slot); model.delete(key); }
      }
      expect(t.size).toBe(model.size);
      for (const [key, slot] of model) {
        expect(t.slotOf(key)).toBe(slot);
        expect(t.keyOf(slot)).toBe(key);
      }
      for (let n = 0; n <= 3000; n++) if (!model.has(`key:${n}`)) expect(t.slotOf(`key:${n}`)).toBe(-1);
    }), { numRuns: 40 });
  });

  it('replaceValue keeps every item\'s key and value, whether the new value fits the old chunk or not (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), lengthArb), { maxLength: 60 }), (ops) => {
      const t = new ItemTable(4);
      const model = new Map<string, Buffer>();
      ops.forEach(([k, length], n) => {
        const key = `k${k}`;
        const value = filled(length, n);
        const slot = t.slotOf(key);
        if (slot < 0) t.insert(key, value, 0, value.length);
        else t.replaceValue(slot, value, 0, value.length);
        model.set(key, value);
        for (const [mk, mv] of model) {
          const s = t.slotOf(mk);
          expect(t.keyOf(s)).toBe(mk);
          expect(t.valueCopy(s).equals(mv)).toBe(true);
        }
      });
    }), { numRuns: 100 });
  });

  it('replaceValue rewrites the chunk in place when the new value is of the same size class, else moves it', () => {
    const t = new ItemTable(4);
    const slot = t.insert('key', filled(50, 1), 0, 50);
    const chunk = t.chunk(slot);
    t.replaceValue(slot, filled(52, 2), 0, 52); // 3 + 52 bytes: the same 56-byte class as 3 + 50
    expect(t.chunk(slot)).toBe(chunk);
    expect(t.valueCopy(slot).equals(filled(52, 2))).toBe(true);
    t.replaceValue(slot, filled(100, 3), 0, 100);
    expect(t.chunk(slot)).not.toBe(chunk);
    expect(t.valueCopy(slot).equals(filled(100, 3))).toBe(true);
    expect(t.keyOf(slot)).toBe('key');
  });

  it('a bulk load finds every key, keeps the later of two slots with one key, and stays a working index (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 300 })), { maxLength: 1500 }),
      fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 3 }),
      (lines, expected, before) => {
        const t = new ItemTable(4);
        // a table that held items and was cleared, as restore's is
        for (let n = 0; n < before; n++) t.insert(`old${n}`, Buffer.from('o'), 0, 1);
        t.clear();
        t.beginBulkLoad(expected); // the expected count may be wrong either way
        const last = new Map<string, { slot: number; value: Buffer }>();
        const dropped: number[] = [];
        lines.forEach(([k, length], n) => {
          const key = Buffer.from(`key:${k}`, 'latin1');
          const value = filled(length, n);
          const slot = t.appendBytes(key, 0, key.length, value, 0, value.length);
          last.set(`key:${k}`, { slot, value });
        });
        t.finishBulkLoad((slot) => dropped.push(slot));
        expect(t.size).toBe(last.size);
        expect(dropped.length).toBe(lines.length - last.size);
        for (const [key, { slot, value }] of last) {
          expect(t.slotOf(key)).toBe(slot);
          expect(t.keyOf(slot)).toBe(key);
          expect(t.valueCopy(slot).equals(value)).toBe(true);
        }
        expect(dropped.every((slot) => !t.isLive(slot))).toBe(true);
        // recency: the keys in the order of their last line
        const order: string[] = [];
        for (let s = t.head; s !== -1; s = t.next(s)) order.push(t.keyOf(s));
        expect(order).toEqual([...last.entries()].sort((x, y) => x[1].slot - y[1].slot).map(([key]) => key));
        // the index keeps working: remove half, insert more, every lookup right
        const keys = [...last.keys()];
        keys.forEach((key, n) => { if (n % 2 === 0) t.remove(t.slotOf(key)); });
        for (let n = 0; n < 50; n++) if (t.slotOf(`new${n}`) < 0) t.insert(`new${n}`, Buffer.from('n'), 0, 1);
        keys.forEach((key, n) => expect(t.slotOf(key) >= 0).toBe(n % 2 === 1));
        for (let n = 0; n < 50; n++) expect(t.keyOf(t.slotOf(`new${n}`))).toBe(`new${n}`);
      },
    ), { numRuns: 60 });
  });

  it('a bulk load large enough to index in many groups of home buckets finds every key, the later of duplicates', () => {
    const t = new ItemTable(4);
    t.beginBulkLoad(30_000);
    const last = new Map<string, number>();
    for (let n = 0; n < 30_000; n++) {
      const key = Buffer.from(`k${(n * 7919) % 25_000}`, 'latin1'); // 5,000 keys twice
      last.set(key.toString('latin1'), t.appendBytes(key, 0, key.length, key, 0, key.length));
    }
    let dropped = 0;
    t.finishBulkLoad(() => { dropped++; });
    expect(dropped).toBe(5_000);
    expect(t.size).toBe(25_000);
    for (const [key, slot] of last) expect(t.slotOf(key)).toBe(slot);
  });

  it('a bulk load needs an empty table', () => {
    const t = new ItemTable(4);
    t.insert('a', Buffer.from('v'), 0, 1);
    expect(() => t.beginBulkLoad(10)).toThrow(/empty table/);
  });

  it('keeps the recency list in use order', () => {
    const t = new ItemTable(2);
    const one = Buffer.from('x');
    const slots = ['a', 'b', 'c'].map((k) => t.insert(k, one, 0, 1));
    t.moveToMostRecent(slots[0]!);
    t.remove(slots[1]!);
    const order: string[] = [];
    for (let s = t.head; s !== -1; s = t.next(s)) order.push(t.keyOf(s));
    expect(order).toEqual(['c', 'a']);
    expect(t.keyOf(t.tail)).toBe('a');
  });
});
