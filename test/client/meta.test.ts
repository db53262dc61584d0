// The meta-command client (mg ms md ma mn me) against stock memcached 1.6.18,
// which implements them: typed options, raw flags, binary keys, opaque
// tokens, and quiet mode pipelined with mn (counted on the wire through a
// recording proxy).

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { MemcachedError } from '../../src/client/errors.js';
import { startMemcached, stopDaemons, type Daemon } from '../e2e/daemons.js';
import { countLines, recordingProxy, type Recorder } from './helpers.js';

let memcached: Daemon;
let proxy: Recorder;
let c: Client;

beforeAll(async () => {
  memcached = await startMemcached();
  proxy = await recordingProxy(memcached.port);
});
beforeEach(async () => {
  c?.close();
  c = new Client({ port: proxy.port });
  await c.flushAll();
});
afterAll(async () => {
  c.close();
  await proxy.close();
  await stopDaemons();
});

describe('meta commands, typed', () => {
  it('ms stores with flags and TTL; mg returns exactly the fields asked for', async () => {
    const set = await c.metaSet('m1', 'hello', { flags: 42, ttl: 100, returnCas: true });
    expect(set.code).toBe('HD');
    expect(set.cas).toBeGreaterThan(0n);
    const got = await c.metaGet('m1', { returnValue: true, returnFlags: true, returnTtl: true, returnCas: true, returnSize: true, returnKey: true, returnHit: true, returnLastAccess: true });
    expect(got).toMatchObject({ code: 'VA', clientFlags: 42, cas: set.cas, size: 5, key: 'm1', hit: false, lastAccess: 0 });
    expect(got.value?.toString()).toBe('hello');
    expect(got.ttl).toBeGreaterThan(98);
    const noValue = await c.metaGet('m1', { returnHit: true });
    expect([noValue.code, noValue.hit, noValue.value]).toEqual(['HD', true, undefined]);
    expect((await c.metaGet('absent', { returnValue: true })).code).toBe('EN');
  });

  it('ms modes and compare-and-swap: NS, EX, NF as memcached answers', async () => {
    expect((await c.metaSet('s', 'a', { mode: 'add' })).code).toBe('HD');
    expect((await c.metaSet('s', 'b', { mode: 'add' })).code).toBe('NS');
    expect((await c.metaSet('none', 'b', { mode: 'replace' })).code).toBe('NS');
    expect((await c.metaSet('s', '>', { mode: 'prepend' })).code).toBe('HD');
    expect((await c.metaSet('s', '<', { mode: 'append' })).code).toBe('HD');
    const { cas } = await c.metaGet('s', { returnCas: true });
    expect((await c.metaSet('s', 'stale', { compareCas: cas! + 1n })).code).toBe('EX');
    expect((await c.metaSet('none', 'x', { compareCas: 1n })).code).toBe('NF');
    expect((await c.metaSet('s', 'new', { compareCas: cas! })).code).toBe('HD');
    expect((await c.get('s'))?.value.toString()).toBe('new');
    expect((await c.metaSet('s', 'x', { mode: 'set', ttl: -1 })).code).toBe('HD');
    expect((await c.metaGet('s')).code).toBe('EN');
  });

  it('ms with invalidate accepts an older CAS and marks the item stale; mg with noBump leaves it unfetched', async () => {
    const first = await c.metaSet('inv', 'a', { returnCas: true });
    await c.metaSet('inv', 'b');
    expect((await c.metaSet('inv', 'c', { compareCas: first.cas!, invalidate: true })).code).toBe('HD');
    const got = await c.metaGet('inv', { returnValue: true });
    expect([got.value?.toString(), got.stale, got.win]).toEqual(['c', true, true]);
    await c.metaSet('peek', 'x');
    expect((await c.metaGet('peek', { noBump: true, returnHit: true })).hit).toBe(false);
    expect((await c.metaGet('peek', { returnHit: true })).hit).toBe(false);
    expect((await c.metaGet('peek', { returnHit: true })).hit).toBe(true);
  });

  it('md deletes, compares CAS, and invalidates: the next mg sees X (stale) and W, the one after Z', async () => {
    await c.metaSet('d', 'v');
    expect((await c.metaDelete('d', { compareCas: 1n })).code).toBe('EX');
    expect((await c.metaDelete('d')).code).toBe('HD');
    expect((await c.metaDelete('d')).code).toBe('NF');
    await c.metaSet('d', 'v', { ttl: 300 });
    expect((await c.metaDelete('d', { invalidate: true, ttl: 30 })).code).toBe('HD');
    const first = await c.metaGet('d', { returnValue: true, returnTtl: true });
    expect([first.stale, first.win, first.alreadyWon, first.value?.toString()]).toEqual([true, true, undefined, 'v']);
    expect(first.ttl).toBeLessThanOrEqual(30);
    const second = await c.metaGet('d', { returnValue: true });
    expect([second.stale, second.win, second.alreadyWon]).toEqual([true, undefined, true]);
  });

  it('mg vivifies on a miss (W, then Z) and wins a recache below the R threshold', async () => {
    const first = await c.metaGet('viv', { vivify: 30, returnValue: true });
    expect([first.code, first.win, first.value?.length]).toEqual(['VA', true, 0]);
    expect((await c.metaGet('viv', { vivify: 30 })).alreadyWon).toBe(true);
    await c.metaSet('rc', 'x', { ttl: 60 });
    expect((await c.metaGet('rc', { recache: 90 })).win).toBe(true);
    expect((await c.metaGet('rc', { recache: 90 })).alreadyWon).toBe(true);
    const touched = await c.metaGet('rc', { ttl: 500, returnTtl: true });
    expect(touched.ttl).toBeGreaterThan(400);
  });

  it('ma: NF on a miss, auto-create with an initial value, delta, decrement to 0, 64-bit wrap', async () => {
    expect((await c.metaArithmetic('n')).code).toBe('NF');
    const created = await c.metaArithmetic('n', { vivify: 0, initial: 10n, returnValue: true });
    expect([created.code, created.value?.toString()]).toEqual(['VA', '10']);
    const up = await c.metaArithmetic('n', { delta: 5, returnValue: true, returnCas: true, returnTtl: true });
    expect([up.value?.toString(), up.ttl]).toEqual(['15', -1]);
    expect(up.cas).toBeGreaterThan(0n);
    expect((await c.metaArithmetic('n', { mode: 'decr', delta: 100, returnValue: true })).value?.toString()).toBe('0');
    await c.set('big', '18446744073709551615');
    expect((await c.metaArithmetic('big', { returnValue: true })).value?.toString()).toBe('0');
    expect((await c.metaArithmetic('n', { delta: 1 })).code).toBe('HD');
    await c.set('text', 'abc');
    await expect(c.metaArithmetic('text')).rejects.toThrow(new MemcachedError('CLIENT_ERROR cannot increment or decrement non-numeric value'));
  });

  it('mn answers MN; me gives the item fields, undefined on a miss', async () => {
    expect((await c.metaNoop()).code).toBe('MN');
    await c.set('dbg', 'x');
    const fields = await c.metaDebug('dbg');
    expect([...fields!.keys()]).toEqual(['exp', 'la', 'cas', 'fetch', 'cls', 'size']);
    expect(fields!.get('exp')).toBe('-1');
    expect(await c.metaDebug('absent')).toBeUndefined();
  });

  it('binary keys travel base64 with b; opaque tokens come back', async () => {
    const key = Buffer.from([0x00, 0x20, 0x0a, 0xff, 0x41]);
    expect((await c.metaSet(key, 'bin')).code).toBe('HD');
    const got = await c.metaGet(key, { returnValue: true, returnKey: true, opaque: 'req-7' });
    expect(got.value?.toString()).toBe('bin');
    expect(Buffer.isBuffer(got.key) && got.key.equals(key)).toBe(true);
    expect(got.opaque).toBe('req-7');
    expect((await c.metaDebug(key))?.get('size')).toBeDefined();
    // The same item by its base64 text and raw flags; and "abc" as text or as bytes is one item.
    expect((await c.meta('mg', key.toString('base64'), ['b', 'v'])).value?.toString()).toBe('bin');
    await c.metaSet('abc', 'text key');
    expect((await c.metaGet(Buffer.from('abc'), { returnValue: true })).value?.toString()).toBe('text key');
  });

  it('refuses bad arguments before sending anything', async () => {
    await expect(c.metaGet('has space')).rejects.toThrow(TypeError);
    await expect(c.metaSet('k', 'v', { flags: 2 ** 32 })).rejects.toThrow(TypeError);
    await expect(c.metaSet('k', 'v', { mode: 'upsert' as 'set' })).rejects.toThrow(/unknown mode/);
    await expect(c.metaGet('k', { opaque: 'x'.repeat(33) })).rejects.toThrow(TypeError);
    await expect(c.meta('mg', 'k', ['v v'])).rejects.toThrow(TypeError);
    await expect(c.meta('mn', 'k')).rejects.toThrow(TypeError);
  });
});

