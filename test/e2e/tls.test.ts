// TLS end to end, with a throwaway CA and certificates (test/certs.ts): a
// handshake then set/get, data written over TLS surviving a restart, plain
// TCP refused on a TLS port, and --tls-verify-client: a client certificate
// signed by --tls-ca is required; none, or one from another CA, is refused.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { makeCerts, type Certs } from '../certs.js';
import { cleanup, startServer, tempDataDir } from './harness.js';
import { RawConnection } from './raw.js';

let dir: string;
let certs: Certs;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcl-tls-'));
  certs = makeCerts(dir);
});

afterAll(async () => {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const serverArgs = () => ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey];
const verifyArgs = () => [...serverArgs(), '--tls-ca', certs.caCert, '--tls-verify-client'];
const trustCa = (): ConnectionOptions => ({ ca: readFileSync(certs.caCert), servername: 'localhost' });
const clientCert = (cert: string, key: string): ConnectionOptions => ({ ...trustCa(), cert: readFileSync(cert), key: readFileSync(key) });

async function exchange(c: RawConnection, request: string, lines: number): Promise<string[]> {
  c.send(request);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(await c.line());
  return out;
}

/** Whether a TLS client is refused: the handshake fails, or the connection closes before answering. */
async function refused(port: number, options: ConnectionOptions): Promise<boolean> {
  let c: RawConnection;
  try {
    c = await RawConnection.openTls(port, options);
  } catch {
    return true;
  }
  c.send('version\r\n');
  try {
    return !(await c.line()).startsWith('VERSION');
  } catch (err) {
    if (!c.closed) throw err; // neither answered nor closed
    return true;
  } finally {
    c.close();
  }
}

describe('TLS', () => {
  it('serves set/get after a handshake the client verifies, and the data survives a restart', async () => {
    const dataDir = tempDataDir();
    let server = await startServer({ args: serverArgs(), dataDir });
    expect(server.stderr()).toMatch(/listening on 127\.0\.0\.1:\d+ \(TLS/);
    let c = await RawConnection.openTls(server.port, trustCa());
    expect(await exchange(c, 'set tls-key 7 0 6\r\nsecret\r\n', 1)).toEqual(['STORED']);
    expect(await exchange(c, 'get tls-key\r\n', 3)).toEqual(['VALUE tls-key 7 6', 'secret', 'END']);
    c.close();
    expect(await server.stop()).toBe(0);

    server = await startServer({ args: serverArgs(), dataDir });
    c = await RawConnection.openTls(server.port, trustCa());
    expect(await exchange(c, 'get tls-key\r\n', 3)).toEqual(['VALUE tls-key 7 6', 'secret', 'END']);
    c.close();
    await server.stop();
  });

  it('does not speak plain text on a TLS port', async () => {
    const server = await startServer({ args: serverArgs() });
    const c = await RawConnection.open(server.port);
    c.send('version\r\n');
    expect(await c.waitClosed()).toBe(true);
    expect(c.unread).not.toContain('VERSION');
    await server.stop();
  });

  it('shows the TLS settings in stats settings as memcached names them', async () => {
    const server = await startServer({ args: verifyArgs() });
    const c = await RawConnection.openTls(server.port, clientCert(certs.clientCert, certs.clientKey));
    c.send('stats settings\r\n');
    const lines: string[] = [];
    for (let l = await c.line(); l !== 'END'; l = await c.line()) lines.push(l);
    c.close();
    expect(lines).toEqual(expect.arrayContaining([
      'STAT ssl_enabled yes', `STAT ssl_chain_cert ${certs.serverCert}`, `STAT ssl_key ${certs.serverKey}`,
      'STAT ssl_verify_mode 3', `STAT ssl_ca_cert ${certs.caCert}`, 'STAT ssl_min_version tlsv1.2',
    ]));
    await server.stop();
  });

  it('with --tls-verify-client, serves a client certificate signed by --tls-ca and refuses none or another CA\'s', async () => {
    const server = await startServer({ args: verifyArgs() });
    const c = await RawConnection.openTls(server.port, clientCert(certs.clientCert, certs.clientKey));
    expect(await exchange(c, 'version\r\n', 1)).toEqual([expect.stringMatching(/^VERSION /)]);
    c.close();
    expect(await refused(server.port, trustCa())).toBe(true);
    expect(await refused(server.port, clientCert(certs.rogueClientCert, certs.rogueClientKey))).toBe(true);
    // TLS 1.2 too, where the refusal comes inside the handshake
    expect(await refused(server.port, { ...trustCa(), maxVersion: 'TLSv1.2' })).toBe(true);
    expect(await server.stop()).toBe(0);
  });

  it('with --idle-timeout, drops a client that never finishes its handshake', async () => {
    const server = await startServer({ args: [...serverArgs(), '--idle-timeout', '1'] });
    const c = await RawConnection.open(server.port);
    const started = Date.now();
    expect(await c.waitClosed(4000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await server.stop();
  });

  it('without --tls-verify-client, a client without a certificate is served', async () => {
    const server = await startServer({ args: serverArgs() });
    expect(await refused(server.port, trustCa())).toBe(false);
    await server.stop();
  });
});
