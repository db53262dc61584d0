// The client library, through its package entry, against a real
// memcached-lite process (bin/mcl: test/cli/mcl.test.ts; meta commands,
// TLS and auth against stock memcached: meta.test.ts, tls-auth.test.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ConnectionError, MemcachedError } from '../../src/client/index.js';
import { cleanup, startServer, type ServerProcess } from '../e2e/harness.js';

let server: ServerProcess;
beforeAll(async () => { server = await startServer(); });
afterAll(async () => { await server.stop(); await cleanup(); });

describe('client library', () => {
  it('covers every command, with pipelined requests matched in order', async () => {
    const c = await Client.connect({ port: server.port });
    const replies = await Promise.all([
      c.set('a', 'one', { flags: 3 }),
      c.add('a', 'x'),
      c.replace('missing', 'x'),
      c.set('n', '41'),
      c.incr('n', 1),
      c.decr('n', 50),
      c.append('a', '!'),
      c.prepend('a', '>'),
      c.touch('a', 100),
      c.delete('missing'),
    ]);
    expect(replies).toEqual(['STORED', 'NOT_STORED', 'NOT_STORED', 'STORED', 42n, 0n, 'STORED', 'STORED', 'TOUCHED', 'NOT_FOUND']);
    const a = await c.gets('a');
    expect(a?.value.toString()).toBe('>one!');
    expect(a?.flags).toBe(3);
    expect(await c.cas('a', 'new', a!.cas!)).toBe('STORED');
    expect(await c.cas('a', 'newer', a!.cas!)).toBe('EXISTS');
    expect((await c.gat(100, 'a'))?.value.toString()).toBe('new');
    expect((await c.gats(100, 'a'))?.cas).toBeGreaterThan(0n);
    const multi = await c.getMulti(['a', 'n', 'nope']);
    expect([...multi.keys()].sort()).toEqual(['a', 'n']);
    await expect(c.incr('a', 1)).rejects.toThrow(MemcachedError);
    expect(await c.set('quiet', 'q', { noreply: true })).toBeUndefined();
    expect((await c.get('quiet'))?.value.toString()).toBe('q');
    expect(await c.version()).toMatch(/^1\.6\./);
    expect((await c.stats()).get('curr_items')).toBeDefined();
    expect((await c.stats('settings')).get('maxbytes')).toBe(String(64 * 1024 * 1024));
    await c.flushAll();
    expect(await c.get('a')).toBeUndefined();
    await c.quit();
  });

  it('round-trips binary values of 500 KB and 1 MB minus overhead', async () => {
    const c = await Client.connect({ port: server.port });
    for (const size of [500 * 1024, 1_048_576 - 59 - 3]) {
      const value = Buffer.alloc(size);
      for (let i = 0; i < size; i++) value[i] = (i * 31) & 0xff;
      expect(await c.set('big', value)).toBe('STORED');
      expect((await c.get('big'))?.value.equals(value)).toBe(true);
    }
    c.close();
  });

  it('gat/gats several keys, and per-server version and stats maps', async () => {
    const c = new Client({ port: server.port, poolSize: 3 });
    await Promise.all(['g1', 'g2', 'g3'].map((k) => c.set(k, k)));
    const touched = await c.gatMulti(100, ['g1', 'g2', 'g3', 'g4']);
    expect([...touched.keys()].sort()).toEqual(['g1', 'g2', 'g3']);
    const withCas = await c.gatsMulti(100, ['g1', 'g2']);
    expect([...withCas.values()].every((v) => typeof v.cas === 'bigint')).toBe(true);
    const address = `127.0.0.1:${server.port}`;
    expect(c.servers).toEqual([address]);
    expect([...(await c.versions()).keys()]).toEqual([address]);
    expect((await c.statsAll()).get(address)?.get('curr_items')).toMatch(/^\d+$/);
    c.close();
  });

  it('rejects requests after close with ConnectionError', async () => {
    const c = await Client.connect({ port: server.port });
    c.close();
    await expect(c.get('x')).rejects.toThrow(new ConnectionError(`127.0.0.1:${server.port}`, 'the client is closed'));
  });
});
