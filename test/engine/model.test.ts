// Model-based test: random operation sequences run against the engine and
// against a plain Map model with a fake clock; after every operation the
// engine's answer and its whole visible state must equal the model's. At the
// end, a fresh engine rebuilt from the emitted effects alone must show the
// same state (the property WAL recovery relies on).
//
// The model is written from memcached's documented rules, not from the engine:
// exptime (0 never, <= 30 days relative, larger absolute, negative = expired),
// safe_strtoull for incr/decr, 2^64 wrap, decr floor 0, in-place space padding,
// cas changes on every modification, flush_all [delay] where the newest call
// wins. Memory is large so eviction does not interfere (see engine.test.ts).
//
// fast-check prints the seed and the shrunk counterexample on failure; rerun
// with fc.assert(..., { seed, path }) to reproduce.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Engine } from '../../src/engine/engine.js';
import type { Effect, StoreMode } from '../../src/engine/types.js';
import { T0, getAll, recordingEngine, replay, visibleState, type VisibleItem } from './helpers.js';

const U64 = 1n << 64n;
const U64_MAX = U64 - 1n;
const DAY_S = 24 * 60 * 60;
const RELATIVE_MAX_S = 30 * DAY_S;
const ITEM_SIZE_MAX = 200;
const KEYS = ['a', 'b', 'c', 'key-d'] as const;

// ---- operations ---------------------------------------------------------------

/** An exptime, resolved against the clock when the op runs (absolute times must be near "now"). */
type Exptime = { raw: number } | { absFromNowS: number };

type CasPick = 'current' | 'stale' | 'zero' | { value: bigint };

type Op =
  | { op: 'store'; mode: StoreMode; key: string; flags: number; exptime: Exptime; value: string; cas: CasPick }
  | { op: 'get'; key: string; touch?: Exptime }
  | { op: 'delete'; key: string }
  | { op: 'delta'; key: string; incr: boolean; amount: bigint }
  | { op: 'touch'; key: string; exptime: Exptime }
  | { op: 'flush'; delay: Exptime }
  | { op: 'tooLarge'; mode: StoreMode; key: string }
  | { op: 'tick' }
  | { op: 'advance'; ms: number };

const edgeU64 = [0n, 1n, 2n, 1n << 63n, U64_MAX, U64_MAX - 1n];

const keyArb = fc.constantFrom(...KEYS);
const exptimeArb: fc.Arbitrary<Exptime> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ raw: 0 }) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 20 }).map((s) => ({ raw: s })) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -1000, 60, RELATIVE_MAX_S, RELATIVE_MAX_S + 1).map((s) => ({ raw: s })) },
  { weight: 2, arbitrary: fc.integer({ min: -5, max: 30 }).map((s) => ({ absFromNowS: s })) },
);
const numericValueArb = fc.oneof(
  fc.constantFrom(...edgeU64).map(String),
  fc.bigInt({ min: 0n, max: U64_MAX }).map(String),
  fc.constantFrom('10', '99', '100', '1000', ' 5', '7 ', '12\0x', '-1', '-18446744073709551615', '18446744073709551616'),
);
const valueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: numericValueArb },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('a', 'b', '1', '9', ' ', '-', '\0', '\r', '\n', '\xff'), maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'abc', '12abc') },
);
const amountArb = fc.oneof(fc.constantFrom(...edgeU64), fc.bigInt({ min: 0n, max: U64_MAX }), fc.bigInt({ min: 0n, max: 20n }));
const flagsArb = fc.oneof(fc.constantFrom(0, 1, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));
const casArb: fc.Arbitrary<CasPick> = fc.oneof(
  { weight: 5, arbitrary: fc.constant('current' as const) },
  { weight: 1, arbitrary: fc.constantFrom('stale' as const, 'zero' as const) },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...edgeU64), fc.bigInt({ min: 1n, max: 50n })).map((value) => ({ value })) },
);
const modeArb: fc.Arbitrary<StoreMode> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<StoreMode>('set') },
  { weight: 5, arbitrary: fc.constantFrom<StoreMode>('add', 'replace', 'append', 'prepend', 'cas') },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('store' as const), mode: modeArb, key: keyArb, flags: flagsArb, exptime: exptimeArb, value: valueArb, cas: casArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('get' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('get' as const), key: keyArb, touch: exptimeArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('delta' as const), key: keyArb, incr: fc.boolean(), amount: amountArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('touch' as const), key: keyArb, exptime: exptimeArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('flush' as const),
      delay: fc.oneof(fc.constant({ raw: 0 }), fc.integer({ min: 1, max: 30 }).map((s) => ({ raw: s })), exptimeArb),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tooLarge' as const), mode: modeArb, key: keyArb }) },
  { weight: 1, arbitrary: fc.constant({ op: 'tick' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.oneof(
        { weight: 5, arbitrary: fc.integer({ min: 0, max: 3000 }) },
        { weight: 1, arbitrary: fc.constantFrom(1, 999, 1000, 10_000, 60_000, RELATIVE_MAX_S * 1000, (RELATIVE_MAX_S + 1) * 1000) },
      ),
    }),
  },
);

