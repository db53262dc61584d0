// Connections, pools and failure handling: pipelining on one socket, the
// pool's key affinity, per-request timeouts, dropped connections, unreadable
// replies, reconnect backoff, close and quit. Against stock memcached through
// a recording proxy, and a scripted fake server for the failures.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { ConnectionError, MemcachedError, ProtocolError, TimeoutError } from '../../src/client/errors.js';
import { backoffDelay } from '../../src/client/endpoint.js';
import { freePort, startMemcached, stopDaemons, type Daemon } from '../e2e/daemons.js';
import { countLines, recordingProxy, scriptedServer } from './helpers.js';

let memcached: Daemon;
beforeAll(async () => { memcached = await startMemcached(); });
afterAll(stopDaemons);

/** A fake server: version answers, `get hang` never does, `get drop` closes the socket, `get junk` answers garbage. */
const fake = () => scriptedServer((line, socket) => {
  if (line === 'version') socket.write('VERSION fake\r\n');
  else if (line === 'get drop') socket.destroy();
  else if (line === 'get junk') socket.write('WHAT IS THIS\r\n');
  else if (line === 'get slow') setTimeout(() => socket.write('END\r\n'), 300);
});

describe('pipelining and pools', () => {
  it('keeps 2000 requests in flight on one connection and matches every reply', async () => {
    const proxy = await recordingProxy(memcached.port);
    const c = new Client({ port: proxy.port });
    const sets = await Promise.all(Array.from({ length: 1000 }, (_, i) => c.set(`pipe${i}`, `value ${i}`)));
    const gets = await Promise.all(Array.from({ length: 1000 }, (_, i) => c.get(`pipe${i}`)));
    expect(sets.every((r) => r === 'STORED')).toBe(true);
    expect(gets.map((v) => v?.value.toString())).toEqual(Array.from({ length: 1000 }, (_, i) => `value ${i}`));
    expect(proxy.connections).toBe(1);
    c.close();
    await proxy.close();
  });

  it('spreads keys over the pool, keeps each key on one connection (unawaited writes stay in order), round-robins the rest', async () => {
    const proxy = await recordingProxy(memcached.port);
    const c = new Client({ port: proxy.port, poolSize: 4 });
    const keys = Array.from({ length: 200 }, (_, i) => `pool${i}`);
    // Not awaited in between: on one connection per key these run in order.
    const finals = keys.map((k) => {
      void c.set(k, 'a');
      void c.append(k, 'b');
      void c.prepend(k, '>');
      return c.get(k);
    });
    expect((await Promise.all(finals)).every((v) => v?.value.toString() === '>ab')).toBe(true);
    expect(proxy.connections).toBe(4);
    const multi = await c.getMulti(keys);
    expect(multi.size).toBe(200);
    // 200 keys over 4 connections: the multi-get went out as one get per connection.
    expect(countLines(proxy.sent(), 'get') - 200).toBe(4);
    await Promise.all(Array.from({ length: 8 }, () => c.version()));
    expect(proxy.connections).toBe(4);
    c.close();
    await proxy.close();
  });

  it('noreply requests resolve once written and later replies still line up', async () => {
    const c = new Client({ port: memcached.port });
    expect(await c.set('nr', '1', { noreply: true })).toBeUndefined();
    expect(await c.incr('nr', 5, { noreply: true })).toBeUndefined();
    expect(await c.delete('nr-missing', { noreply: true })).toBeUndefined();
    expect(await c.touch('nr', 100, { noreply: true })).toBeUndefined();
    expect((await c.get('nr'))?.value.toString()).toBe('6');
    c.close();
  });
});

