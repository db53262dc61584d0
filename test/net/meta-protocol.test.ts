// Meta requests run in-process on a real engine with a hand-moved clock:
// the WAL position each reply commits (the visibility contract), which
// requests need WAL admission, times shown in seconds (t, l, me's exp and la)
// as the clock moves, and our deliberate deviations from memcached.
// test/e2e/meta.test.ts compares replies with a running memcached.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { Effect } from '../../src/engine/types.js';
import type { Backend } from '../../src/net/backend.js';
import { Chunks } from '../../src/net/output.js';
import type { ServerContext } from '../../src/net/protocol.js';
import type { Request } from '../../src/net/requests.js';
import { TextProtocol } from '../../src/net/text-protocol.js';

const T0 = 1_700_000_000_000;

interface Answer { reply: string; seq: number }

/** A protocol over a real engine, a clock the test moves, and every effect recorded. */
class Bench {
  now = T0;
  readonly effects: Effect[] = [];
  readonly engine = new Engine({ memoryLimitBytes: 64 << 20, itemSizeMaxBytes: 1 << 20, evictionsDisabled: false, startedAtMs: T0 }, (e) => this.effects.push(e));
  readonly protocol: TextProtocol;

  constructor() {
    const backend: Backend = {
      engine: this.engine,
      now: () => this.now,
      ackedSeq: () => Number.MAX_SAFE_INTEGER,
      onAck: () => {},
      writeAdmission: () => 'ok',
      whenAdmissible: () => Promise.resolve(),
      storageStats: () => [],
    };
    const ctx: ServerContext = {
      backend,
      settings: { host: '127.0.0.1', port: 0, connectionLimit: 10, itemSizeMaxBytes: 1 << 20, verbosity: 0, dataDir: '-', fsyncMode: 'always', evictionsDisabled: false, strictKeys: false },
      counters: { currConnections: 0, totalConnections: 0, rejectedConnections: 0, bytesRead: 0, bytesWritten: 0, idleKicks: 0 },
      startedAtMs: T0,
      log: () => {},
    };
    this.protocol = new TextProtocol(ctx);
  }

  /** The requests in `input`, parsed. */
  parse(input: string): Request[] {
    this.protocol.push(Buffer.from(input, 'latin1'));
    const requests: Request[] = [];
    for (let r = this.protocol.next(); r !== null; r = this.protocol.next()) requests.push(r);
    this.protocol.detachInput();
    return requests;
  }

  /** Runs each request of `input`; each must commit exactly once. */
  run(input: string): Answer[] {
    return this.parse(input).map((request) => {
      const commits: number[] = [];
      const sink = { reply: new Chunks(), commit: (seq: number) => { commits.push(seq); } };
      this.protocol.execute(request, sink);
      expect(commits, JSON.stringify(input)).toHaveLength(1);
      return { reply: Buffer.concat(sink.reply.take()).toString('latin1'), seq: commits[0]! };
    });
  }

  /** The single reply of a one-request input. */
  reply(input: string): string {
    const answers = this.run(input);
    expect(answers).toHaveLength(1);
    return answers[0]!.reply;
  }

  get lastEffect(): Effect { return this.effects.at(-1)!; }
}

