// The binary protocol driven in-process on a real engine with a fake clock:
// every opcode and its quiet form, statuses and their texts (memcached
// 1.6.18's proto_bin.c, checked against a real memcached in
// test/e2e/binary.test.ts), CAS in requests and replies, opaque echoed,
// disk-full and out-of-memory answers, and the visibility contract: every
// request ends in exactly one commit carrying the WAL sequence its reply
// reflects, quiet requests included.

import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { Effect } from '../../src/engine/types.js';
import type { Backend, ServerSettings } from '../../src/net/backend.js';
import { BinaryProtocol } from '../../src/net/binary-protocol.js';
import { Chunks } from '../../src/net/output.js';
import type { ReplySink, ServerContext } from '../../src/net/protocol.js';
import { startServer } from '../../src/net/server.js';
import { server_version, type ConnectionCounters } from '../../src/net/stats.js';
import { OP, deltaExtras, describePacket, frame, readPackets, storeExtras, u32s, u64, type FrameOpts, type Packet } from './binary-helpers.js';

const T0 = 1_700_000_000_000;
const U64_MAX = (1n << 64n) - 1n;

interface Commit { seq: number; closeAfter: boolean; bytes: Buffer }

class Sink implements ReplySink {
  readonly reply = new Chunks();
  readonly commits: Commit[] = [];
  commit(seq: number, closeAfter = false): void {
    this.commits.push({ seq, closeAfter, bytes: Buffer.concat(this.reply.take()) });
  }
}

interface Setup { memoryLimitBytes?: number; evictionsDisabled?: boolean; settings?: Partial<ServerSettings> }

const settingsFor = (): ServerSettings => ({
  host: '127.0.0.1', port: 0, connectionLimit: 100, itemSizeMaxBytes: 1 << 20, verbosity: 0, dataDir: '-', fsyncMode: 'always', evictionsDisabled: false, strictKeys: false,
});

function setup(o: Setup = {}) {
  const clock = { nowMs: T0 };
  const effects: Effect[] = [];
  const engine = new Engine({ memoryLimitBytes: o.memoryLimitBytes ?? 64 << 20, itemSizeMaxBytes: 1 << 20, evictionsDisabled: o.evictionsDisabled ?? false }, (e) => effects.push(e));
  const state = { admission: 'ok' as 'ok' | 'wait' | 'full' };
  const backend: Backend = {
    engine, now: () => clock.nowMs, ackedSeq: () => engine.lastSeq, onAck: () => {},
    writeAdmission: () => state.admission, whenAdmissible: async () => {}, storageStats: () => [['durable_seq', engine.lastSeq]],
  };
  const settings = { ...settingsFor(), ...o.settings };
  const counters: ConnectionCounters = { currConnections: 1, totalConnections: 5, rejectedConnections: 0, bytesRead: 0, bytesWritten: 0, idleKicks: 0 };
  const ctx: ServerContext = { backend, settings, counters, startedAtMs: T0, log: () => {} };
  const protocol = new BinaryProtocol(ctx);

  /** Runs the frames as the connection would; every request must end in exactly one commit. */
  function send(...frames: Buffer[]): Commit[] {
    protocol.push(Buffer.concat(frames));
    const commits: Commit[] = [];
    for (let r = protocol.next(); r !== null; r = protocol.next()) {
      const sink = new Sink();
      if (protocol.isMutation(r) && state.admission === 'full') protocol.refuseDiskFull(r, sink);
      else protocol.execute(r, sink);
      expect(sink.commits, 'one commit per request').toHaveLength(1);
      expect(sink.reply.isEmpty, 'nothing written after the commit').toBe(true);
      commits.push(sink.commits[0]!);
    }
    protocol.detachInput();
    return commits;
  }
  const packets = (...frames: Buffer[]): Packet[] => send(...frames).flatMap((c) => readPackets(c.bytes).packets);
  /** The reply packets, one line each. */
  const replies = (...frames: Buffer[]): string[] => packets(...frames).map(describePacket);
  const req = (op: number, o: FrameOpts = {}) => frame(op, o);
  const set = (key: string, value: string, flags = 0, exptime = 0, op: number = OP.set) => req(op, { key, extras: storeExtras(flags, exptime), value });
  return { engine, effects, clock, state, counters, send, packets, replies, req, set };
}