describe('failures', () => {
  it('times out one request, closes its connection (others on it reject), and the next request reconnects', async () => {
    const server = await fake();
    const c = new Client({ port: server.port });
    const started = Date.now();
    const [slow, other] = await Promise.allSettled([c.get('hang', { timeoutMs: 150 }), c.get('hang', { timeoutMs: 5000 })]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(slow.status === 'rejected' && slow.reason).toBeInstanceOf(TimeoutError);
    expect(slow.status === 'rejected' && (slow.reason as Error).message).toBe(`127.0.0.1:${server.port}: no reply within 150 ms`);
    expect(other.status === 'rejected' && (other.reason as Error).message).toMatch(/connection closed: a request on it timed out/);
    expect(await c.version()).toBe('fake');
    expect(server.connections).toBe(2);
    // A reply that comes in time is fine.
    expect((await c.getMulti(['slow'], { timeoutMs: 2000 })).size).toBe(0);
    c.close();
    await server.close();
  });

  it('a connection dropped with requests in flight rejects them with ConnectionError; later requests reconnect', async () => {
    const server = await fake();
    const c = new Client({ port: server.port });
    const inFlight = [c.get('drop'), c.version()];
    for (const p of inFlight) await expect(p).rejects.toThrow(new ConnectionError(`127.0.0.1:${server.port}`, 'connection closed before the reply came'));
    expect(await c.version()).toBe('fake');
    c.close();
    await server.close();
  });

  it('an unreadable reply closes the connection with ProtocolError', async () => {
    const server = await fake();
    const c = new Client({ port: server.port });
    await expect(c.get('junk')).rejects.toThrow(ProtocolError);
    await expect(c.get('junk')).rejects.toThrow(/expected VALUE or END, got "WHAT IS THIS"/);
    expect(await c.version()).toBe('fake');
    c.close();
    await server.close();
  });

  it('backs off exponentially between failed attempts, then reconnects and resets', async () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay({ initialDelayMs: 100, maxDelayMs: 500 }, n))).toEqual([100, 200, 400, 500, 500]);
    const port = await freePort();
    const c = new Client({ port, reconnect: { initialDelayMs: 400, maxDelayMs: 800 } });
    const attempt = async (): Promise<number> => {
      const t = Date.now();
      await expect(c.version()).rejects.toThrow(/cannot connect: connect ECONNREFUSED/);
      return Date.now() - t;
    };
    const waits = [await attempt(), await attempt(), await attempt(), await attempt()];
    expect(waits[0]).toBeLessThan(300);
    expect(waits[1]).toBeGreaterThanOrEqual(390);
    expect(waits[2]).toBeGreaterThanOrEqual(790);
    expect(waits[3]).toBeGreaterThanOrEqual(790);
    expect(waits[3]).toBeLessThan(2000);
    const server = await startMemcached([], port);
    const t = Date.now();
    expect(await c.version()).toMatch(/^1\.6\./);
    expect(Date.now() - t).toBeLessThan(1500);
    // That success reset the backoff: after a drop the first attempt is immediate.
    await server.stop();
    const again = Date.now();
    await expect(c.version()).rejects.toThrow(ConnectionError);
    expect(Date.now() - again).toBeLessThan(300);
    c.close();
  });

  it('Client.connect rejects when a server cannot be reached; close() rejects in-flight and later requests', async () => {
    await expect(Client.connect({ port: await freePort() })).rejects.toThrow(ConnectionError);
    const server = await fake();
    const c = await Client.connect({ port: server.port });
    const pending = c.get('hang');
    c.close();
    await expect(pending).rejects.toThrow(/the client is closed/);
    await expect(c.version()).rejects.toThrow(/the client is closed/);
    expect(server.connections).toBe(1);
    await server.close();
  });

  it('quit lets the requests already made finish (even while connecting), then the server closes', async () => {
    const c = new Client({ port: memcached.port, poolSize: 2 });
    const replies = [c.set('q', 'v'), c.get('q'), c.version()];
    const quitting = c.quit();
    await expect(c.get('q')).rejects.toThrow(/the client has quit/);
    await quitting;
    const [stored, got, version] = await Promise.all(replies);
    expect([stored, (got as { value: Buffer } | undefined)?.value.toString(), version]).toEqual(['STORED', 'v', '1.6.18']);
    await expect(c.version()).rejects.toThrow(/the client has quit/);
  });

  it('server error replies reject with MemcachedError and leave the connection usable', async () => {
    const c = new Client({ port: memcached.port });
    await c.set('t', 'text');
    await expect(c.incr('t', 1)).rejects.toThrow(new MemcachedError('CLIENT_ERROR cannot increment or decrement non-numeric value'));
    await expect(c.set('huge', Buffer.alloc(2 * 1024 * 1024))).rejects.toThrow(new MemcachedError('SERVER_ERROR object too large for cache'));
    await expect(c.rawLine('bogus\r\n')).rejects.toThrow(new MemcachedError('ERROR'));
    expect(await c.get('t')).toBeDefined();
    c.close();
  });

  it('refuses invalid arguments with TypeError, sending nothing', async () => {
    const proxy = await recordingProxy(memcached.port);
    const c = new Client({ port: proxy.port });
    await expect(c.get('a b')).rejects.toThrow(TypeError);
    await expect(c.get('x'.repeat(251))).rejects.toThrow(/over memcached's 250/);
    await expect(c.set('k\n', 'v')).rejects.toThrow(TypeError);
    await expect(c.set('k', 'v', { flags: -1 })).rejects.toThrow(TypeError);
    await expect(c.incr('k', -1)).rejects.toThrow(TypeError);
    await expect(c.incr('k', 1n << 64n)).rejects.toThrow(TypeError);
    await expect(c.getMulti([])).rejects.toThrow(TypeError);
    await expect(c.stats('items\r\nflush_all')).rejects.toThrow(TypeError);
    expect(() => new Client({ servers: ['nohost'] })).toThrow(TypeError);
    expect(() => new Client({ username: 'u' })).toThrow(/go together/);
    expect(proxy.connections).toBe(0);
    c.close();
    await proxy.close();
  });
});