describe('visibility: each meta reply commits the WAL position it reflects', () => {
  it('ms commits its put; a refused ms the item it saw; a quiet one still commits', () => {
    const b = new Bench();
    const [stored] = b.run('ms k 1 T100\r\na\r\n');
    expect(stored).toEqual({ reply: 'HD\r\n', seq: b.lastEffect.seq });
    const [refused] = b.run('ms k 1 ME\r\nb\r\n');
    expect(refused).toEqual({ reply: 'NS\r\n', seq: stored!.seq });
    const [quiet] = b.run('ms q 1 q\r\nc\r\n');
    expect(quiet).toEqual({ reply: '', seq: b.lastEffect.seq });
    expect(quiet!.seq).toBeGreaterThan(stored!.seq);
  });

  it('mg commits the item it shows, a T its touch, an N its put, a miss the last removal', () => {
    const b = new Bench();
    b.run('ms k 1\r\na\r\n');
    const putSeq = b.lastEffect.seq;
    b.run('ms gone 1\r\na\r\nmd gone\r\n');
    const delSeq = b.lastEffect.seq;
    expect(b.run('mg k v\r\n')[0]).toEqual({ reply: 'VA 1\r\na\r\n', seq: putSeq });
    expect(b.run('mg gone v\r\n')[0]).toEqual({ reply: 'EN\r\n', seq: delSeq });
    expect(b.run('mg gone v q\r\n')[0]).toEqual({ reply: '', seq: delSeq });
    const [touched] = b.run('mg k T60\r\n');
    expect(b.lastEffect).toMatchObject({ kind: 'touch', key: 'k', expiresAtMs: T0 + 60_000 });
    expect(touched!.seq).toBe(b.lastEffect.seq);
    const [created] = b.run('mg new N30 s\r\n');
    expect(b.lastEffect).toMatchObject({ kind: 'put', key: 'new', expiresAtMs: T0 + 30_000, flags: 0 });
    expect(created).toEqual({ reply: 'HD s0 W\r\n', seq: b.lastEffect.seq });
  });

  it('mg without T or N writes nothing, and T to the same expiry writes nothing more', () => {
    const b = new Bench();
    b.run('ms k 1 T60\r\na\r\n');
    const n = b.effects.length;
    b.run('mg k v s t c f h l k Oo\r\nmg k N30 R10\r\nmg k T60\r\n');
    expect(b.effects).toHaveLength(n);
  });

  it('md, md I, ma and me commit what they changed or saw', () => {
    const b = new Bench();
    b.run('ms k 1\r\n5\r\n');
    const [inc] = b.run('ma k v\r\n');
    expect(b.lastEffect).toMatchObject({ kind: 'put', value: Buffer.from('6') });
    expect(inc).toEqual({ reply: 'VA 1\r\n6\r\n', seq: b.lastEffect.seq });
    const [inv] = b.run('md k I q\r\n');
    expect(b.lastEffect).toMatchObject({ kind: 'put', value: Buffer.from('6') });
    expect(inv).toEqual({ reply: '', seq: b.lastEffect.seq });
    expect(b.run('me k\r\n')[0]!.seq).toBe(b.lastEffect.seq);
    const [del] = b.run('md k\r\n');
    expect(b.lastEffect).toMatchObject({ kind: 'del', key: 'k' });
    expect(del).toEqual({ reply: 'HD\r\n', seq: b.lastEffect.seq });
    expect(b.run('me k\r\n')[0]).toEqual({ reply: 'EN\r\n', seq: b.lastEffect.seq });
  });

  it('a too-large ms removes the old item and commits that removal', () => {
    const b = new Bench();
    b.run('ms k 1\r\na\r\n');
    const big = 'x'.repeat(1 << 20);
    const [refused] = b.run(`ms k ${big.length} q\r\n${big}\r\n`);
    expect(refused!.reply).toBe('SERVER_ERROR object too large for cache\r\n');
    expect(b.lastEffect).toMatchObject({ kind: 'del', key: 'k' });
    expect(refused!.seq).toBe(b.lastEffect.seq);
  });
});

describe('WAL admission and a full disk', () => {
  it('mutations are ms, md, ma and an mg with T or N', () => {
    const b = new Bench();
    const mutates = (line: string) => b.parse(line).map((r) => b.protocol.isMutation(r));
    expect(mutates('ms k 1\r\na\r\nmd k\r\nma k\r\nmg k T1\r\nmg k N1\r\n')).toEqual([true, true, true, true, true]);
    expect(mutates('mg k v s t c R5 h l\r\nme k\r\nmn\r\nmg\r\n')).toEqual([false, false, false, false]);
  });

  it('a refused meta request is answered even with q', () => {
    const b = new Bench();
    const [request] = b.parse('ms k 1 q\r\na\r\n');
    const sink = { reply: new Chunks(), seqs: [] as number[], commit(seq: number) { this.seqs.push(seq); } };
    b.protocol.refuseDiskFull(request!, sink);
    expect(Buffer.concat(sink.reply.take()).toString()).toBe('SERVER_ERROR out of disk space\r\n');
    expect(sink.seqs).toEqual([0]);
    expect(b.effects).toHaveLength(0);
  });
});