/** memcached's error packet: the status and its text, CAS 0. */
const err = (op: number, status: number, text: string, opaque = 0) => `op=0x${op.toString(16)} status=0x${status.toString(16)} opaque=${opaque} cas=0 value=${JSON.stringify(text)}`;
const ok = (op: number, cas = 0, rest = '', opaque = 0) => `op=0x${op.toString(16)} status=0x0 opaque=${opaque} cas=${cas}${rest ? ` ${rest}` : ''}`;
const NOT_FOUND = 'Not found';
const EXISTS = 'Data exists for key.';
const NOT_STORED = 'Not stored.';

describe('binary protocol: get family', () => {
  it('get/getk miss: "Not found" / the key with no text; getq/getkq miss: nothing; opaque echoed', () => {
    const t = setup();
    expect(t.replies(t.req(OP.get, { key: 'nx', opaque: 7 }), t.req(OP.getk, { key: 'nx', opaque: 8 }), t.req(OP.getq, { key: 'nx' }), t.req(OP.getkq, { key: 'nx' }), t.req(OP.noop, { opaque: 9 })))
      .toEqual([err(OP.get, 1, NOT_FOUND, 7), 'op=0xc status=0x1 opaque=8 cas=0 key="nx"', ok(OP.noop, 0, '', 9)]);
  });

  it('hits: flags as 4 bytes of extras, the item\'s CAS, the key for getk/getkq, the value; quiet forms answer hits', () => {
    const t = setup();
    expect(t.replies(t.set('a', 'hello', 0xdeadbeef))).toEqual([ok(OP.set, 1)]);
    const hit = 'extras=deadbeef';
    expect(t.replies(t.req(OP.get, { key: 'a', opaque: 1 }), t.req(OP.getk, { key: 'a' }), t.req(OP.getq, { key: 'a' }), t.req(OP.getkq, { key: 'a' })))
      .toEqual([ok(OP.get, 1, `${hit} value="hello"`, 1), ok(OP.getk, 1, `${hit} key="a" value="hello"`), ok(OP.getq, 1, `${hit} value="hello"`), ok(OP.getkq, 1, `${hit} key="a" value="hello"`)]);
  });

  it('keys are bytes: any byte value round-trips, and binary values keep every byte', () => {
    const t = setup();
    const key = '\x00 \r\n\x80\xff';
    const value = Buffer.from([0, 0x80, 0x0d, 0x0a, 0xff]);
    t.send(t.req(OP.set, { key, extras: storeExtras(), value }));
    const [p] = t.packets(t.req(OP.getk, { key }));
    expect(p!.key).toBe(key);
    expect(p!.value).toEqual(value);
  });
});

