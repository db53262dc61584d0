// The engine's CAS uniques beyond the text `cas` command, as the binary
// protocol uses them: results carry the CAS of the version they made, and
// delete, incr/decr and append/prepend take a CAS unique that must match
// (memcached's process_bin_delete, do_add_delta, do_store_item), refusing
// with EXISTS, unapplied, when it does not.

import { describe, expect, it } from 'vitest';
import type { Effect } from '../../src/engine/types.js';
import { T0, bytes, recordingEngine } from './helpers.js';

describe('engine: CAS uniques in results and requests', () => {
  it('STORED and incr/decr results carry the new version\'s CAS, the one get shows', () => {
    const { engine } = recordingEngine();
    const stored = engine.store('set', 'n', 0, 0, bytes('5'), 0n, T0);
    expect(stored).toMatchObject({ status: 'STORED', cas: engine.get('n', T0)!.cas });
    const incr = engine.delta('n', true, 1n, T0);
    expect(incr).toMatchObject({ status: 'VALUE', value: 6n, cas: engine.get('n', T0)!.cas });
    expect(incr.status === 'VALUE' && stored.status === 'STORED' && incr.cas > stored.cas).toBe(true);
    const appended = engine.store('append', 'n', 0, 0, bytes('0'), 0n, T0);
    expect(appended).toMatchObject({ status: 'STORED', cas: engine.get('n', T0)!.cas });
  });

  it('delete with a CAS unique: a mismatch is EXISTS (item kept, no effect, no counter), a match deletes', () => {
    const { engine, effects } = recordingEngine();
    engine.store('set', 'k', 0, 0, bytes('v'), 0n, T0);
    const cas = BigInt(engine.get('k', T0)!.cas);
    const before = effects.length;
    expect(engine.delete('k', T0, cas + 1n)).toEqual({ status: 'EXISTS', seq: effects.at(-1)!.seq });
    expect(effects.length).toBe(before);
    expect(engine.counters).toMatchObject({ deleteHits: 0, deleteMisses: 0 });
    expect(engine.delete('k', T0, cas)).toMatchObject({ status: 'DELETED' });
    expect(effects.at(-1)).toMatchObject({ kind: 'del', key: 'k' });
    expect(engine.delete('k', T0, cas)).toMatchObject({ status: 'NOT_FOUND' });
  });

  it('incr/decr with a CAS unique: a mismatch is EXISTS and unapplied; an empty value is NON_NUMERIC first; a match applies', () => {
    const { engine, effects } = recordingEngine();
    engine.store('set', 'n', 0, 0, bytes('10'), 0n, T0);
    engine.store('set', 'e', 0, 0, bytes(''), 0n, T0);
    const cas = BigInt(engine.get('n', T0)!.cas);
    const before = effects.length;
    expect(engine.delta('n', false, 1n, T0, cas + 100n)).toMatchObject({ status: 'EXISTS' });
    expect(engine.delta('e', true, 1n, T0, 12345n)).toMatchObject({ status: 'NON_NUMERIC' });
    expect(effects.length).toBe(before);
    expect(engine.get('n', T0)!.value.toString()).toBe('10');
    expect(engine.delta('n', false, 1n, T0, cas)).toMatchObject({ status: 'VALUE', value: 9n });
  });

  it('append/prepend with a CAS unique: a mismatch is EXISTS and unapplied; a match applies; a missing item is NOT_STORED', () => {
    const { engine, effects } = recordingEngine();
    engine.store('set', 'k', 3, 0, bytes('mid'), 0n, T0);
    const cas = BigInt(engine.get('k', T0)!.cas);
    const before = effects.length;
    expect(engine.store('append', 'k', 0, 0, bytes('>'), cas + 1n, T0)).toMatchObject({ status: 'EXISTS' });
    expect(effects.length).toBe(before);
    expect(engine.store('prepend', 'k', 0, 0, bytes('<'), cas, T0)).toMatchObject({ status: 'STORED' });
    const put = effects.at(-1) as Extract<Effect, { kind: 'put' }>;
    expect(put.value.toString()).toBe('<mid');
    expect(put.flags).toBe(3);
    expect(engine.store('append', 'nx', 0, 0, bytes('x'), 1n, T0)).toMatchObject({ status: 'NOT_STORED' });
  });
});
