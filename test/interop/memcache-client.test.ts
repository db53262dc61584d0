// Interop: the npm client `memcache-client` (electrode-io, promise API, text
// protocol) against our server (or stock memcached with
// INTEROP_SERVER=memcached, see target.ts), driven only through its public API.
// Every acknowledged write, including noreply writes that a later reply on the
// same connection showed applied, is read back through the same client object
// after our server is killed with SIGKILL (kill -9) and started again on the
// same port and data dir.
//
// Client facts this relies on: stores resolve to ['STORED'] and reject with
// Error('NOT_STORED' | 'EXISTS' | 'NOT_FOUND'); a miss resolves undefined;
// incr/decr resolve to the number as a string; every store carries the
// client's default lifetime of 60 s unless told otherwise; noreply resolves
// at once without waiting for the server.

import { MemcacheClient, type MultiRetrievalResponse, type StatsCommandResponse } from 'memcache-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckedWrites, asText, patterned, shortTtlS, shortTtlWaitMs, size1MiB, size500KiB, sleep } from './scenario.js';
import { cleanupTargets, startTarget, type Target } from './target.js';

let target: Target;
let client: MemcacheClient;
const acked = new AckedWrites();

beforeAll(async () => {
  target = await startTarget();
  client = new MemcacheClient({ server: `127.0.0.1:${target.port}`, cmdTimeout: 5000 });
});

afterAll(async () => {
  client?.shutdown();
  await target?.stop();
  await cleanupTargets();
});

const value = async (key: string) => (await client.get<string | Buffer>(key))?.value;
const set = async (key: string, text: string, lifetime?: number) => {
  expect(await client.set(key, text, lifetime === undefined ? {} : { lifetime })).toEqual(['STORED']);
  acked.stored(key, text);
};

describe('memcache-client', () => {
  it('set then get a short value', async () => {
    await set('greeting', 'hello from memcache-client');
    expect(await value('greeting')).toBe('hello from memcache-client');
    expect(await client.get('never-set')).toBeUndefined();
  });

  it('stores and returns a 500 KiB and a 1 MiB value intact', async () => {
    for (const [key, size] of [['big:500k', size500KiB], ['big:1m', size1MiB]] as const) {
      const text = patterned(size, key);
      await set(key, text);
      expect(asText(await value(key))).toBe(text);
    }
  });

  it('multi-get returns every hit and leaves out the misses', async () => {
    await set('multi:a', 'A');
    await set('multi:b', 'B');
    const got = await client.get<MultiRetrievalResponse<string>>(['multi:a', 'multi:missing', 'multi:b']);
    expect(Object.keys(got).sort()).toEqual(['multi:a', 'multi:b']);
    expect(got['multi:a']?.value).toBe('A');
    expect(got['multi:b']?.value).toBe('B');
  });

  it('incr and decr (decr floors at 0; a missing key rejects NOT_FOUND)', async () => {
    await set('counter', '10');
    expect(await client.incr('counter', 5)).toBe('15');
    expect(await client.decr('counter', 20)).toBe('0');
    expect(await client.incr('counter', 7)).toBe('7');
    // memcached rewrites a shorter number in place, padded with spaces to the old length.
    expect(await value('counter')).toBe('7 ');
    acked.stored('counter', '7 ');
    await expect(client.incr('counter:missing', 1)).rejects.toThrow(/^NOT_FOUND$/);
  });

  it('gets returns a cas id; cas with it stores, a stale one rejects EXISTS', async () => {
    await set('cas:key', 'v1');
    const first = await client.gets<string>('cas:key');
    expect(first.value).toBe('v1');
    expect(String(first.casUniq)).toMatch(/^\d+$/);
    expect(await client.cas('cas:key', 'v2', { casUniq: first.casUniq })).toEqual(['STORED']);
    acked.stored('cas:key', 'v2');
    await expect(client.cas('cas:key', 'v3', { casUniq: first.casUniq })).rejects.toThrow(/^EXISTS$/);
    expect(await value('cas:key')).toBe('v2');
  });

  it('touch extends a TTL: the touched item outlives an untouched twin', async () => {
    await set('ttl:touched', 'stays', shortTtlS);
    await set('ttl:untouched', 'goes', shortTtlS);
    expect(await client.touch('ttl:touched', 3600)).toEqual(['TOUCHED']);
    await expect(client.touch('ttl:missing', 3600)).rejects.toThrow(/^NOT_FOUND$/);
    await sleep(shortTtlWaitMs);
    expect(await value('ttl:touched')).toBe('stays');
    expect(await client.get('ttl:untouched')).toBeUndefined();
    acked.deleted('ttl:untouched'); // expired: must stay gone after the restart too
  });

  it('delete removes a key; deleting a missing key rejects NOT_FOUND', async () => {
    await set('doomed', 'x');
    expect(await client.delete('doomed')).toEqual(['DELETED']);
    acked.deleted('doomed');
    expect(await client.get('doomed')).toBeUndefined();
    await expect(client.delete('doomed')).rejects.toThrow(/^NOT_FOUND$/);
  });

  it('noreply set, incr and delete apply in order; the next reply shows them', async () => {
    await set('nr:gone', 'soon deleted');
    await client.set('nr:set', 'quiet', { noreply: true });
    await client.set('nr:count', '41', { noreply: true });
    await client.incr('nr:count', 1, { noreply: true });
    await client.delete('nr:gone', { noreply: true });
    const got = await client.get<MultiRetrievalResponse<string>>(['nr:set', 'nr:count', 'nr:gone']);
    expect(got['nr:set']?.value).toBe('quiet');
    expect(got['nr:count']?.value).toBe('42');
    expect(got['nr:gone']).toBeUndefined();
    // A reply after them on the same connection: from here on they count as acknowledged.
    acked.stored('nr:set', 'quiet');
    acked.stored('nr:count', '42');
    acked.deleted('nr:gone');
  });

  it('stats: the STAT lines parse and the counters move with the traffic', async () => {
    const stats = async () => new Map((await client.cmd<StatsCommandResponse>('stats')).STAT.map(([k, v]) => [k!, v!]));
    const before = await stats();
    expect(before.get('pid')).toMatch(/^\d+$/);
    expect(before.get('version')).toMatch(/^\d+\.\d+\.\d+/);
    await client.get('greeting');
    await client.get('never-set');
    const after = await stats();
    const delta = (name: string) => Number(after.get(name)) - Number(before.get(name));
    expect(delta('cmd_get')).toBe(2);
    expect(delta('get_hits')).toBe(1);
    expect(delta('get_misses')).toBe(1);
    expect(Number(after.get('curr_items'))).toBeGreaterThanOrEqual(10);
  });

  it('every acknowledged write survives kill -9, read back through the same client', async () => {
    await target.restart('kill9');
    await acked.expectAll(async (key) => asText(await value(key)));
  });
});