describe('binary protocol: storage', () => {
  it('set answers with the new item\'s CAS, which the next change replaces', () => {
    const t = setup();
    expect(t.replies(t.set('k', '1'), t.set('k', '2'), t.set('other', '3'))).toEqual([ok(OP.set, 1), ok(OP.set, 2), ok(OP.set, 3)]);
    expect(t.engine.peek('k', T0)?.cas).toBe(2);
  });

  it('add: existing "Data exists for key."; replace: missing "Not found"; quiet forms answer only errors', () => {
    const t = setup();
    expect(t.replies(
      t.set('a', '1', 0, 0, OP.add), t.set('a', '2', 0, 0, OP.add), t.set('b', '1', 0, 0, OP.replace), t.set('a', '3', 0, 0, OP.replace),
      t.set('a', '4', 0, 0, OP.addq), t.set('b', '4', 0, 0, OP.replaceq), t.set('c', '5', 0, 0, OP.setq), t.set('c', '6', 0, 0, OP.addq), t.set('a', '7', 0, 0, OP.replaceq),
    )).toEqual([ok(OP.add, 1), err(OP.add, 2, EXISTS), err(OP.replace, 1, NOT_FOUND), ok(OP.replace, 2), err(OP.addq, 2, EXISTS), err(OP.replaceq, 1, NOT_FOUND), err(OP.addq, 2, EXISTS)]);
    expect(t.engine.peek('a', T0)?.value.toString()).toBe('7');
    expect(t.engine.peek('c', T0)?.value.toString()).toBe('5');
  });

  it('a CAS unique turns set, add and replace into a cas: match stores, mismatch EXISTS, missing NOT_FOUND', () => {
    const t = setup();
    t.send(t.set('k', 'v'));
    const casSet = (op: number, key: string, cas: bigint, value: string) => t.req(op, { key, extras: storeExtras(5), value, cas });
    expect(t.replies(
      casSet(OP.set, 'k', 9n, 'x'), casSet(OP.set, 'nx', 1n, 'x'), casSet(OP.set, 'k', 1n, 'a'),
      casSet(OP.add, 'k', 1n, 'b'), casSet(OP.add, 'k', 2n, 'b'), casSet(OP.add, 'nx', 2n, 'b'),
      casSet(OP.replace, 'k', 2n, 'c'), casSet(OP.replace, 'k', 3n, 'c'), casSet(OP.setq, 'k', 4n, 'd'), casSet(OP.setq, 'k', 4n, 'e'),
    )).toEqual([
      err(OP.set, 2, EXISTS), err(OP.set, 1, NOT_FOUND), ok(OP.set, 2),
      err(OP.add, 2, EXISTS), ok(OP.add, 3), err(OP.add, 1, NOT_FOUND),
      err(OP.replace, 2, EXISTS), ok(OP.replace, 4), err(OP.setq, 2, EXISTS),
    ]);
    expect(t.engine.peek('k', T0)).toMatchObject({ flags: 5, cas: 5 });
    expect(t.engine.peek('k', T0)?.value.toString()).toBe('d');
    expect(t.engine.peek('nx', T0)).toBeUndefined();
  });

  it('append/prepend keep flags; a missing item is "Not stored."; a CAS unique must match; quiet forms answer only errors', () => {
    const t = setup();
    expect(t.replies(t.req(OP.append, { key: 'k', value: 'x' }))).toEqual([err(OP.append, 5, NOT_STORED)]);
    t.send(t.set('k', 'mid', 7));
    expect(t.replies(
      t.req(OP.append, { key: 'k', value: '>' }), t.req(OP.prepend, { key: 'k', value: '<' }),
      t.req(OP.append, { key: 'k', value: '!', cas: 1n }), t.req(OP.append, { key: 'k', value: '!', cas: 3n }),
      t.req(OP.appendq, { key: 'k', value: '?' }), t.req(OP.prependq, { key: 'nx', value: '?' }), t.req(OP.prependq, { key: 'k', value: '#', cas: 1n }),
      t.req(OP.get, { key: 'k' }),
    )).toEqual([
      ok(OP.append, 2), ok(OP.prepend, 3), err(OP.append, 2, EXISTS), ok(OP.append, 4),
      err(OP.prependq, 5, NOT_STORED), err(OP.prependq, 2, EXISTS),
      ok(OP.get, 5, 'extras=00000007 value="<mid>!?"'),
    ]);
  });

  it('a value over -I is "Too large.": a set unlinks the old item, an add leaves it', () => {
    const t = setup();
    t.send(t.set('s', 'old'), t.set('a', 'old'));
    const huge = Buffer.alloc(1 << 20);
    expect(t.replies(
      t.req(OP.setq, { key: 's', extras: storeExtras(), value: huge, opaque: 4 }), t.req(OP.add, { key: 'a', extras: storeExtras(), value: huge }),
      t.req(OP.get, { key: 's' }), t.req(OP.get, { key: 'a' }),
    )).toEqual([err(OP.setq, 3, 'Too large.', 4), err(OP.add, 3, 'Too large.'), err(OP.get, 1, NOT_FOUND), ok(OP.get, 2, 'extras=00000000 value="old"')]);
  });

  it('out of memory (-M): set/add "Out of memory allocating item" (a set unlinks the old item), append "Not stored."', () => {
    const t = setup({ memoryLimitBytes: 2 << 20, evictionsDisabled: true });
    const value = 'v'.repeat(100_000);
    let i = 0;
    for (; i < 100; i++) if (t.engine.store('set', `fill${i}`, 0, 0, Buffer.from(value), 0n, T0).status !== 'STORED') break;
    expect(i).toBeLessThan(100);
    t.engine.delete(`fill${i - 1}`, T0);
    t.send(t.set('small', '1'));
    t.engine.store('set', 'fill-again', 0, 0, Buffer.from(value), 0n, T0);
    const big = (op: number, key: string) => t.req(op, { key, extras: storeExtras(), value });
    expect(t.replies(big(OP.set, 'small'), big(OP.add, 'new'), t.req(OP.append, { key: 'fill0', value }), t.req(OP.get, { key: 'small' })))
      .toEqual([
        err(OP.set, 0x82, 'Out of memory allocating item'), err(OP.add, 0x82, 'Out of memory allocating item'), err(OP.append, 5, NOT_STORED), err(OP.get, 1, NOT_FOUND),
      ]);
  });

  it('out of memory (-M): an incr creating its counter is "Out of memory allocating new item"', () => {
    const t = setup({ memoryLimitBytes: 2 << 20, evictionsDisabled: true });
    let i = 0;
    while (t.engine.store('set', `f${i}`, 0, 0, Buffer.from('1'), 0n, T0).status === 'STORED') i++;
    expect(t.replies(t.req(OP.incr, { key: 'new', extras: deltaExtras(1n, 5n) }), t.req(OP.incr, { key: 'f0', extras: deltaExtras(1n) })))
      .toEqual([err(OP.incr, 0x82, 'Out of memory allocating new item'), ok(OP.incr, i + 1, `value=${JSON.stringify(u64(2n).toString('latin1'))}`)]);
  });
});