describe('quiet mode and pipelining', () => {
  it('100 pipelined quiet ms resolve as suppressed HD with one mn on the wire', async () => {
    const before = proxy.sent().length;
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => c.metaSet(`q${i}`, `v${i}`, { quiet: true })));
    expect(replies.every((r) => r.code === 'HD' && r.suppressed === true)).toBe(true);
    const wire = proxy.sent().slice(before);
    expect(countLines(wire, 'ms')).toBe(100);
    expect(countLines(wire, 'mn')).toBe(1);
    const back = await c.getMulti(Array.from({ length: 100 }, (_, i) => `q${i}`));
    expect(back.size).toBe(100);
  });

  it('quiet mg: hits come back matched by opaque, misses are suppressed EN, in one run', async () => {
    await Promise.all(['a', 'c', 'e'].map((k) => c.set(k, k.toUpperCase())));
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    const replies = await Promise.all(keys.map((k, i) => c.metaGet(k, { returnValue: true, quiet: true, ...(i % 2 ? { opaque: `mine${i}` } : {}) })));
    expect(replies.map((r) => [r.code, r.value?.toString(), r.suppressed])).toEqual([
      ['VA', 'A', undefined], ['EN', undefined, true], ['VA', 'C', undefined], ['EN', undefined, true], ['VA', 'E', undefined], ['EN', undefined, true],
    ]);
    // The client's own opaque never shows; the caller's would on hits (b, d, f missed).
    expect(replies[0]!.tokens.some((t) => t.startsWith('O'))).toBe(false);
  });

  it('a quiet failure among suppressed successes goes to its own request', async () => {
    await c.set('exists', 'x');
    const [a, b, d] = await Promise.all([
      c.metaSet('new1', 'x', { mode: 'add', quiet: true }),
      c.metaSet('exists', 'y', { mode: 'add', quiet: true }),
      c.metaDelete('absent', { quiet: true }),
    ]);
    expect([a.code, a.suppressed, b.code, b.suppressed, d.code]).toEqual(['HD', true, 'NS', undefined, 'NF']);
  });

  it('an error reply in a quiet run rejects its request; the rest of the run still settles', async () => {
    await c.set('text', 'abc');
    const [bad, ok] = await Promise.allSettled([c.metaArithmetic('text', { quiet: true }), c.metaSet('fine', 'x', { quiet: true })]);
    expect(bad.status === 'rejected' && bad.reason).toEqual(new MemcachedError('CLIENT_ERROR cannot increment or decrement non-numeric value'));
    expect(ok.status === 'fulfilled' && ok.value.code).toBe('HD');
  });

  it('a request that is not quiet ends the run; a caller mn ends it without a second mn; a repeated opaque starts a new run', async () => {
    let before = proxy.sent().length;
    const [q1, got, q2] = await Promise.all([c.metaSet('x1', '1', { quiet: true }), c.get('x1'), c.metaSet('x2', '2', { quiet: true })]);
    expect([q1.suppressed, got?.value.toString(), q2.suppressed]).toEqual([true, '1', true]);
    expect(countLines(proxy.sent().slice(before), 'mn')).toBe(2);

    before = proxy.sent().length;
    const [q3, mn] = await Promise.all([c.metaSet('x3', '3', { quiet: true }), c.metaNoop()]);
    expect([q3.suppressed, mn.code]).toEqual([true, 'MN']);
    expect(countLines(proxy.sent().slice(before), 'mn')).toBe(1);

    before = proxy.sent().length;
    const same = await Promise.all([c.metaGet('x1', { quiet: true, opaque: 'dup', returnValue: true }), c.metaGet('x2', { quiet: true, opaque: 'dup', returnValue: true })]);
    expect(same.map((r) => r.value?.toString())).toEqual(['1', '2']);
    expect(countLines(proxy.sent().slice(before), 'mn')).toBe(2);
  });

  it('classic and meta requests pipelined on one connection are answered in order', async () => {
    const n = 300;
    const ops = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? c.set(`p${i}`, `${i}`)
      : i % 3 === 1 ? c.metaSet(`p${i}`, `${i}`, { quiet: i % 2 === 0 })
        : c.metaGet(`p${i - 1}`, { returnValue: true })));
    const replies = await Promise.all(ops);
    replies.forEach((r, i) => {
      if (i % 3 === 2) expect((r as { value?: Buffer }).value?.toString()).toBe(String(i - 1));
    });
  });
});