// ---- the model --------------------------------------------------------------------

interface ModelItem { value: Buffer; flags: number; expiresAtMs: number; cas: number }

/** memcached's exptime rule, in ms; negative exptimes become "some time in the past". */
function modelExpiry(exptime: number, nowMs: number): number {
  if (exptime === 0) return 0;
  if (exptime < 0) return 1;
  if (exptime > RELATIVE_MAX_S) return exptime * 1000;
  return nowMs + exptime * 1000;
}

/** safe_strtoull on an item's data: C string up to NUL, ws, sign, digits, then end/ws; ERANGE; '-' giving >= 2^63. */
function modelParseU64(value: Buffer): bigint | null {
  const s = value.toString('latin1');
  const nul = s.indexOf('\0');
  const cstr = nul < 0 ? s : s.slice(0, nul);
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)([\s\S]*)$/.exec(cstr);
  if (!m) return null;
  if (m[3] !== '' && !/^[ \t\n\v\f\r]/.test(m[3]!)) return null;
  const mag = BigInt(m[2]!);
  if (mag > U64_MAX) return null;
  const v = m[1] === '-' ? (U64 - mag) % U64 : mag;
  if (v >= 1n << 63n && cstr.includes('-')) return null;
  return v;
}

/** memcached item size: 48-byte header + key + NUL + value + CRLF + 8-byte cas, + 4 with non-zero flags. */
function modelItemBytes(key: string, valueLength: number, flags: number): number {
  return 48 + key.length + 1 + valueLength + 2 + 8 + (flags !== 0 ? 4 : 0);
}

class Model {
  readonly items = new Map<string, ModelItem>();
  pendingFlushAtMs = 0;
  nextCas = 1;
  constructor(public nowMs: number) {}

  /** Every engine call first runs a delayed flush whose time has come. */
  fireDueFlush(): void {
    if (this.pendingFlushAtMs !== 0 && this.pendingFlushAtMs <= this.nowMs) {
      this.items.clear();
      this.pendingFlushAtMs = 0;
    }
  }

  live(key: string): ModelItem | undefined {
    const it = this.items.get(key);
    if (!it) return undefined;
    if (it.expiresAtMs !== 0 && it.expiresAtMs <= this.nowMs) {
      this.items.delete(key);
      return undefined;
    }
    return it;
  }

  put(key: string, value: Buffer, flags: number, expiresAtMs: number): ModelItem {
    const it = { value, flags, expiresAtMs, cas: this.nextCas++ };
    this.items.set(key, it);
    return it;
  }

