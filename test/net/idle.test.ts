// The idle timeout and `stats conns`, on a real listener with a hand-driven
// WAL position: a connection waiting for a request past the timeout is
// closed; one whose reply waits for the WAL is busy, not idle, and so is one
// that keeps sending requests or is inside a value (text or binary).

import { afterEach, describe, expect, it } from 'vitest';
import type { ServerSettings } from '../../src/net/backend.js';
import { startServer, type MemcachedServer } from '../../src/net/server.js';
import { RawConnection } from '../e2e/raw.js';
import { OP, frame, storeExtras } from './binary-helpers.js';
import { FakeStorage, settings } from './fake-storage.js';

let server: MemcachedServer | null = null;
const conns: RawConnection[] = [];

async function listen(storage: FakeStorage, extra: Partial<ServerSettings>): Promise<number> {
  server = await startServer({ ...settings, ...extra }, storage.backend(), () => {});
  return server.address.port;
}

async function open(port: number): Promise<RawConnection> {
  const c = await RawConnection.open(port);
  conns.push(c);
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stats(c: RawConnection): Promise<string[]> {
  c.send('stats\r\n');
  const lines: string[] = [];
  for (let l = await c.line(); l !== 'END'; l = await c.line()) lines.push(l);
  return lines;
}

afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  if (server) {
    server.stopAccepting();
    await server.closeConnections();
    server = null;
  }
});

describe('idle timeout', () => {
  it('closes connections idle past the timeout (text, or binary mid-header), not one that keeps sending requests nor one inside a value (as memcached)', async () => {
    const port = await listen(new FakeStorage(), { idleTimeoutS: 1 });
    const idle = await open(port);
    const busy = await open(port);
    const midValue = await open(port);
    const binaryMidValue = await open(port);
    const binaryMidHeader = await open(port);
    const binarySet = frame(OP.set, { key: 'k', extras: storeExtras(), value: 'abcde' });
    midValue.send('set k 0 0 5\r\nab');
    binaryMidValue.send(binarySet.subarray(0, binarySet.length - 2));
    binaryMidHeader.send(binarySet.subarray(0, 10));
    idle.send('version\r\n');
    expect(await idle.line()).toMatch(/^VERSION /);
    const started = Date.now();
    while (Date.now() - started < 2800) {
      busy.send('version\r\n');
      expect(await busy.line()).toMatch(/^VERSION /);
      await sleep(300);
    }
    expect(idle.closed).toBe(true);
    expect(busy.closed).toBe(false);
    expect(midValue.closed).toBe(false);
    expect(binaryMidValue.closed).toBe(false);
    expect(binaryMidHeader.closed).toBe(true);
    expect(await stats(busy)).toContain('STAT idle_kicks 2');
  });

  it('does not close a connection whose reply waits for the WAL; closes it once answered and idle', async () => {
    const storage = new FakeStorage();
    const port = await listen(storage, { idleTimeoutS: 1 });
    const c = await open(port);
    c.send('set k 0 0 1\r\nv\r\n');
    await sleep(2600);
    expect(c.closed).toBe(false);
    expect(c.unread).toBe('');
    storage.ackUpTo(1);
    expect(await c.line()).toBe('STORED');
    expect(await c.waitClosed(3000)).toBe(true);
  });

  it('is off at 0', async () => {
    const port = await listen(new FakeStorage(), { idleTimeoutS: 0 });
    const c = await open(port);
    await sleep(1500);
    c.send('version\r\n');
    expect(await c.line()).toMatch(/^VERSION /);
    expect((await stats(c)).filter((l) => l.includes('idle_kicks'))).toEqual([]);
  });
});

describe('stats conns', () => {
  it('shows the listener and each connection: address, listen address, state, seconds since its last request', async () => {
    const storage = new FakeStorage();
    const port = await listen(storage, {});
    const asker = await open(port);
    const waiting = await open(port);
    const quiet = await open(port);
    const sending = await open(port);
    quiet.send('version\r\n');
    sending.send('set k2 0 0 6\r\n');
    await quiet.line();
    waiting.send('set k 0 0 1\r\nv\r\n');
    await sleep(1100);
    asker.send('stats conns\r\n');
    const lines: string[] = [];
    for (let l = await asker.line(); l !== 'END'; l = await asker.line()) lines.push(l);
    const stats = new Map(lines.map((l) => { const [, name, value] = l.split(' '); return [name!, value!]; }));
    const listenAddr = `tcp:127.0.0.1:${port}`;
    expect(stats.get('0:addr')).toBe(listenAddr);
    expect(stats.get('0:state')).toBe('conn_listening');
    expect(stats.has('0:listen_addr')).toBe(false);
    expect([1, 2, 3, 4].map((id) => stats.get(`${id}:state`))).toEqual(['conn_parse_cmd', 'conn_mwrite', 'conn_read', 'conn_nread']);
    const secs = [1, 2, 3].map((id) => Number(stats.get(`${id}:secs_since_last_cmd`)));
    expect(secs[0]).toBe(0);
    for (const s of secs.slice(1)) expect(s >= 1 && s <= 3, `${secs}`).toBe(true);
    for (const id of [1, 2, 3]) {
      expect(stats.get(`${id}:addr`)).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
      expect(stats.get(`${id}:listen_addr`)).toBe(listenAddr);
    }
    storage.ackUpTo(1);
    expect(await waiting.line()).toBe('STORED');
  });
});