describe('binary protocol: delete', () => {
  it('deletes with CAS 0 in the reply; missing "Not found"; a mismatched CAS is "Data exists for key." and keeps the item; deleteq answers only errors', () => {
    const t = setup();
    t.send(t.set('a', '1'), t.set('b', '2'));
    expect(t.replies(
      t.req(OP.delete, { key: 'a', cas: 7n }), t.req(OP.delete, { key: 'a', cas: 1n }), t.req(OP.delete, { key: 'a' }),
      t.req(OP.deleteq, { key: 'b' }), t.req(OP.deleteq, { key: 'b' }),
    )).toEqual([err(OP.delete, 2, EXISTS), ok(OP.delete), err(OP.delete, 1, NOT_FOUND), err(OP.deleteq, 1, NOT_FOUND)]);
    expect(t.engine.itemCount).toBe(0);
  });
});

describe('binary protocol: incr/decr', () => {
  const delta = (op: number, key: string, d: bigint, initial = 0n, exp = 0, cas = 0n) => frame(op, { key, extras: deltaExtras(d, initial, exp), cas });

  it('a miss creates the item with the initial value (unless expiration is 0xffffffff); then counts, as 8-byte values with the new CAS', () => {
    const t = setup();
    expect(t.replies(
      delta(OP.incr, 'n', 1n, 10n), delta(OP.incr, 'n', 5n, 10n), delta(OP.decr, 'n', 100n), delta(OP.incr, 'm', 1n, 10n, 0xffffffff), delta(OP.decr, 'm', 1n, 0n, 0xffffffff),
      frame(OP.get, { key: 'n' }),
    )).toEqual([
      ok(OP.incr, 1, `value=${JSON.stringify(u64(10n).toString('latin1'))}`), ok(OP.incr, 2, `value=${JSON.stringify(u64(15n).toString('latin1'))}`),
      ok(OP.decr, 3, `value=${JSON.stringify(u64(0n).toString('latin1'))}`), err(OP.incr, 1, NOT_FOUND), err(OP.decr, 1, NOT_FOUND),
      ok(OP.get, 3, 'extras=00000000 value="0 "'),
    ]);
  });

  it('incr wraps at 2^64 and keeps the length (padded with spaces, as memcached)', () => {
    const t = setup();
    t.send(t.set('w', U64_MAX.toString()));
    const [p] = t.packets(delta(OP.incr, 'w', 2n));
    expect(p!.value.readBigUInt64BE()).toBe(1n);
    expect(t.engine.peek('w', T0)?.value.toString()).toBe('1'.padEnd(20, ' '));
  });

  it('non-numeric and empty values: "Non-numeric server-side value for incr or decr" (empty before any CAS check, as memcached)', () => {
    const t = setup();
    t.send(t.set('s', 'abc'), t.set('e', ''));
    const badval = 'Non-numeric server-side value for incr or decr';
    expect(t.replies(delta(OP.incr, 's', 1n), delta(OP.incr, 'e', 1n), delta(OP.incr, 'e', 1n, 0n, 0, 99n), delta(OP.incrq, 's', 1n)))
      .toEqual([err(OP.incr, 6, badval), err(OP.incr, 6, badval), err(OP.incr, 6, badval), err(OP.incrq, 6, badval)]);
  });

  it('a CAS unique must match; incrq/decrq answer only errors', () => {
    const t = setup();
    t.send(t.set('n', '5'));
    expect(t.replies(delta(OP.incr, 'n', 1n, 0n, 0, 9n), delta(OP.incr, 'n', 1n, 0n, 0, 1n), delta(OP.incrq, 'n', 1n), delta(OP.decrq, 'n', 3n), delta(OP.decrq, 'zz', 1n, 0n, 0xffffffff), frame(OP.get, { key: 'n' })))
      .toEqual([err(OP.incr, 2, EXISTS), ok(OP.incr, 2, `value=${JSON.stringify(u64(6n).toString('latin1'))}`), err(OP.decrq, 1, NOT_FOUND), ok(OP.get, 4, 'extras=00000000 value="4"')]);
  });

  it('a created counter gets flags 0 and the given expiration', () => {
    const t = setup();
    t.send(delta(OP.incrq, 'c', 1n, 42n, 100));
    expect(t.engine.peek('c', T0)).toMatchObject({ flags: 0, expiresAtMs: T0 + 100_000 });
    expect(t.engine.peek('c', T0)?.value.toString()).toBe('42');
  });
});

