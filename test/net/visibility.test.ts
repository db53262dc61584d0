// The visibility contract, tested at the connection layer with a real engine
// and a hand-driven WAL position: no reply may show a write that is not yet
// acknowledged as durable, replies stay in request order, and the disk-full
// and backlog admission answers are honoured.

import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type MemcachedServer } from '../../src/net/server.js';
import { Client } from '../../src/client/client.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { makeCerts } from '../certs.js';
import { FakeStorage, settings } from './fake-storage.js';

let server: MemcachedServer | null = null;
const clients: Client[] = [];

async function setup(storage: FakeStorage, n = 2): Promise<Client[]> {
  server = await startServer({ ...settings }, storage.backend(), () => {});
  for (let i = 0; i < n; i++) clients.push(await Client.connect({ port: server.address.port }));
  return clients.slice(-n);
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  if (server) {
    server.stopAccepting();
    await server.closeConnections();
    server = null;
  }
});

/**
 * Sends `request` on a raw connection and half-closes (FIN), as `printf ... | nc -N`
 * does; `closed` resolves to everything received once the server closes.
 */
function sendThenHalfClose(request: string, tlsOptions?: ConnectionOptions): { received: () => string; closed: Promise<string> } {
  let received = '';
  const at = { host: '127.0.0.1', port: server!.address.port };
  const socket: Socket = tlsOptions
    ? connectTls({ ...at, ...tlsOptions }, () => socket.end(request))
    : connect(at, () => socket.end(request));
  socket.on('data', (d: Buffer) => { received += d.toString('latin1'); });
  socket.on('error', () => {});
  const closed = new Promise<string>((res) => socket.on('close', () => res(received)));
  return { received: () => received, closed };
}

/** Resolves to 'pending' if the promise has not settled within ms. */
async function settledWithin<T>(p: Promise<T>, ms = 60): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
}

describe('visibility contract', () => {
  it('sends STORED only after the write is acknowledged', async () => {
    const storage = new FakeStorage();
    const [a] = await setup(storage, 1);
    const stored = a!.set('k', 'v');
    expect(await settledWithin(stored)).toBe('pending');
    expect(storage.effects).toHaveLength(1);
    storage.ackUpTo(storage.effects[0]!.seq);
    expect(await stored).toBe('STORED');
  });

  it('holds another connection\'s read of a not-yet-durable item, but not reads of durable items', async () => {
    const storage = new FakeStorage();
    const [writer, reader, other] = await setup(storage, 3);
    const first = writer!.set('durable', 'd');
    storage.ackUpTo(1);
    await first;
    const pendingSet = writer!.set('fresh', 'f');
    const readFresh = reader!.get('fresh');
    expect(await settledWithin(readFresh)).toBe('pending');
    expect((await settledWithin(other!.get('durable'), 1000) as { value: Buffer }).value.toString()).toBe('d');
    storage.ackUpTo(2);
    expect((await readFresh)?.value.toString()).toBe('f');
    expect(await pendingSet).toBe('STORED');
  });

  it('holds a miss that may be caused by a not-yet-durable delete', async () => {
    const storage = new FakeStorage();
    const [writer, reader] = await setup(storage);
    const set = writer!.set('k', 'v');
    storage.ackUpTo(1);
    await set;
    const del = writer!.delete('k');
    const miss = reader!.get('k');
    expect(await settledWithin(miss)).toBe('pending');
    storage.ackUpTo(2);
    expect(await miss).toBeUndefined();
    expect(await del).toBe('DELETED');
  });

  it('keeps replies in request order on one connection', async () => {
    const storage = new FakeStorage();
    const [c] = await setup(storage, 1);
    const order: string[] = [];
    const set = c!.set('a', '1').then(() => order.push('set'));
    const version = c!.version().then(() => order.push('version'));
    expect(await settledWithin(version)).toBe('pending');
    storage.ackUpTo(1);
    await Promise.all([set, version]);
    expect(order).toEqual(['set', 'version']);
  });

  it('refuses writes with SERVER_ERROR when the disk is full, without applying them; reads keep working', async () => {
    const storage = new FakeStorage();
    const [c] = await setup(storage, 1);
    const set = c!.set('k', 'v');
    storage.ackUpTo(1);
    await set;
    storage.admission = 'full';
    await expect(c!.set('k', 'new')).rejects.toThrow('SERVER_ERROR out of disk space');
    await expect(c!.delete('k')).rejects.toThrow('SERVER_ERROR out of disk space');
    expect(storage.effects).toHaveLength(1);
    expect((await c!.get('k'))?.value.toString()).toBe('v');
    storage.admission = 'ok';
    const again = c!.set('k', 'new');
    storage.ackUpTo(2);
    expect(await again).toBe('STORED');
  });

  it('answers a client that half-closes after its requests, replies held for durability included, then closes', async () => {
    const storage = new FakeStorage();
    await setup(storage, 0);
    const conn = sendThenHalfClose('set k 0 0 1\r\nv\r\nget k\r\n');
    expect(await settledWithin(conn.closed)).toBe('pending');
    expect(conn.received()).toBe('');
    storage.ackUpTo(1);
    expect(await conn.closed).toBe('STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n');
  });

  it('answers a write stalled by the WAL backlog when the client half-closed behind it', async () => {
    const storage = new FakeStorage();
    await setup(storage, 0);
    storage.admission = 'wait';
    const conn = sendThenHalfClose('set k 0 0 1\r\nv\r\nversion\r\n');
    expect(await settledWithin(conn.closed)).toBe('pending');
    storage.admitAgain();
    storage.ackUpTo(1);
    expect(await conn.closed).toMatch(/^STORED\r\nVERSION \S+\r\n$/);
  });

  it('over TLS too: a client that half-closes gets the replies held for durability, then the close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcl-visibility-tls-'));
    try {
      const certs = makeCerts(dir);
      const storage = new FakeStorage();
      const tls = { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), verifyClient: false, certFile: certs.serverCert, keyFile: certs.serverKey };
      server = await startServer({ ...settings, tls }, storage.backend(), () => {});
      const conn = sendThenHalfClose('set k 0 0 1\r\nv\r\nget k\r\n', { ca: readFileSync(certs.caCert) });
      expect(await settledWithin(conn.closed, 300)).toBe('pending');
      expect(conn.received()).toBe('');
      storage.ackUpTo(1);
      expect(await conn.closed).toBe('STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closes at once when a client half-closes without sending anything', async () => {
    await setup(new FakeStorage(), 0);
    expect(await settledWithin(sendThenHalfClose('').closed, 1000)).toBe('');
  });

  it('does not apply a write while the WAL backlog is full, and applies it once admitted', async () => {
    const storage = new FakeStorage();
    const [c] = await setup(storage, 1);
    storage.admission = 'wait';
    const set = c!.set('k', 'v');
    await new Promise((r) => setTimeout(r, 50));
    expect(storage.effects).toHaveLength(0);
    storage.admitAgain();
    await new Promise((r) => setTimeout(r, 50));
    expect(storage.effects).toHaveLength(1);
    storage.ackUpTo(1);
    expect(await set).toBe('STORED');
  });
});
