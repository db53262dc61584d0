// Interop: the npm client `memcached` (node-memcached 2.2, callback API, text
// protocol) against our server (or stock memcached with
// INTEROP_SERVER=memcached, see target.ts), driven only through its public API.
// Every acknowledged write is recorded and read back, through the same client
// object, after our server is stopped with SIGTERM and started again on the
// same port and data dir.
//
// Client facts this relies on: values come back as strings for flag 0; incr /
// decr / touch / delete answer false for NOT_FOUND and cas false for EXISTS;
// `stats` parses numeric STAT values to numbers. node-memcached has no public
// noreply (its command builder is never passed the flag), so there is no
// noreply check here. Its maxValue (1,048,576) lets exactly 1 MiB through.
// Its version() parses the VERSION line with /(\d+)\.(\d+)\.(\d+)$/: anything
// after the number makes it throw inside its socket data handler (an
// uncaught TypeError in the user's process) and never call back; that check
// runs last, bounded by a deadline, so it cannot disturb the others.

import Memcached from 'memcached';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckedWrites, asText, fromCallback, patterned, shortTtlS, shortTtlWaitMs, size1MiB, size500KiB, sleep, withDeadline } from './scenario.js';
import { cleanupTargets, startTarget, type Target } from './target.js';

let target: Target;
let client: Memcached;
const acked = new AckedWrites();

beforeAll(async () => {
  target = await startTarget();
  // Default options, as users construct it; it reconnects by itself after the restart.
  client = new Memcached(`127.0.0.1:${target.port}`);
});

afterAll(async () => {
  client?.end();
  await target?.stop();
  await cleanupTargets();
});

/** touch as node-memcached calls back: (err, true for TOUCHED / false for NOT_FOUND); @types/memcached leaves the result out. */
const touch = (key: string, lifetime: number) => fromCallback<boolean>((cb) =>
  (client.touch as unknown as (k: string, l: number, done: (err: unknown, ok: boolean) => void) => void).call(client, key, lifetime, cb));
const get = (key: string) => fromCallback<unknown>((cb) => client.get(key, cb));
const set = async (key: string, value: string, lifetime = 0) => {
  const ok = await fromCallback<boolean>((cb) => client.set(key, value, lifetime, cb));
  if (ok) acked.stored(key, value);
  return ok;
};

describe('node-memcached (npm memcached)', () => {
  it('set then get a short value', async () => {
    expect(await set('greeting', 'hello from node-memcached')).toBe(true);
    expect(await get('greeting')).toBe('hello from node-memcached');
    expect(await get('never-set')).toBeUndefined();
  });

  it('stores and returns a 500 KiB and a 1 MiB value intact', async () => {
    for (const [key, size] of [['big:500k', size500KiB], ['big:1m', size1MiB]] as const) {
      const value = patterned(size, key);
      expect(await set(key, value)).toBe(true);
      expect(asText(await get(key))).toBe(value);
    }
  });

  it('multi-get returns every hit and leaves out the misses', async () => {
    await set('multi:a', 'A');
    await set('multi:b', 'B');
    const got = await fromCallback<Record<string, unknown>>((cb) => client.getMulti(['multi:a', 'multi:missing', 'multi:b'], cb));
    expect(got).toEqual({ 'multi:a': 'A', 'multi:b': 'B' });
  });

  it('incr and decr (decr floors at 0; a missing key answers false)', async () => {
    await set('counter', '10');
    expect(await fromCallback<number | boolean>((cb) => client.incr('counter', 5, cb))).toBe(15);
    expect(await fromCallback<number | boolean>((cb) => client.decr('counter', 20, cb))).toBe(0);
    expect(await fromCallback<number | boolean>((cb) => client.incr('counter', 7, cb))).toBe(7);
    // memcached rewrites a shorter number in place, padded with spaces to the old length.
    expect(await get('counter')).toBe('7 ');
    acked.stored('counter', '7 ');
    expect(await fromCallback<number | boolean>((cb) => client.incr('counter:missing', 1, cb))).toBe(false);
  });

  it('gets returns a cas id; cas with it stores, a stale one answers false', async () => {
    await set('cas:key', 'v1');
    const first = await fromCallback<{ cas: string; [k: string]: unknown }>((cb) => client.gets('cas:key', cb));
    expect(first['cas:key']).toBe('v1');
    expect(first.cas).toMatch(/^\d+$/);
    expect(await fromCallback<boolean>((cb) => client.cas('cas:key', 'v2', first.cas, 0, cb))).toBe(true);
    acked.stored('cas:key', 'v2');
    expect(await fromCallback<boolean>((cb) => client.cas('cas:key', 'v3', first.cas, 0, cb))).toBe(false);
    expect(await get('cas:key')).toBe('v2');
  });

  it('touch extends a TTL: the touched item outlives an untouched twin', async () => {
    await set('ttl:touched', 'stays', shortTtlS);
    await set('ttl:untouched', 'goes', shortTtlS);
    expect(await touch('ttl:touched', 3600)).toBe(true);
    expect(await touch('ttl:missing', 3600)).toBe(false);
    await sleep(shortTtlWaitMs);
    expect(await get('ttl:touched')).toBe('stays');
    expect(await get('ttl:untouched')).toBeUndefined();
    acked.deleted('ttl:untouched'); // expired: must stay gone after the restart too
  });

  it('delete removes a key; deleting a missing key answers false', async () => {
    await set('doomed', 'x');
    expect(await fromCallback<boolean>((cb) => client.del('doomed', cb))).toBe(true);
    acked.deleted('doomed');
    expect(await get('doomed')).toBeUndefined();
    expect(await fromCallback<boolean>((cb) => client.del('doomed', cb))).toBe(false);
  });

  it('stats: counters parse as numbers and move with the traffic', async () => {
    const stats = async () => (await fromCallback<Memcached.StatusData[]>((cb) => client.stats(cb)))[0] as Record<string, unknown>;
    const before = await stats();
    expect(before['pid']).toEqual(expect.any(Number));
    expect(before['version']).toEqual(expect.stringMatching(/^\d+\.\d+\.\d+/));
    await get('greeting');
    await get('never-set');
    const after = await stats();
    expect(Number(after['cmd_get']) - Number(before['cmd_get'])).toBe(2);
    expect(Number(after['get_hits']) - Number(before['get_hits'])).toBe(1);
    expect(Number(after['get_misses']) - Number(before['get_misses'])).toBe(1);
    expect(Number(after['curr_items'])).toBeGreaterThanOrEqual(8);
  });

  it('every acknowledged write survives a SIGTERM restart, read back through the same client', async () => {
    await target.restart('term');
    await acked.expectAll(async (key) => asText(await get(key)));
  });

  it('version: node-memcached parses the VERSION line into major.minor.bugfix', async () => {
    const versions = await withDeadline(fromCallback<Memcached.VersionData[]>((cb) => client.version(cb)), 'node-memcached version', 2000);
    expect(versions).toHaveLength(1);
    expect(versions[0]!.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(versions[0]!.version).toBe(`${versions[0]!.major}.${versions[0]!.minor}.${versions[0]!.bugfix}`);
  });
});