describe('binary protocol: touch and get-and-touch', () => {
  it('touch answers flags and CAS without the value; gat the value; gatk the key and value; misses as get', () => {
    const t = setup();
    t.send(t.set('k', 'v', 3));
    const ext = u32s(100);
    expect(t.replies(
      t.req(OP.touch, { key: 'k', extras: ext }), t.req(OP.gat, { key: 'k', extras: ext }), t.req(OP.gatk, { key: 'k', extras: ext }),
      t.req(OP.gatq, { key: 'k', extras: ext }), t.req(OP.gatkq, { key: 'k', extras: ext }),
      t.req(OP.touch, { key: 'nx', extras: ext }), t.req(OP.gat, { key: 'nx', extras: ext }), t.req(OP.gatk, { key: 'nx', extras: ext }),
      t.req(OP.gatq, { key: 'nx', extras: ext }), t.req(OP.gatkq, { key: 'nx', extras: ext }),
    )).toEqual([
      ok(OP.touch, 1, 'extras=00000003'), ok(OP.gat, 1, 'extras=00000003 value="v"'), ok(OP.gatk, 1, 'extras=00000003 key="k" value="v"'),
      ok(OP.gatq, 1, 'extras=00000003 value="v"'), ok(OP.gatkq, 1, 'extras=00000003 key="k" value="v"'),
      err(OP.touch, 1, NOT_FOUND), err(OP.gat, 1, NOT_FOUND), 'op=0x23 status=0x1 opaque=0 cas=0 key="nx"',
    ]);
  });

  it('the new expiration applies: touched to 1 s, the item is gone 2 s later', () => {
    const t = setup();
    t.send(t.set('k', 'v'), t.req(OP.touch, { key: 'k', extras: u32s(1) }));
    t.clock.nowMs += 2000;
    expect(t.replies(t.req(OP.get, { key: 'k' }))).toEqual([err(OP.get, 1, NOT_FOUND)]);
  });
});

