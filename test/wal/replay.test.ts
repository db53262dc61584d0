// recoverWal with replayInto(engine) (puts by bytes, the server's wiring)
// against recoverWal handing every record to applyEffect: the same engine.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { nodeDisk } from '../../src/wal/disk.js';
import { recoverWal, replayInto } from '../../src/wal/recovery.js';
import type { Effect } from '../../src/engine/types.js';
import { engineState } from '../engine/helpers.js';
import { effectsRange, useTempWalDir, writeSegments } from './helpers.js';

let walDir: string;
useTempWalDir((dir) => { walDir = dir; });

const newEngine = () => new Engine({ memoryLimitBytes: 1 << 30, itemSizeMaxBytes: 1 << 20, evictionsDisabled: false });

describe('recoverWal with replayInto', () => {
  it.each([0, 37])('rebuilds the engine applyEffect rebuilds (afterSeq %i, two segments, every record kind)', async (afterSeq) => {
    const effects = effectsRange(1, 298, 30) // ends with puts after the last flush;
    await writeSegments(walDir, [effects.slice(0, 120), effects.slice(120)]);
    const viaEffects = newEngine();
    const viaBytes = newEngine();
    const common = { disk: nodeDisk, walDir, afterSeq, repair: false, log: () => {} };
    const a = await recoverWal({ ...common, onRecord: (e) => viaEffects.applyEffect(e) });
    const b = await recoverWal({ ...common, ...replayInto(viaBytes) });
    expect(b).toEqual(a);
    expect(b.recordsApplied).toBe(298 - afterSeq);
    expect(viaBytes.itemCount).toBeGreaterThan(0);
    expect(engineState(viaBytes)).toEqual(engineState(viaEffects));
  });

  it('hands puts to onPut and every other record to onRecord', async () => {
    const effects = effectsRange(1, 20);
    await writeSegments(walDir, [effects]);
    const puts: number[] = [];
    const others: Effect[] = [];
    await recoverWal({ disk: nodeDisk, walDir, afterSeq: 0, repair: false, log: () => {}, onRecord: (e) => others.push(e), onPut: (_buf, r) => puts.push(r.seq) });
    expect(puts).toEqual(effects.filter((e) => e.kind === 'put').map((e) => e.seq));
    expect(others).toEqual(effects.filter((e) => e.kind !== 'put'));
  });
});
