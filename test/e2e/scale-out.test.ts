// Scale-out: three memcached-lite shards, keys spread by ketama, one shard
// killed with -9 and restarted on the same data directory and port; every
// acknowledged write must be readable again. Twice: behind twemproxy
// (nutcracker, distribution: ketama) and with the client library's own
// ketama (no proxy). Needs `npm run build`.
//
// twemproxy is configured with auto_eject_hosts: false: a dead shard stays
// in the ring, so its keys fail with an error while it is down instead of
// being remapped to another shard (where a later read would miss them, and
// writes made there would be shadowed once the shard returns). Reads after
// the restart retry for a bounded time: twemproxy reconnects to the shard on
// the next request that needs it, the client after its backoff.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ConnectionError, MemcachedError } from '../../src/client/client.js';
import { cleanup, startServer, type ServerProcess } from './harness.js';
import { freePort, startNutcracker, stopDaemons } from './daemons.js';

const shard_count = 3;
const victim = 1;

const shards: ServerProcess[] = [];
let servers: string[] = [];

beforeAll(async () => {
  for (let i = 0; i < shard_count; i++) shards.push(await startServer({ port: await freePort() }));
  servers = shards.map((s) => `127.0.0.1:${s.port}`);
});
afterAll(async () => {
  await stopDaemons();
  await cleanup();
});

const valueOf = (key: string): string => `${key}=${key.length > 8 ? 'x'.repeat(2000) : 'short'}`;

/** Writes n keys (pipelined) and returns those acknowledged STORED. */
async function writeKeys(c: Client, prefix: string, n: number): Promise<string[]> {
  const keys = Array.from({ length: n }, (_, i) => `${prefix}:${i}${i % 10 === 0 ? ':long' : ''}`);
  const replies = await Promise.all(keys.map((k) => c.set(k, valueOf(k))));
  return keys.filter((_, i) => replies[i] === 'STORED');
}

/** Reads keys until every one comes back with its value, retrying failures for at most `ms`. */
async function readBack(c: Client, keys: string[], ms: number): Promise<{ missing: string[]; wrong: string[]; attempts: number }> {
  const deadline = Date.now() + ms;
  let pending = keys;
  const wrong: string[] = [];
  let attempts = 0;
  while (pending.length && Date.now() < deadline) {
    attempts++;
    const results = await Promise.allSettled(pending.map((k) => c.get(k)));
    const next: string[] = [];
    results.forEach((r, i) => {
      const key = pending[i]!;
      if (r.status === 'rejected') next.push(key);
      else if (r.value?.value.toString() !== valueOf(key)) wrong.push(key);
    });
    pending = next;
    if (pending.length) await new Promise((r) => setTimeout(r, 100));
  }
  return { missing: pending, wrong, attempts };
}

/** Starts the killed shard again on its data directory and port. */
async function restartVictim(): Promise<void> {
  const dead = shards[victim]!;
  shards[victim] = await startServer({ port: dead.port, dataDir: dead.dataDir });
}

