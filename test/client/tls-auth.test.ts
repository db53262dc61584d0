// TLS (node:tls options passed through) and memcached ASCII authentication
// against stock memcached 1.6.18 started with -Z (TLS, built into Debian's
// memcached) and -Y (auth file). Certificates come from openssl (certs.ts).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.js';
import { AuthError, ConnectionError, MemcachedError } from '../../src/client/errors.js';
import { startMemcached, stopDaemons, tempDir, type Daemon } from '../e2e/daemons.js';
import { makeCerts, memcachedTlsArgs, type Certs } from './certs.js';
import { countLines, recordingProxy } from './helpers.js';

let certs: Certs;
let tlsOnly: Daemon; // TLS, client certificate optional
let mutual: Daemon; // TLS, client certificate required
let auth: Daemon; // -Y
let tlsAuth: Daemon; // -Z and -Y

beforeAll(async () => {
  const dir = tempDir();
  certs = makeCerts(dir);
  const authFile = join(dir, 'auth');
  writeFileSync(authFile, 'alice:s3cret\nbob:hunter2\n');
  [tlsOnly, mutual, auth, tlsAuth] = await Promise.all([
    startMemcached(memcachedTlsArgs(certs)),
    startMemcached(memcachedTlsArgs(certs, 2)),
    startMemcached(['-Y', authFile]),
    startMemcached([...memcachedTlsArgs(certs), '-Y', authFile]),
  ]);
});
afterAll(stopDaemons);

async function roundTrip(c: Client): Promise<string | undefined> {
  try {
    await c.set('tls-key', 'over tls');
    return (await c.get('tls-key'))?.value.toString();
  } finally {
    c.close();
  }
}

describe('TLS', () => {
  it('connects with the CA, a client certificate and the server name; plain TCP to the same port gets nothing', async () => {
    const tls = { ca: certs.ca, cert: certs.cert, key: certs.key, servername: 'localhost' };
    expect(await roundTrip(new Client({ port: mutual.port, tls }))).toBe('over tls');
    // The certificate also names 127.0.0.1: no servername needed.
    expect(await roundTrip(new Client({ port: tlsOnly.port, tls: { ca: certs.ca } }))).toBe('over tls');
    const plain = new Client({ port: tlsOnly.port, timeoutMs: 1000 });
    await expect(plain.version()).rejects.toThrow(ConnectionError);
    plain.close();
  });

  it('refuses an unknown CA unless rejectUnauthorized is false, and a name the certificate does not carry', async () => {
    await expect(roundTrip(new Client({ port: tlsOnly.port, tls: true }))).rejects.toThrow(/cannot connect: self[- ]signed certificate/);
    expect(await roundTrip(new Client({ port: tlsOnly.port, tls: { rejectUnauthorized: false } }))).toBe('over tls');
    await expect(roundTrip(new Client({ port: tlsOnly.port, tls: { ca: certs.ca, servername: 'elsewhere.example' } })))
      .rejects.toThrow(/cannot connect: Hostname\/IP does not match certificate's altnames/);
  });

  it('fails cleanly when the server requires a client certificate and none is given', async () => {
    await expect(roundTrip(new Client({ port: mutual.port, tls: { ca: certs.ca }, timeoutMs: 2000 }))).rejects.toThrow(/connection lost: .*alert certificate required/);
  });
});

describe('ASCII authentication (-Y)', () => {
  it('logs in first on each new connection, alone, then pipelines', async () => {
    const proxy = await recordingProxy(auth.port);
    const c = new Client({ port: proxy.port, username: 'alice', password: 's3cret', poolSize: 2 });
    const keys = Array.from({ length: 50 }, (_, i) => `auth${i}`);
    expect((await Promise.all(keys.map((k) => c.set(k, k)))).every((r) => r === 'STORED')).toBe(true);
    expect((await c.getMulti(keys)).size).toBe(50);
    expect(proxy.sent().startsWith('set auth 0 0 12\r\nalice s3cret\r\n')).toBe(true);
    expect(countLines(proxy.sent(), 'set auth')).toBe(2);
    // A dropped connection logs in again before anything else.
    proxy.dropAll();
    await new Promise((r) => setTimeout(r, 100)); // let the client see the close
    expect((await c.get('auth1'))?.value.toString()).toBe('auth1');
    expect(countLines(proxy.sent(), 'set auth')).toBe(3);
    expect(proxy.connections).toBe(3);
    c.close();
    await proxy.close();
  });

  it('a wrong password is an AuthError with memcached\'s reply; no credentials get CLIENT_ERROR unauthenticated', async () => {
    const wrong = new Client({ port: auth.port, username: 'alice', password: 'nope' });
    const err = await wrong.get('k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toBe(`127.0.0.1:${auth.port}: authentication refused: CLIENT_ERROR authentication failure`);
    wrong.close();
    await expect(Client.connect({ port: auth.port, username: 'bob', password: 'x' })).rejects.toThrow(AuthError);
    const none = new Client({ port: auth.port });
    await expect(none.version()).rejects.toThrow(new MemcachedError('CLIENT_ERROR unauthenticated'));
    none.close();
  });

  it('works over TLS', async () => {
    const c = await Client.connect({ port: tlsAuth.port, tls: { ca: certs.ca }, username: 'bob', password: 'hunter2' });
    expect(await roundTrip(c)).toBe('over tls');
  });
});
