// The two load generators of mcl bench (original.ts, modern.ts) against a
// scripted in-process memcached: what they send on the wire (one connection
// per request; a noreply SET followed by `version` on its connection; batches
// of DEPTH requests), what they count, and that a server that drops or
// garbles connections yields errors, not a hang or a crash.

import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { clientKeys, runOriginalPoint } from '../../../src/cli/bench/original.js';
import { Keyspace, runModern, Written } from '../../../src/cli/bench/modern.js';
import type { Endpoint } from '../../../src/cli/bench/results.js';

type Behaviour = 'memcached' | 'drop' | 'garble';

interface Fake {
  target: Endpoint;
  /** Every connection's received bytes, in connection order. */
  connections: string[];
  /** Request lines per write (one entry per 'data' event with complete lines). */
  writes: number[];
  close(): Promise<void>;
}

/** A tiny memcached text server: stores set data, answers get/version; or drops / garbles. */
async function fakeServer(behaviour: Behaviour): Promise<Fake> {
  const store = new Map<string, string>();
  const connections: string[] = [];
  const writes: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const index = connections.push('') - 1;
    let pending = '';
    let served = 0;
    socket.on('data', (d: Buffer) => {
      connections[index] += d.toString('latin1');
      pending += d.toString('latin1');
      let out = '', lines = 0;
      for (;;) {
        const nl = pending.indexOf('\r\n');
        if (nl < 0) break;
        const [cmd, key, , , bytes, noreply] = pending.slice(0, nl).split(' ');
        if (cmd === 'set') {
          const end = nl + 2 + Number(bytes) + 2;
          if (pending.length < end) break;
          store.set(key!, pending.slice(nl + 2, end - 2));
          pending = pending.slice(end);
          if (noreply !== 'noreply') out += 'STORED\r\n';
        } else {
          pending = pending.slice(nl + 2);
          if (cmd === 'get') out += store.has(key!) ? `VALUE ${key} 0 ${store.get(key!)!.length}\r\n${store.get(key!)}\r\nEND\r\n` : 'END\r\n';
          else if (cmd === 'version') out += 'VERSION 1.6.18\r\n';
          else out += 'ERROR\r\n';
        }
        lines++;
      }
      if (lines) writes.push(lines);
      served += lines;
      if (behaviour === 'drop' && served > 40) return socket.destroy();
      if (behaviour === 'garble' && served > 40) out += 'STORED\r\nSTORED\r\n';
      socket.write(out);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    target: { name: `fake-${behaviour}`, host: '127.0.0.1', port },
    connections, writes,
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

let fake: Fake | null = null;
afterEach(async () => { await fake?.close(); fake = null; });

describe('original methodology (connection per request)', () => {
  it('opens one connection per request; a noreply SET carries `version` behind it; GETs then hit every key', async () => {
    fake = await fakeServer('memcached');
    const keys = clientKeys(7, 5, 6);
    const set = await runOriginalPoint({ target: fake.target, section: 'set', keys, seed: 7, timeoutMs: 5000 });
    expect(set).toMatchObject({ clients: 5, requestsPerClient: 6, ok: 30, misses: 0, errors: 0 });
    expect(fake.connections).toHaveLength(30);
    for (const c of fake.connections) expect(c).toMatch(/^set [A-Za-z0-9]{10} 0 0 50( noreply\r\n[A-Za-z0-9]{50}\r\nversion|\r\n[A-Za-z0-9]{50})\r\n$/);
    const noreply = fake.connections.filter((c) => c.includes(' noreply\r\n')).length;
    expect(set.noreplySets).toBe(noreply);
    expect(noreply).toBeGreaterThan(0);
    expect(noreply).toBeLessThan(30);
    expect(set.byOp.set!.count).toBe(30);

    const get = await runOriginalPoint({ target: fake.target, section: 'get', keys, seed: 7, timeoutMs: 5000 });
    expect(get).toMatchObject({ ok: 30, misses: 0, errors: 0 });
    expect(fake.connections.slice(30).sort()).toEqual(keys.flat().map((k) => `get ${k}\r\n`).sort());

    const mixed = await runOriginalPoint({ target: fake.target, section: 'mixed', keys, seed: 7, timeoutMs: 5000 });
    expect(mixed).toMatchObject({ ok: 30, misses: 0, errors: 0 });
    expect(mixed.byOp.set!.count + mixed.byOp.get!.count).toBe(30);
    expect(mixed.byOp.get!.count).toBeGreaterThan(0);
  });

  it('gives every server the same keys for one seed, and other keys for another', () => {
    expect(clientKeys(1, 3, 4)).toEqual(clientKeys(1, 3, 4));
    expect(clientKeys(1, 3, 4)).not.toEqual(clientKeys(2, 3, 4));
    expect(clientKeys(1, 3, 4).flat().every((k) => /^[A-Za-z0-9]{10}$/.test(k))).toBe(true);
  });

  it('counts refused connections as errors', async () => {
    fake = await fakeServer('memcached');
    const gone = { ...fake.target };
    await fake.close();
    fake = null;
    const p = await runOriginalPoint({ target: gone, section: 'get', keys: clientKeys(1, 2, 3), seed: 1, timeoutMs: 5000 });
    expect(p).toMatchObject({ ok: 0, misses: 0, errors: 6, throughputOpsPerS: 0 });
    expect(p.latency.count).toBe(0);
  });
});

describe('modern methodology (persistent, pipelined)', () => {
  const run = (target: Endpoint, section: 'set' | 'get' | 'mixed', depth: number, keys: Keyspace, written: Written) =>
    runModern({ target, section, clients: 3, depth, durationS: 0.3, keys, written, seed: 1, timeoutMs: 2000 });

  it('sends batches of DEPTH requests per write on CLIENTS connections; GETs read only acknowledged keys', async () => {
    fake = await fakeServer('memcached');
    const keys = new Keyspace(1, 50);
    const written = new Written(keys.size);
    const set = await run(fake.target, 'set', 4, keys, written);
    expect(fake.connections).toHaveLength(3);
    expect(set.ok).toBeGreaterThan(0);
    expect(set).toMatchObject({ errors: 0, misses: 0, clients: 3, depth: 4, durationS: 0.3 });
    expect(fake.writes.every((n) => n === 4)).toBe(true);
    expect(written.list.length).toBeGreaterThan(0);
    expect(new Set(written.list).size).toBe(written.list.length);
    const get = await run(fake.target, 'get', 1, keys, written);
    expect(get).toMatchObject({ errors: 0, misses: 0 });
    expect(get.ok).toBeGreaterThan(0);
    expect(get.perSecond).toEqual([get.ok]);
  });

  it('counts the requests of a dropped connection as errors and ends on time', async () => {
    fake = await fakeServer('drop');
    const keys = new Keyspace(1, 50);
    const t0 = Date.now();
    const r = await run(fake.target, 'set', 2, keys, new Written(keys.size));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.errors).toBeGreaterThan(0);
  });

  it('counts a reply nobody asked for (in the same read as real ones) as an error and stops that connection', async () => {
    fake = await fakeServer('garble');
    const keys = new Keyspace(1, 50);
    const r = await run(fake.target, 'set', 1, keys, new Written(keys.size));
    expect(r.errors).toBeGreaterThan(0);
  });

  it('refuses to start when the connections cannot be opened', async () => {
    fake = await fakeServer('memcached');
    const gone = { ...fake.target };
    await fake.close();
    fake = null;
    const keys = new Keyspace(1, 5);
    await expect(run(gone, 'set', 1, keys, new Written(keys.size))).rejects.toThrow(/cannot open 3 connections: .*ECONNREFUSED/);
  });
});
