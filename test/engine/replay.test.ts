// Engine.replayPut (WAL replay of a put from key and value bytes) against
// applyEffect of the same put: over random logs, both must leave exactly the
// same engine: items and their fields, recency order, byte and slab-class
// accounting, CAS counter and sequence numbers.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Engine } from '../../src/engine/engine.js';
import type { Effect } from '../../src/engine/types.js';
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