describe('scale-out with kill -9 of one shard', () => {
  it('behind twemproxy (ketama, auto_eject_hosts: false): acknowledged writes survive the crash and restart', async () => {
    const { ports: [proxyPort] } = await startNutcracker([{ hash: 'md5', servers: servers.map((s) => `${s}:1`), autoEjectHosts: false }]);
    const proxy = new Client({ port: proxyPort!, timeoutMs: 5000 });
    const ring = new Client({ servers });
    try {
      const acked = await writeKeys(proxy, 'proxy', 600);
      expect(acked).toHaveLength(600);
      // Placement is twemproxy's ketama, which the library reproduces.
      const onVictim = acked.filter((k) => ring.serverFor(k) === servers[victim]);
      const direct = new Client({ port: shards[victim]!.port });
      expect((await direct.getMulti(onVictim)).size).toBe(onVictim.length);
      direct.close();
      expect(onVictim.length).toBeGreaterThan(100);

      await shards[victim]!.kill9();
      // While the shard is down its keys fail with an error (never a miss); the others are served.
      const down = await proxy.get(onVictim[0]!).then(() => 'answered', (e: unknown) => e);
      expect(down).toBeInstanceOf(MemcachedError);
      expect((down as MemcachedError).line).toMatch(/^SERVER_ERROR /);
      const alive = acked.filter((k) => ring.serverFor(k) !== servers[victim]);
      expect(await readBack(proxy, alive, 2000)).toMatchObject({ missing: [], wrong: [] });

      await restartVictim();
      const after = await readBack(proxy, acked, 10_000);
      expect(after).toMatchObject({ missing: [], wrong: [] });
      // And the restarted shard takes writes through the proxy again.
      expect(await proxy.set(onVictim[0]!, 'after restart')).toBe('STORED');
    } finally {
      proxy.close();
      ring.close();
    }
  });

  it('with the client library\'s ketama (no proxy): the same, the dead shard\'s keys reject with ConnectionError meanwhile', async () => {
    const c = new Client({ servers, timeoutMs: 5000, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    try {
      const acked = await writeKeys(c, 'direct', 600);
      expect(acked).toHaveLength(600);
      const onVictim = acked.filter((k) => c.serverFor(k) === servers[victim]);
      expect(onVictim.length).toBeGreaterThan(100);

      await shards[victim]!.kill9();
      await expect(c.get(onVictim[0]!)).rejects.toThrow(ConnectionError);
      const alive = acked.filter((k) => c.serverFor(k) !== servers[victim]);
      expect(await readBack(c, alive, 2000)).toMatchObject({ missing: [], wrong: [] });

      await restartVictim();
      expect(await readBack(c, acked, 10_000)).toMatchObject({ missing: [], wrong: [] });
    } finally {
      c.close();
    }
  });
});

describe('what twemproxy forwards (to memcached-lite)', () => {
  it('forwards storage, retrieval, delete, incr/decr, touch, version and noreply; closes the connection on the rest', async () => {
    const { ports: [proxyPort] } = await startNutcracker([{ hash: 'md5', servers: servers.map((s) => `${s}:1`) }]);
    const c = new Client({ port: proxyPort!, timeoutMs: 5000 });
    try {
      expect(await c.set('fw', '1')).toBe('STORED');
      expect(await c.add('fw', '2')).toBe('NOT_STORED');
      expect(await c.replace('fw', '3')).toBe('STORED');
      expect(await c.append('fw', '4')).toBe('STORED');
      expect(await c.prepend('fw', '5')).toBe('STORED');
      const v = await c.gets('fw');
      expect(await c.cas('fw', '6', v!.cas!)).toBe('STORED');
      expect(await c.incr('fw', 1)).toBe(7n);
      expect(await c.decr('fw', 2)).toBe(5n);
      expect(await c.touch('fw', 100)).toBe('TOUCHED');
      expect(await c.set('fw2', 'x', { noreply: true })).toBeUndefined();
      expect([...(await c.getMulti(['fw', 'fw2', 'none'])).keys()].sort()).toEqual(['fw', 'fw2']);
      expect(await c.delete('fw2')).toBe('DELETED');
      expect(await c.version()).toMatch(/^1\.6\./);
      const dropped: Array<[string, () => Promise<unknown>]> = [
        ['gat', () => c.gat(10, 'fw')], ['gats', () => c.gats(10, 'fw')], ['flush_all', () => c.flushAll()],
        ['verbosity', () => c.verbosity(1)], ['stats', () => c.stats()], ['mn', () => c.metaNoop()],
        ['mg', () => c.metaGet('fw', { returnValue: true })], ['ms', () => c.metaSet('fw', 'x')],
        ['md', () => c.metaDelete('fw')], ['ma', () => c.metaArithmetic('fw')],
      ];
      for (const [name, call] of dropped) {
        const outcome = await call().then(() => 'answered', (e: unknown) => (e instanceof ConnectionError ? 'closed' : String(e)));
        expect([name, outcome]).toEqual([name, 'closed']);
      }
      expect(await c.get('fw')).toBeDefined();
    } finally {
      c.close();
    }
  });
});