  visible(): VisibleItem[] {
    const out: VisibleItem[] = [];
    for (const [key, it] of this.items) {
      if (it.expiresAtMs !== 0 && it.expiresAtMs <= this.nowMs) continue;
      out.push({ key, value: it.value.toString('latin1'), flags: it.flags, cas: it.cas, expiresAtMs: it.expiresAtMs });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

function resolveExptime(e: Exptime, nowMs: number): number {
  return 'raw' in e ? e.raw : Math.floor(nowMs / 1000) + e.absFromNowS;
}

/** In place when the new number is not longer (space padded to the old length), else just the digits. */
function modelDeltaValue(next: bigint, oldLength: number): Buffer {
  const digits = next.toString();
  return Buffer.from(digits.length < oldLength ? digits.padEnd(oldLength, ' ') : digits, 'latin1');
}

// ---- running one op against both ----------------------------------------------------

function runOp(op: Op, engine: Engine, model: Model, effects: Effect[]): void {
  const now = model.nowMs;
  const effectsBefore = effects.length;
  const lastEffect = (): Effect | undefined => effects[effects.length - 1];
  const expectPut = (seq: number, key: string, it: ModelItem) => {
    const e = lastEffect();
    expect(e).toMatchObject({ kind: 'put', key, seq, cas: it.cas, flags: it.flags, expiresAtMs: it.expiresAtMs });
    expect((e as Extract<Effect, { kind: 'put' }>).value.toString('latin1')).toBe(it.value.toString('latin1'));
  };
  // Every engine call first runs a due delayed flush, which logs a `flush` before the op's own effects.
  let dueFlush = false;
  if (op.op !== 'advance') {
    dueFlush = model.pendingFlushAtMs !== 0 && model.pendingFlushAtMs <= now;
    model.fireDueFlush();
  }
  const expectNoEffect = () => {
    expect(effects.length).toBe(effectsBefore + (dueFlush ? 1 : 0));
    if (dueFlush) expect(lastEffect()).toMatchObject({ kind: 'flush' });
  };

  switch (op.op) {
    case 'advance':
      model.nowMs += op.ms;
      return;

    case 'tick':
      engine.tick(now);
      expectNoEffect();
      return;

    case 'get': {
      const touchExptime = op.touch && resolveExptime(op.touch, now);
      const got = engine.get(op.key, now, touchExptime);
      const old = model.live(op.key);
      if (old && touchExptime !== undefined) old.expiresAtMs = modelExpiry(touchExptime, now);
      if (!old) {
        expect(got).toBeUndefined();
        expectNoEffect();
        return;
      }
      expect(got).toBeDefined();
      expect({ value: got!.value.toString('latin1'), flags: got!.flags, cas: got!.cas, expiresAtMs: got!.expiresAtMs })
        .toEqual({ value: old.value.toString('latin1'), flags: old.flags, cas: old.cas, expiresAtMs: old.expiresAtMs });
      if (touchExptime === undefined) expectNoEffect();
      else expect(lastEffect()).toMatchObject({ kind: 'touch', key: op.key, expiresAtMs: old.expiresAtMs, seq: got!.seq });
      return;
    }

    case 'delete': {
      const r = engine.delete(op.key, now);
      if (model.live(op.key)) {
        model.items.delete(op.key);
        expect(r.status).toBe('DELETED');
        expect(lastEffect()).toMatchObject({ kind: 'del', key: op.key, seq: r.seq });
      } else {
        expect(r).toEqual({ status: 'NOT_FOUND', seq: engine.removalSeq });
        expectNoEffect();
      }
      return;
    }

    case 'touch': {
      const exptime = resolveExptime(op.exptime, now);
      const r = engine.touch(op.key, exptime, now);
      const old = model.live(op.key);
      if (old) {
        old.expiresAtMs = modelExpiry(exptime, now);
        expect(r.status).toBe('TOUCHED');
        expect(lastEffect()).toMatchObject({ kind: 'touch', key: op.key, expiresAtMs: old.expiresAtMs, seq: r.seq });
      } else {
        expect(r).toEqual({ status: 'NOT_FOUND', seq: engine.removalSeq });
        expectNoEffect();
      }
      return;
    }

    case 'flush': {
      const delay = resolveExptime(op.delay, now);
      const r = engine.flushAll(delay, now);
      expect(r.seq).toBe(engine.lastSeq);
      const atMs = delay > 0 ? modelExpiry(delay, now) : 0;
      if (atMs > now) {
        model.pendingFlushAtMs = atMs;
        expect(lastEffect()).toMatchObject({ kind: 'flushAt', atMs });
      } else {
        model.pendingFlushAtMs = 0;
        model.items.clear();
        expect(lastEffect()).toMatchObject({ kind: 'flush' });
        expect(engine.removalSeq).toBe(r.seq);
      }
      expect(engine.flushPendingAtMs).toBe(model.pendingFlushAtMs);
      return;
    }

    case 'tooLarge': {
      const r = engine.rejectTooLarge(op.mode, op.key, now);
      expect(r.status).toBe('TOO_LARGE');
      if (op.mode === 'set' && model.live(op.key)) {
        model.items.delete(op.key);
        expect(lastEffect()).toMatchObject({ kind: 'del', key: op.key, seq: r.seq });
      } else {
        expectNoEffect();
      }
      return;
    }

    case 'delta': {
      const r = engine.delta(op.key, op.incr, op.amount, now);
      const old = model.live(op.key);
      if (!old) {
        expect(r).toEqual({ status: 'NOT_FOUND', seq: engine.removalSeq });
        expectNoEffect();
        return;
      }
      const current = old.value.length === 0 ? null : modelParseU64(old.value);
      if (current === null) {
        expect(r.status).toBe('NON_NUMERIC');
        expectNoEffect();
        return;
      }
      const next = op.incr ? (current + op.amount) % U64 : op.amount > current ? 0n : current - op.amount;
      const it = model.put(op.key, modelDeltaValue(next, old.value.length), old.flags, old.expiresAtMs);
      expect(r).toEqual({ status: 'VALUE', value: next, cas: it.cas, seq: engine.lastSeq });
      expectPut(r.seq, op.key, it);
      return;
    }

    case 'store': {
      const exptime = resolveExptime(op.exptime, now);
      const value = Buffer.from(op.value, 'latin1');
      const old = model.live(op.key);
      let casUnique = 0n;
      if (op.mode === 'cas') {
        const c = op.cas;
        casUnique = c === 'zero' ? 0n
          : c === 'current' ? BigInt(old?.cas ?? model.nextCas)
          : c === 'stale' ? BigInt(Math.max(0, (old?.cas ?? 1) - 1))
          : c.value;
      }
      const r = engine.store(op.mode, op.key, op.flags, exptime, Buffer.from(value), casUnique, now);

      let expected: 'STORED' | 'NOT_STORED' | 'EXISTS' | 'NOT_FOUND';
      let stored: ModelItem | undefined;
      const fresh = () => model.put(op.key, value, op.flags, modelExpiry(exptime, now));
      switch (op.mode) {
        case 'set': stored = fresh(); expected = 'STORED'; break;
        case 'add': if (old) expected = 'NOT_STORED'; else { stored = fresh(); expected = 'STORED'; } break;
        case 'replace': if (old) { stored = fresh(); expected = 'STORED'; } else expected = 'NOT_STORED'; break;
        case 'cas':
          if (!old) expected = 'NOT_FOUND';
          else if (casUnique === 0n || casUnique !== BigInt(old.cas)) expected = 'EXISTS';
          else { stored = fresh(); expected = 'STORED'; }
          break;
        case 'append':
        case 'prepend': {
          if (!old) { expected = 'NOT_STORED'; break; }
          const combined = op.mode === 'append' ? Buffer.concat([old.value, value]) : Buffer.concat([value, old.value]);
          if (modelItemBytes(op.key, combined.length, old.flags) > ITEM_SIZE_MAX) { expected = 'NOT_STORED'; break; }
          stored = model.put(op.key, combined, old.flags, old.expiresAtMs);
          expected = 'STORED';
          break;
        }
      }
      expect(r.status).toBe(expected);
      if (stored) {
        expect(r.seq).toBe(engine.lastSeq);
        expect(r).toMatchObject({ cas: stored.cas });
        expectPut(r.seq, op.key, stored);
      } else {
        expectNoEffect();
        if (!old) expect(r.seq).toBe(engine.removalSeq);
      }
      return;
    }
  }
}

function checkRun(ops: Op[]): void {
  const { engine, effects } = recordingEngine({ memoryLimitBytes: 1 << 30, itemSizeMaxBytes: ITEM_SIZE_MAX });
  const model = new Model(T0);
  for (const op of ops) {
    runOp(op, engine, model, effects);
    const state = visibleState(engine, model.nowMs);
    expect(state.items).toEqual(model.visible());
    expect(state.flushPendingAtMs).toBe(model.pendingFlushAtMs);
    expect(state.casNext).toBe(model.nextCas);
  }

  // Effects are numbered 1..n with no gap.
  expect(effects.map((e) => e.seq)).toEqual(effects.map((_, i) => i + 1));
  expect(engine.lastSeq).toBe(effects.length);

  // Durability: a fresh engine fed only the effects shows the same state, now and later.
  const replayed = replay(effects, { memoryLimitBytes: 1 << 30, itemSizeMaxBytes: ITEM_SIZE_MAX });
  for (const dt of [0, 1000, 60_000, (RELATIVE_MAX_S + 1) * 1000]) {
    const t = model.nowMs + dt;
    expect(visibleState(replayed, t)).toEqual(visibleState(engine, t));
  }
  // What clients read (this fires a due delayed flush in both).
  for (const dt of [0, 30_000, 60_000]) {
    const t = model.nowMs + dt;
    expect(getAll(replayed, KEYS, t)).toEqual(getAll(engine, KEYS, t));
  }
}

describe('engine vs Map model (fast-check)', () => {
  it('matches the model after every operation and replays to the same state', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }), checkRun), { numRuns: 800 });
  });

  it('counter-heavy runs: incr/decr on edge values', () => {
    const counterKeyArb = fc.constantFrom('a', 'b');
    const counterModeArb: fc.Arbitrary<StoreMode> = fc.oneof(
      { weight: 6, arbitrary: fc.constant<StoreMode>('set') },
      { weight: 1, arbitrary: fc.constantFrom<StoreMode>('append', 'prepend') },
    );
    const counterOp: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ op: fc.constant('store' as const), mode: counterModeArb, key: counterKeyArb, flags: flagsArb, exptime: fc.constant({ raw: 0 }), value: numericValueArb, cas: fc.constant('zero' as const) }) },
      { weight: 8, arbitrary: fc.record({ op: fc.constant('delta' as const), key: counterKeyArb, incr: fc.boolean(), amount: amountArb }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('get' as const), key: counterKeyArb }) },
    );
    fc.assert(fc.property(fc.array(counterOp, { minLength: 1, maxLength: 40, size: 'max' }), checkRun), { numRuns: 500 });
  });

  it('clock-heavy runs: expiry, touch and delayed flush_all', () => {
    const keyArb = fc.constantFrom('a', 'b'); // few keys, so ops meet the same items
    const clockOp: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ op: fc.constant('store' as const), mode: fc.constantFrom<StoreMode>('set', 'add', 'cas'), key: keyArb, flags: fc.constant(0), exptime: exptimeArb, value: fc.constant('v'), cas: casArb }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('touch' as const), key: keyArb, exptime: exptimeArb }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('get' as const), key: keyArb, touch: fc.option(exptimeArb, { nil: undefined }) }).map((o) => (o.touch === undefined ? { op: o.op, key: o.key } : o)) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const), delay: fc.oneof(fc.constant({ raw: 0 }), fc.integer({ min: 1, max: 10 }).map((s) => ({ raw: s }))) }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 6000 }) }) },
      { weight: 1, arbitrary: fc.constant({ op: 'tick' as const }) },
    );
    fc.assert(fc.property(fc.array(clockOp, { minLength: 1, maxLength: 60, size: 'max' }), checkRun), { numRuns: 500 });
  });
});
