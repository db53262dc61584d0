// Engine.replayPut (WAL replay of a put from key and value bytes) against
// applyEffect of the same put: over random logs, both must leave exactly the
// same engine: items and their fields, recency order, byte and slab-class
// accounting, CAS counter and sequence numbers.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Engine } from '../../src/engine/engine.js';
import type { Effect, EngineImage } from '../../src/engine/types.js';
import { engineState, recordingEngine } from './helpers.js';

const max_u64_safe = Number.MAX_SAFE_INTEGER;

/** Replays a put through replayPut, from a buffer where the key and value sit at odd offsets among other bytes. */
function replayPutFromBytes(engine: Engine, e: Effect & { kind: 'put' }): void {
  const key = Buffer.from(e.key, 'latin1');
  const buf = Buffer.concat([Buffer.from('xyz'), key, Buffer.from('--'), e.value, Buffer.from('!')]);
  const keyStart = 3;
  const valueStart = keyStart + key.length + 2;
  engine.replayPut(buf, keyStart, keyStart + key.length, buf, valueStart, valueStart + e.value.length, e.flags, e.expiresAtMs, e.cas, e.seq);
}

const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'c', 'key:000000000001', 'k\xe9\xff') }, // duplicates are the point
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(250), '\x00\r\n ') },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')) },
);
const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 120 }) },
  { weight: 2, arbitrary: fc.integer({ min: 121, max: 3000 }).map((n) => new Uint8Array(n).fill(n & 0xff)) },
  // above the arena's largest chunk: a big value of its own
  { weight: 1, arbitrary: fc.constantFrom(600 * 1024, 0).map((n) => new Uint8Array(n).fill(7)) },
).map((b) => Buffer.from(b));
const numberArb = fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, max_u64_safe), fc.integer({ min: 0, max: 2_000_000_000_000 }));

type Step =
  | { kind: 'put'; key: string; value: Buffer; flags: number; expiresAtMs: number; cas: number }
  | { kind: 'del'; key: string }
  | { kind: 'touch'; key: string; expiresAtMs: number }
  | { kind: 'flush' }
  | { kind: 'flushAt'; atMs: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('put' as const), key: keyArb, value: valueArb, flags: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff })), expiresAtMs: numberArb, cas: numberArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('del' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('touch' as const), key: keyArb, expiresAtMs: numberArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flushAt' as const), atMs: numberArb }) },
);

/** Numbers the steps as a log does: seq 1, 2, 3, ... */
function toEffects(steps: Step[]): Effect[] {
  return steps.map((s, i) => ({ ...s, seq: i + 1 }) as Effect);
}

describe('Engine.replayPut', () => {
  it('leaves exactly the state applyEffect of the same put leaves, over random logs', () => {
    fc.assert(fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
      const effects = toEffects(steps);
      const viaEffects = recordingEngine();
      const viaBytes = recordingEngine();
      for (const e of effects) {
        viaEffects.engine.applyEffect(e);
        if (e.kind === 'put') replayPutFromBytes(viaBytes.engine, e);
        else viaBytes.engine.applyEffect(e);
      }
      expect(engineState(viaBytes.engine)).toEqual(engineState(viaEffects.engine));
      expect(viaBytes.effects).toEqual([]); // replay emits nothing
    }), { numRuns: 300 });
  });

  it('keeps its own copy of the value and key bytes', () => {
    const { engine } = recordingEngine();
    const buf = Buffer.from('keyvalue');
    engine.replayPut(buf, 0, 3, buf, 3, 8, 5, 0, 10, 1);
    buf.fill(0);
    expect(engine.peek('key', 0)).toMatchObject({ value: Buffer.from('value'), flags: 5, cas: 10, seq: 1 });
  });

  it('continues the CAS counter above the largest CAS replayed, and lastSeq at the newest record', () => {
    const { engine } = recordingEngine();
    const buf = Buffer.from('kv');
    engine.replayPut(buf, 0, 1, buf, 1, 2, 0, 0, 41, 7);
    engine.replayPut(buf, 0, 1, buf, 1, 2, 0, 0, 3, 8);
    expect(engine.casNext).toBe(42);
    expect(engine.lastSeq).toBe(8);
    const stored = engine.store('set', 'other', 0, 0, Buffer.from('v'), 0n, 0);
    expect(stored).toMatchObject({ status: 'STORED', cas: 42, seq: 9 });
  });
});

describe('Engine.restore (a bulk load: items appended, indexed at the end)', () => {
  const itemArb = fc.record({
    key: keyArb,
    value: fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
    flags: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff })),
    expiresAtMs: numberArb,
    cas: numberArb,
  });

  it('leaves the state that linking each item in turn leaves (a later line with a key replaces the earlier), over random images (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(itemArb, { maxLength: 80 }), fc.boolean(), fc.boolean(), async (items, counted, async) => {
      const image: EngineImage = {
        forEachItem: async (visit) => {
          for (const it of items) {
            if (async) await Promise.resolve();
            const key = Buffer.from(it.key, 'latin1');
            visit(key, 0, key.length, it.value, 0, it.value.length, it.flags, it.expiresAtMs, it.cas);
          }
        },
        itemCount: counted ? items.length : undefined,
        nextCas: 5, lastSeq: 1000, pendingFlushAtMs: 0,
      };
      const restored = recordingEngine();
      restored.engine.store('set', 'before', 0, 0, Buffer.from('gone'), 0n, 0); // restore replaces everything
      await restored.engine.restore(image);
      // the reference: each item linked in turn, as a put replayed at the image's sequence
      const reference = recordingEngine();
      reference.engine.store('set', 'before', 0, 0, Buffer.from('gone'), 0n, 0);
      reference.engine.applyEffect({ kind: 'del', seq: 2, key: 'before' });
      for (const it of items) replayPutFromBytes(reference.engine, { kind: 'put', seq: 1000, ...it });
      reference.engine.applyEffect({ kind: 'flushAt', seq: 1000, atMs: 0 });
      const state = engineState(restored.engine) as { visible: { casNext: number; removalSeq: number } };
      const expected = engineState(reference.engine) as { visible: { casNext: number; removalSeq: number } };
      expected.visible.casNext = Math.max(expected.visible.casNext, 5); // the image's nextCas
      expected.visible.removalSeq = 1000;
      expect(state).toEqual(expected);
      // the index works: every key can be deleted once
      for (const key of new Set(items.map((it) => it.key))) expect(restored.engine.delete(key, 0).status).toBe('DELETED');
      expect(restored.engine.itemCount).toBe(0);
    }), { numRuns: 200 });
  });

  it('an image that fails part way leaves an indexed, consistent engine', async () => {
    const { engine } = recordingEngine();
    const bad: EngineImage = {
      forEachItem: (visit) => {
        const k = Buffer.from('k');
        visit(k, 0, 1, Buffer.from('v'), 0, 1, 0, 0, 1);
        throw new Error('checksum mismatch');
      },
      nextCas: 1, lastSeq: 3, pendingFlushAtMs: 0,
    };
    await expect(engine.restore(bad)).rejects.toThrow('checksum mismatch');
    expect(engine.peek('k', 0)?.value.toString()).toBe('v');
    expect(engine.delete('k', 0).status).toBe('DELETED');
  });
});
