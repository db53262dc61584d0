// Shared helpers for the engine tests: an engine that records its effects, and
// a "visible state" that two engines can be compared by (what a client could
// observe plus what recovery must carry over: cas counter, pending flush, seqs).

import { Engine } from '../../src/engine/engine.js';
import type { Effect, EngineOptions } from '../../src/engine/types.js';

/** A fixed, realistic "now" (ms since the epoch) so absolute exptimes make sense. */
export const T0 = 1_700_000_000_000;

export const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

export interface Recorded { engine: Engine; effects: Effect[] }

export function recordingEngine(options: Partial<EngineOptions> = {}): Recorded {
  const effects: Effect[] = [];
  const engine = new Engine(
    { memoryLimitBytes: 64 * 1024 * 1024, itemSizeMaxBytes: 1024 * 1024, evictionsDisabled: false, ...options },
    (e) => effects.push(e),
  );
  return { engine, effects };
}

/** A fresh engine rebuilt only from effects, as WAL recovery does. */
export function replay(effects: readonly Effect[], options: Partial<EngineOptions> = {}): Engine {
  const { engine } = recordingEngine(options);
  for (const e of effects) engine.applyEffect(e);
  return engine;
}

export interface VisibleItem { key: string; value: string; flags: number; cas: number; expiresAtMs: number }

export interface VisibleState {
  items: VisibleItem[];
  casNext: number;
  flushPendingAtMs: number;
  lastSeq: number;
  removalSeq: number;
}

/** Live items at `nowMs` (via dump, which neither bumps nor fires a flush), sorted by key. */
export function visibleState(engine: Engine, nowMs: number): VisibleState {
  const items = [...engine.dump(nowMs)]
    .map(([key, it]) => ({ key, value: it.value.toString('latin1'), flags: it.flags, cas: it.cas, expiresAtMs: it.expiresAtMs }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    items,
    casNext: engine.casNext,
    flushPendingAtMs: engine.flushPendingAtMs,
    lastSeq: engine.lastSeq,
    removalSeq: engine.removalSeq,
  };
}

/** What `get` answers for each key at `nowMs` (this does fire a due delayed flush). */
export function getAll(engine: Engine, keys: readonly string[], nowMs: number): Array<VisibleItem | undefined> {
  return keys.map((key) => {
    const it = engine.get(key, nowMs);
    return it && { key, value: it.value.toString('latin1'), flags: it.flags, cas: it.cas, expiresAtMs: it.expiresAtMs };
  });
}

/** Effects must be numbered 1, 2, 3, ... with no gap or repeat. */
export function seqsOf(effects: readonly Effect[]): number[] {
  return effects.map((e) => e.seq);
}

/** Everything replay decides, including what no client sees directly (LRU order, accounting). */
export function engineState(engine: Engine): unknown {
  const lru: string[] = [];
  engine.itemMetadata(0, (m) => lru.push(`${m.key}/${m.slabClass}/${m.totalBytes}/seq ${engine.peek(m.key, 0)?.seq}`));
  return {
    visible: visibleState(engine, 0),
    lru,
    itemCount: engine.itemCount,
    bytes: engine.bytes,
    chargedBytes: engine.chargedBytes,
    slabs: [...engine.slabStats()],
  };
}