describe('binary protocol: flush, noop, version, quit', () => {
  it('flush empties the cache; flushq answers nothing; a delayed flush waits for its time', () => {
    const t = setup();
    t.send(t.set('a', '1'));
    expect(t.replies(t.req(OP.flush), t.req(OP.flushq))).toEqual([ok(OP.flush)]);
    expect(t.engine.itemCount).toBe(0);
    t.send(t.set('b', '2'));
    expect(t.replies(t.req(OP.flush, { extras: u32s(10) }), t.req(OP.get, { key: 'b' }))).toEqual([ok(OP.flush), ok(OP.get, 2, 'extras=00000000 value="2"')]);
    t.clock.nowMs += 10_000;
    expect(t.replies(t.req(OP.get, { key: 'b' }))).toEqual([err(OP.get, 1, NOT_FOUND)]);
  });

  it('noop; version answers the server version; quit answers then closes, quitq closes silently', () => {
    const t = setup();
    expect(t.replies(t.req(OP.noop, { opaque: 1 }), t.req(OP.version, { opaque: 2 }))).toEqual([ok(OP.noop, 0, '', 1), ok(OP.version, 0, `value="${server_version}"`, 2)]);
    const [quit] = t.send(t.req(OP.quit, { opaque: 3 }));
    expect(quit).toMatchObject({ seq: 0, closeAfter: true });
    expect(readPackets(quit!.bytes).packets.map(describePacket)).toEqual([ok(OP.quit, 0, '', 3)]);
    const u = setup();
    expect(u.send(u.req(OP.quitq))).toEqual([{ seq: 0, closeAfter: true, bytes: Buffer.alloc(0) }]);
  });
});

describe('binary protocol: stat', () => {
  it('without a key: one packet per stat (opcode 0x10, opaque echoed, CAS 0), ending with an empty one', () => {
    const t = setup();
    t.send(t.set('a', '1'), t.req(OP.get, { key: 'a' }));
    const ps = t.packets(t.req(OP.stat, { opaque: 42 }));
    expect(ps.length).toBeGreaterThan(30);
    for (const p of ps) expect(p).toMatchObject({ magic: 0x81, opcode: 0x10, status: 0, opaque: 42, cas: 0n, extras: Buffer.alloc(0) });
    expect(ps.at(-1)).toMatchObject({ key: '', value: Buffer.alloc(0) });
    const stats = new Map(ps.slice(0, -1).map((p) => [p.key, p.value.toString()]));
    expect(stats.get('pid')).toBe(String(process.pid));
    expect(stats.get('cmd_get')).toBe('1');
    expect(stats.get('curr_items')).toBe('1');
  });

  it('groups: items and slabs exactly, settings as a prefix; reset answers only the end packet and zeroes counters; unknown "Not found"', () => {
    const t = setup();
    t.send(t.set('a', '1'), t.req(OP.get, { key: 'a' }));
    const keysOf = (key: string) => t.packets(t.req(OP.stat, { key })).map((p) => p.key);
    expect(keysOf('items')).toContain('items:1:number');
    expect(keysOf('slabs')).toContain('active_slabs');
    expect(keysOf('settings')).toContain('item_size_max');
    expect(keysOf('settingsXYZ')).toContain('binding_protocol');
    expect(t.replies(t.req(OP.stat, { key: 'reset', opaque: 5 }))).toEqual([ok(OP.stat, 0, '', 5)]);
    expect(t.engine.counters.cmdGet).toBe(0);
    expect(t.counters.totalConnections).toBe(0);
    expect(t.replies(t.req(OP.stat, { key: 'itemsX', opaque: 6 }), t.req(OP.stat, { key: 'sizes' }), t.req(OP.stat, { key: 'detail on' })))
      .toEqual([err(OP.stat, 1, NOT_FOUND, 6), err(OP.stat, 1, NOT_FOUND), err(OP.stat, 1, NOT_FOUND)]);
  });

  it('settings has the -A/-Y/--idle-timeout/TLS fields and binding_protocol auto-negotiate; conns is text-only (Not found); reset zeroes idle_kicks', () => {
    const t = setup({ settings: { shutdownEnabled: true, idleTimeoutS: 30 } });
    const settings = new Map(t.packets(t.req(OP.stat, { key: 'settings' })).slice(0, -1).map((p) => [p.key, p.value.toString()]));
    expect(Object.fromEntries(['binding_protocol', 'umask', 'shutdown_command', 'auth_enabled_sasl', 'auth_enabled_ascii', 'idle_timeout', 'ssl_enabled'].map((k) => [k, settings.get(k)])))
      .toEqual({ binding_protocol: 'auto-negotiate', umask: '700', shutdown_command: 'yes', auth_enabled_sasl: 'no', auth_enabled_ascii: 'no', idle_timeout: '30', ssl_enabled: 'no' });
    expect(t.replies(t.req(OP.stat, { key: 'conns', opaque: 3 }))).toEqual([err(OP.stat, 1, NOT_FOUND, 3)]);
    t.counters.idleKicks = 3;
    expect(t.packets(t.req(OP.stat)).find((p) => p.key === 'idle_kicks')?.value.toString()).toBe('3');
    t.send(t.req(OP.stat, { key: 'reset' }));
    expect(t.counters.idleKicks).toBe(0);
  });
});