describe('times in seconds follow the clock', () => {
  it('t counts down (rounded up), l and me show the time since the last access', () => {
    const b = new Bench();
    b.run('ms k 1 T100\r\na\r\n');
    b.now = T0 + 30_500;
    expect(b.reply('mg k t l h\r\n')).toBe('HD t70 l30 h0\r\n');
    expect(b.reply('me k\r\n')).toMatch(/^ME k exp=-70 la=0 cas=\d+ fetch=yes cls=1 size=61\r\n$/);
    b.now = T0 + 40_500;
    expect(b.reply('mg k l u\r\n')).toBe('HD l10\r\n');
    b.now = T0 + 50_500;
    expect(b.reply('mg k l\r\n')).toBe('HD l20\r\n');
    b.now = T0 + 100_000;
    expect(b.reply('mg k t\r\n')).toBe('EN\r\n');
  });

  it('an item recovered from disk (no access time) counts its idle time from the server\'s start', () => {
    const b = new Bench();
    b.engine.applyEffect({ kind: 'put', seq: 1, key: 'k', value: Buffer.from('v'), flags: 0, expiresAtMs: 0, cas: 1 });
    b.now = T0 + 7_000;
    expect(b.reply('mg k l h\r\n')).toBe('HD l7 h0\r\n');
    expect(b.reply('me k\r\n')).toBe('ME k exp=-1 la=0 cas=1 fetch=yes cls=1 size=61\r\n');
  });

  it('R wins once the TTL left is below its token, once; md I hands the token out again', () => {
    const b = new Bench();
    b.run('ms k 1 T50\r\na\r\n');
    b.now = T0 + 5_000;
    expect(b.reply('mg k R40 t\r\n')).toBe('HD t45\r\n');
    b.now = T0 + 15_000;
    expect(b.reply('mg k R40 t\r\n')).toBe('HD t35 W\r\n');
    expect(b.reply('mg k R40 t\r\n')).toBe('HD t35 Z\r\n');
    b.run('md k I\r\n');
    expect(b.reply('mg k R40\r\n')).toBe('HD X W\r\n');
    expect(b.reply('mg k R40\r\n')).toBe('HD Z X\r\n');
  });

  it('an absolute exptime (past 30 days) counts from the epoch', () => {
    const b = new Bench();
    const at = T0 / 1000 + 3600;
    b.run(`ms k 1 T${at}\r\na\r\n`);
    expect(b.reply('mg k t\r\n')).toBe('HD t3600\r\n');
    expect(b.reply(`mg k R${at + 1}\r\n`)).toBe('HD W\r\n');
  });
});

describe('deliberate deviations from memcached 1.6.18', () => {
  it('ma T applies even when the number grows longer (memcached loses it there)', () => {
    const b = new Bench();
    b.run('ms n 1\r\n9\r\n');
    // memcached answers the same, then shows t-1 for the item, as if T had not been sent.
    expect(b.reply('ma n T300 t v\r\n')).toBe('VA 2 t300\r\n10\r\n');
    expect(b.reply('mg n t v\r\n')).toBe('VA 2 t300\r\n10\r\n');
  });

  it('a key no text line can carry is sent base64 even without its base64 mark', () => {
    const b = new Bench();
    // mg N makes an item without the mark, as memcached does; memcached would then write "foo bar" raw.
    expect(b.reply('mg Zm9vIGJhcg== b N30 k\r\n')).toBe('HD kZm9vIGJhcg== b W\r\n');
    expect(b.reply('me Zm9vIGJhcg== b\r\n')).toMatch(/^ME Zm9vIGJhcg== exp=-30 /);
    // A printable key without the mark goes back as it is, as in memcached.
    expect(b.reply('mg Zm9v b N30 k\r\n')).toBe('HD kfoo W\r\n');
  });
});

describe('as memcached 1.6.18, where the differential test (test/diff) found us apart', () => {
  it('a classic touch marks the item fetched, as gat does (memcached bumps both)', () => {
    const b = new Bench();
    b.run('set k 0 0 1\r\na\r\nset g 0 0 1\r\na\r\n');
    expect(b.run('touch k 0\r\ngat 0 g\r\n').map((a) => a.reply)).toEqual(['TOUCHED\r\n', 'VALUE g 0 1\r\na\r\nEND\r\n']);
    expect(b.reply('mg k h\r\n')).toBe('HD h1\r\n');
    expect(b.reply('mg g h\r\n')).toBe('HD h1\r\n');
  });
});
