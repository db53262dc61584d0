// The listener loads its connection code (every protocol) only once it is
// listening: connections that arrive before that code is there wait for it
// and are served.

import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type MemcachedServer } from '../../src/net/server.js';
import { RawConnection } from '../e2e/raw.js';
import { FakeStorage, settings } from './fake-storage.js';

let server: MemcachedServer | null = null;
const conns: RawConnection[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  if (server) {
    server.stopAccepting();
    await server.closeConnections();
    server = null;
  }
});

describe('start-up of the listener', () => {
  it('serves connections opened at once after it starts listening, before its connection code has loaded', async () => {
    server = await startServer(settings, new FakeStorage().backend(), () => {});
    const port = server.address.port;
    const opened = await Promise.all([0, 1, 2].map(() => RawConnection.open(port)));
    conns.push(...opened);
    for (const c of opened) c.send('version\r\n');
    for (const c of opened) expect(await c.line()).toMatch(/^VERSION /);
    expect(server.counters.currConnections).toBe(3);
    expect(server.counters.totalConnections).toBe(3);
  });
});