describe('binary protocol: refused frames', () => {
  it('unknown opcodes and SASL: "Unknown command", the connection kept', () => {
    const t = setup();
    expect(t.send(t.req(0x1b, { value: 'abcd' }), t.req(0x20), t.req(0x21, { key: 'PLAIN', value: 'x' }), t.req(OP.noop)).map((c) => [c.closeAfter, readPackets(c.bytes).packets.map(describePacket)]))
      .toEqual([[false, [err(0x1b, 0x81, 'Unknown command')]], [false, [err(0x20, 0x81, 'Unknown command')]], [false, [err(0x21, 0x81, 'Unknown command')]], [false, [ok(OP.noop)]]]);
  });

  it('a key over 250 bytes: "Invalid arguments", then close; a bad magic: close without a reply', () => {
    const t = setup();
    const [invalid] = t.send(t.req(OP.getk, { key: 'k'.repeat(251), opaque: 3 }));
    expect(invalid).toMatchObject({ seq: 0, closeAfter: true });
    expect(readPackets(invalid!.bytes).packets.map(describePacket)).toEqual([err(OP.getk, 4, 'Invalid arguments', 3)]);
    const u = setup();
    expect(u.replies(u.req(OP.set, { key: 'k'.repeat(251), extras: storeExtras(), value: 'v' }))).toEqual([err(OP.set, 4, 'Invalid arguments')]);
    const v = setup();
    expect(v.send(v.req(OP.noop, { magic: 0x81 }))).toEqual([{ seq: 0, closeAfter: true, bytes: Buffer.alloc(0) }]);
  });
});

