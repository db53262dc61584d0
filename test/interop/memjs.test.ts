// Interop: the npm client `memjs` 1.3 (promise API; it speaks only
// memcached's binary protocol) against our server (or stock memcached with
// INTEROP_SERVER=memcached, see target.ts), driven only through its public API.
// Every acknowledged write is read back through the same client object after
// our server is stopped with SIGTERM and started again on the same port and
// data dir. Until our server speaks the binary protocol these tests fail
// against it (each within memjs's request timeout); against stock memcached
// they pass, which is what proves them right.
//
// Client facts this relies on: values come back as Buffers; a miss is
// { value: null }; add/replace/delete/touch answer false for "exists" or "not
// found"; increment/decrement always send an initial value (0 unless given) and
// an expiry, so binary incr on a missing key creates it; append on a missing
// key rejects (memcached answers status 5, which memjs does not map to false).
// Two memjs 1.3.2 bugs shape the calls below: prepend() sends the append
// opcode (0x0E), so it appends; and the promise form of decrement() throws
// unless an options object is passed. And memjs never settles a request
// whose connection the server closed cleanly (it fails pending requests only
// on a socket error or its own timeout, whose timer dies with the socket), so
// every call here goes through bounded(): a hung call fails its test after
// op_deadline_ms instead of hanging the run.
// memjs 1.3.2 has no multi-key get, no gets/cas and no quiet (noreply)
// operations in its API, so those are not checked here; concurrent gets (one
// connection, pipelined) stand in for multi-get.

import { Client } from 'memjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckedWrites, asText, fromCallback, patterned, shortTtlS, shortTtlWaitMs, size1MiB, size500KiB, sleep, withDeadline } from './scenario.js';
import { cleanupTargets, startTarget, type Target } from './target.js';

const op_deadline_ms = 2000;

let target: Target;
let client: Client;
const acked = new AckedWrites();

beforeAll(async () => {
  target = await startTarget();
  // timeout (s) above memjs's 0.5 s default: a 1 MiB write waits for its fsync on a busy 2-core machine.
  client = bounded(Client.create(`127.0.0.1:${target.port}`, { timeout: 1.5, retries: 1, logger: { log: () => {} } }));
});

afterAll(async () => {
  client?.close();
  await target?.stop();
  await cleanupTargets();
});

/** The client with every promise-returning method raced against op_deadline_ms. */
function bounded(memjs: Client): Client {
  return new Proxy(memjs, {
    get(obj, name, receiver) {
      const member: unknown = Reflect.get(obj, name, receiver);
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) => {
        const result: unknown = member.apply(obj, args);
        return result instanceof Promise ? withDeadline(result, `memjs ${String(name)}`, op_deadline_ms) : result;
      };
    },
  });
}

const value = async (key: string) => asText((await client.get(key)).value);
const set = async (key: string, text: string, expires = 0) => {
  expect(await client.set(key, text, { expires })).toBe(true);
  acked.stored(key, text);
};

describe('memjs (binary protocol)', () => {
  it('set then get a short value', async () => {
    await set('greeting', 'hello from memjs');
    expect(await value('greeting')).toBe('hello from memjs');
    expect((await client.get('never-set')).value).toBeNull();
  });

  it('stores and returns a 500 KiB and a 1 MiB value intact', async () => {
    for (const [key, size] of [['big:500k', size500KiB], ['big:1m', size1MiB]] as const) {
      const text = patterned(size, key);
      await set(key, text);
      expect(await value(key)).toBe(text);
    }
  });

  it('pipelined gets on one connection each get their own answer', async () => {
    await set('multi:a', 'A');
    await set('multi:b', 'B');
    const got = await Promise.all(['multi:a', 'multi:missing', 'multi:b'].map(value));
    expect(got).toEqual(['A', null, 'B']);
  });

  it('add, replace, append, and prepend (which memjs 1.3.2 sends as append)', async () => {
    expect(await client.add('edit', 'mid')).toBe(true);
    expect(await client.add('edit', 'again')).toBe(false);
    expect(await client.replace('edit:missing', 'x')).toBe(false);
    expect(await client.append('edit', '-end')).toBe(true);
    expect(await client.prepend('edit', 'start-')).toBe(true);
    expect(await value('edit')).toBe('mid-endstart-');
    acked.stored('edit', 'mid-endstart-');
    expect(await client.replace('edit', 'replaced')).toBe(true);
    acked.stored('edit', 'replaced');
    await expect(client.append('edit:missing', 'x')).rejects.toThrow(/Item not stored/);
  });

  it('increment and decrement (decr floors at 0; a missing key starts at the initial value)', async () => {
    await set('counter', '10');
    expect(await client.increment('counter', 5)).toEqual({ success: true, value: 15 });
    expect(await client.decrement('counter', 20, {})).toEqual({ success: true, value: 0 });
    expect(await client.increment('counter', 7)).toEqual({ success: true, value: 7 });
    // memcached rewrites a shorter number in place, padded with spaces to the old length.
    expect(await value('counter')).toBe('7 ');
    acked.stored('counter', '7 ');
    expect(await client.increment('counter:fresh', 1, { initial: 100 })).toEqual({ success: true, value: 100 });
    expect(await value('counter:fresh')).toBe('100');
    acked.stored('counter:fresh', '100');
  });

  it('touch extends a TTL: the touched item outlives an untouched twin', async () => {
    await set('ttl:touched', 'stays', shortTtlS);
    await set('ttl:untouched', 'goes', shortTtlS);
    expect(await client.touch('ttl:touched', 3600)).toBe(true);
    expect(await client.touch('ttl:missing', 3600)).toBe(false);
    await sleep(shortTtlWaitMs);
    expect(await value('ttl:touched')).toBe('stays');
    expect(await value('ttl:untouched')).toBeNull();
    acked.deleted('ttl:untouched'); // expired: must stay gone after the restart too
  });

  it('delete removes a key; deleting a missing key answers false', async () => {
    await set('doomed', 'x');
    expect(await client.delete('doomed')).toBe(true);
    acked.deleted('doomed');
    expect(await value('doomed')).toBeNull();
    expect(await client.delete('doomed')).toBe(false);
  });

  it('stats: one callback per server and the counters move with the traffic', async () => {
    const stats = () => withDeadline(fromCallback<Record<string, string> | null>((cb) => client.stats((err, _server, s) => cb(err, s))), 'memjs stats', op_deadline_ms);
    const before = (await stats())!;
    expect(before['pid']).toMatch(/^\d+$/);
    expect(before['version']).toMatch(/^\d+\.\d+\.\d+/);
    await client.get('greeting');
    await client.get('never-set');
    const after = (await stats())!;
    const delta = (name: string) => Number(after[name]) - Number(before[name]);
    expect(delta('cmd_get')).toBe(2);
    expect(delta('get_hits')).toBe(1);
    expect(delta('get_misses')).toBe(1);
  });

  it('every acknowledged write survives a SIGTERM restart, read back through the same client', async () => {
    await target.restart('term');
    await acked.expectAll(value);
  });
});