describe('binary protocol: disk full and visibility', () => {
  it('a full disk refuses every mutation, quiet ones too, with 0x82 "out of disk space", unapplied; reads keep working', () => {
    const t = setup();
    t.send(t.set('k', 'v'));
    t.state.admission = 'full';
    const before = t.effects.length;
    expect(t.replies(
      t.set('k', 'new'), t.set('q', 'x', 0, 0, OP.setq), t.req(OP.delete, { key: 'k' }), t.req(OP.incr, { key: 'n', extras: deltaExtras(1n, 1n) }),
      t.req(OP.appendq, { key: 'k', value: 'x' }), t.req(OP.touch, { key: 'k', extras: u32s(5) }), t.req(OP.flushq),
      t.req(OP.setq, { key: 'k', extras: storeExtras(), value: Buffer.alloc(2 << 20) }), t.req(OP.get, { key: 'k', opaque: 1 }),
    )).toEqual([
      err(OP.set, 0x82, 'out of disk space'), err(OP.setq, 0x82, 'out of disk space'), err(OP.delete, 0x82, 'out of disk space'), err(OP.incr, 0x82, 'out of disk space'),
      err(OP.appendq, 0x82, 'out of disk space'), err(OP.touch, 0x82, 'out of disk space'), err(OP.flushq, 0x82, 'out of disk space'),
      err(OP.setq, 0x82, 'out of disk space'), ok(OP.get, 1, 'extras=00000000 value="v"', 1),
    ]);
    expect(t.effects.length).toBe(before);
  });

  it('each reply commits the WAL sequence it reflects: writes their effect, hits the item\'s, misses the last removal, quiet writes too', () => {
    const t = setup();
    const lastSeq = () => t.effects.at(-1)!.seq;
    const [setq] = t.send(t.set('a', '1', 0, 0, OP.setq));
    expect(setq).toEqual({ seq: lastSeq(), closeAfter: false, bytes: Buffer.alloc(0) });
    const aSeq = lastSeq();
    t.send(t.set('b', '2'), t.req(OP.deleteq, { key: 'b' }));
    const removal = lastSeq();
    t.send(t.set('c', '3'));
    expect(t.send(t.req(OP.getq, { key: 'a' }), t.req(OP.getkq, { key: 'b' }), t.req(OP.get, { key: 'zz' }), t.req(OP.noop), t.req(OP.version)).map((c) => c.seq))
      .toEqual([aSeq, removal, removal, 0, 0]);
    const [incr] = t.send(t.req(OP.incrq, { key: 'n', extras: deltaExtras(1n, 7n) }));
    expect(incr!.seq).toBe(lastSeq());
    const [flush] = t.send(t.req(OP.flushq));
    expect(flush!.seq).toBe(lastSeq());
  });
});

describe('binary protocol over a real connection', () => {
  /** A socket collecting what it receives. */
  async function open(port: number): Promise<{ socket: Socket; received: () => Buffer }> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((r) => socket.once('connect', r));
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => { got = Buffer.concat([got, d]); });
    return { socket, received: () => got };
  }
  const settle = () => new Promise((r) => setTimeout(r, 60));

  it('a first byte of 0x80 speaks binary, any other text; a reply, and a noop after a quiet write, wait until the write is durable', async () => {
    const effects: Effect[] = [];
    const engine = new Engine({ memoryLimitBytes: 64 << 20, itemSizeMaxBytes: 1 << 20, evictionsDisabled: false }, (e) => effects.push(e));
    let acked = 0;
    const listeners: Array<() => void> = [];
    const backend: Backend = {
      engine, now: () => Date.now(), ackedSeq: () => acked, onAck: (l) => { listeners.push(l); },
      writeAdmission: () => 'ok', whenAdmissible: async () => {}, storageStats: () => [],
    };
    const ackAll = () => { acked = engine.lastSeq; for (const l of listeners) l(); };
    const server = await startServer(settingsFor(), backend, () => {});
    const binary = await open(server.address.port);
    const text = await open(server.address.port);
    try {
      binary.socket.write(Buffer.concat([frame(OP.setq, { key: 'k', extras: storeExtras(), value: 'v' }), frame(OP.noop, { opaque: 1 })]));
      text.socket.write('version\r\n');
      await settle();
      expect(effects).toHaveLength(1);
      expect(binary.received().length, 'the noop waits for the setq to be durable').toBe(0);
      expect(text.received().toString()).toBe(`VERSION ${server_version}\r\n`);
      ackAll();
      await settle();
      expect(readPackets(binary.received()).packets.map(describePacket)).toEqual([ok(OP.noop, 0, '', 1)]);

      binary.socket.write(frame(OP.set, { key: 'k', extras: storeExtras(), value: 'w', opaque: 2 }));
      await settle();
      expect(readPackets(binary.received()).packets, 'the set reply waits').toHaveLength(1);
      ackAll();
      await settle();
      expect(readPackets(binary.received()).packets.map(describePacket).at(-1)).toBe(ok(OP.set, 2, '', 2));
    } finally {
      binary.socket.destroy();
      text.socket.destroy();
      server.stopAccepting();
      await server.closeConnections();
    }
  });
});
