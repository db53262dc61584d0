// End to end over real sockets against the real server process.

import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, MemcachedError } from '../../src/client/client.js';
import { cleanup, runServerToExit, startServer, tempDataDir } from './harness.js';
import { RawConnection } from './raw.js';

afterAll(cleanup);

describe('durability across kill -9', () => {
  it('keeps every acknowledged SET from many concurrent connections', async () => {
    const dataDir = tempDataDir();
    const server = await startServer({ dataDir });
    const clients = await Promise.all(Array.from({ length: 16 }, () => Client.connect({ port: server.port })));
    const acked = new Map<string, string>();
    let stop = false;
    const writers = clients.map(async (client, c) => {
      for (let i = 0; !stop; i++) {
        const key = `k:${c}:${i}`;
        const value = `v:${c}:${i}:${'x'.repeat(i % 50)}`;
        try {
          if ((await client.set(key, value)) === 'STORED') acked.set(key, value);
        } catch {
          return; // the server died under us: this write was not acknowledged
        }
      }
    });
    while (acked.size < 1500) await new Promise((r) => setTimeout(r, 5));
    await server.kill9();
    stop = true;
    await Promise.all(writers);
    for (const c of clients) c.close();

    const restarted = await startServer({ dataDir });
    const reader = await Client.connect({ port: restarted.port });
    const keys = [...acked.keys()];
    for (let i = 0; i < keys.length; i += 200) {
      const batch = keys.slice(i, i + 200);
      const values = await reader.getMulti(batch);
      for (const key of batch) expect(values.get(key)?.value.toString(), key).toBe(acked.get(key));
    }
    reader.close();
    expect(await restarted.stop()).toBe(0);
  });

  it('replays deletes, incr, append, touch and flush_all after kill -9', async () => {
    const dataDir = tempDataDir();
    const server = await startServer({ dataDir });
    const c = await Client.connect({ port: server.port });
    await c.set('gone', 'x');
    await c.delete('gone');
    await c.set('n', '10');
    expect(await c.incr('n', 5)).toBe(15n);
    await c.set('s', 'mid', { flags: 7 });
    await c.append('s', '-end');
    await c.prepend('s', 'start-');
    await c.set('t', 'ttl', { exptime: 1 });
    expect(await c.touch('t', 1000)).toBe('TOUCHED');
    await c.set('old', 'o');
    await c.flushAll();
    await c.set('after', 'a');
    await server.kill9();
    c.close();

    const again = await startServer({ dataDir });
    const r = await Client.connect({ port: again.port });
    expect(await r.get('gone')).toBeUndefined();
    expect(await r.get('old')).toBeUndefined();
    expect(await r.get('n')).toBeUndefined(); // flushed
    expect((await r.get('after'))?.value.toString()).toBe('a');
    r.close();
    await again.stop();
  });

  it('keeps data across a clean SIGTERM shutdown (exit 0) and CAS keeps increasing', async () => {
    const dataDir = tempDataDir();
    const server = await startServer({ dataDir });
    const c = await Client.connect({ port: server.port });
    await c.set('a', 'one', { flags: 42 });
    await c.set('t', 'touched');
    await c.touch('t', 3600);
    const before = (await c.gets('a'))!.cas!;
    c.close();
    expect(await server.stop()).toBe(0);
    expect(server.stderr()).toMatch(/clean shutdown complete/);

    const again = await startServer({ dataDir });
    const r = await Client.connect({ port: again.port });
    const a = await r.gets('a');
    expect(a?.value.toString()).toBe('one');
    expect(a?.flags).toBe(42);
    expect(a?.cas).toBe(before);
    expect((await r.get('t'))?.value.toString()).toBe('touched');
    await r.set('b', 'two');
    expect((await r.gets('b'))!.cas!).toBeGreaterThan(before);
    r.close();
    await again.stop();
  });
});

describe('start-up contract', () => {
  it('refuses a second server on the same data directory, naming the holder', async () => {
    const server = await startServer();
    const second = await runServerToExit({ args: ['-p', '0'], dataDir: server.dataDir });
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`pid ${server.pid}`);
    await server.stop();
  });

  it('rejects a bad option value with a message naming the option', async () => {
    const bad = await runServerToExit({ args: ['--fsync', 'sometimes'], dataDir: tempDataDir() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--fsync: 'sometimes' must be always, everysec or no/);
    const badEnv = await runServerToExit({ dataDir: tempDataDir(), env: { PORT: 'eleven' } });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/PORT \(environment\)/);
    const badSize = await runServerToExit({ args: ['-I', '2x'], dataDir: tempDataDir() });
    expect(badSize.stderr).toMatch(/-I\/--max-item-size/);
  });

  it('takes settings from .env, overridden by the environment and then by flags', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'mcl-env-'));
    const envDir = tempDataDir();
    writeFileSync(join(cwd, '.env'), `DATA_DIR=${envDir}\nFSYNC=no\n`);
    const fromDotenv = await startServer({ cwd, dataDir: null });
    expect(fromDotenv.stderr()).toContain(`(data ${envDir}, fsync no)`);
    await fromDotenv.stop();
    const fromEnv = await startServer({ cwd, env: { FSYNC: 'everysec' } });
    expect(fromEnv.stderr()).toMatch(/fsync everysec/);
    await fromEnv.stop();
    const fromFlag = await startServer({ cwd, env: { FSYNC: 'everysec' }, args: ['--fsync', 'always'] });
    expect(fromFlag.stderr()).toMatch(/fsync always/);
    await fromFlag.stop();
  });

  it('prints help and exits 0', async () => {
    const help = await runServerToExit({ args: ['--help'] });
    expect(help.code).toBe(0);
  });
});

describe('protocol over the wire', () => {
  it('answers oversize values, bad keys and garbage, and the connection keeps working', async () => {
    const server = await startServer({ args: ['-I', '1m'] });
    const conn = await RawConnection.open(server.port);
    const big = 2_000_000;
    conn.send(`set big 0 0 ${big}\r\n`);
    conn.send(Buffer.alloc(big, 0x61));
    conn.send('\r\nversion\r\n');
    expect(await conn.line()).toBe('SERVER_ERROR object too large for cache');
    expect(await conn.line()).toMatch(/^VERSION /);
    conn.send(`set ${'k'.repeat(251)} 0 0 1\r\nx\r\n`);
    expect(await conn.line()).toBe('CLIENT_ERROR bad command line format');
    expect(await conn.line()).toBe('ERROR'); // the data line is read as a command, as memcached does
    conn.send('set bad\x10key 0 0 1\r\nx\r\nget bad\x10key\r\n'); // memcaslap's keys hold 0x10 bytes
    expect(await conn.line()).toBe('STORED');
    expect(await conn.line()).toBe('VALUE bad\x10key 0 1');
    expect(await conn.line()).toBe('x');
    expect(await conn.line()).toBe('END');
    conn.send('\x00\xff garbage here\r\nfoo bar\r\n');
    expect(await conn.line()).toBe('ERROR');
    expect(await conn.line()).toBe('ERROR');
    conn.send('set ok 0 0 2\r\nhi\r\nget ok\r\n');
    expect(await conn.line()).toBe('STORED');
    expect(await conn.line()).toBe('VALUE ok 0 2');
    expect(await conn.line()).toBe('hi');
    expect(await conn.line()).toBe('END');
    conn.close();
    await server.stop();
  });

  it('--strict-keys refuses keys with control characters', async () => {
    const server = await startServer({ args: ['--strict-keys'] });
    const conn = await RawConnection.open(server.port);
    conn.send('set bad\x01key 0 0 1\r\nx\r\nset good 0 0 1\r\nx\r\n');
    expect(await conn.line()).toBe('CLIENT_ERROR bad command line format');
    expect(await conn.line()).toBe('ERROR');
    expect(await conn.line()).toBe('STORED');
    conn.close();
    await server.stop();
  });

  it('stores and returns the largest value -I allows, like memcached (1,048,516 bytes with a 1-byte key)', async () => {
    const server = await startServer();
    const c = await Client.connect({ port: server.port });
    const value = Buffer.alloc(1_048_516, 7);
    expect(await c.set('k', value)).toBe('STORED');
    expect((await c.get('k'))?.value.equals(value)).toBe(true);
    await expect(c.set('k', Buffer.alloc(1_048_517))).rejects.toThrow(MemcachedError);
    expect(await c.get('k')).toBeUndefined(); // a failed set removes the stale value
    c.close();
    await server.stop();
  });

  it('closes a connection sending a line over 2048 bytes without a newline', async () => {
    const server = await startServer();
    const conn = await RawConnection.open(server.port);
    conn.send('x'.repeat(5000));
    expect(await conn.waitClosed()).toBe(true);
    const again = await RawConnection.open(server.port);
    again.send('version\r\n');
    expect(await again.line()).toMatch(/^VERSION/);
    again.close();
    await server.stop();
  });

  it('pipelines many commands in one packet and one command over many packets', async () => {
    const server = await startServer();
    const conn = await RawConnection.open(server.port);
    let batch = '';
    for (let i = 0; i < 100; i++) batch += `set p${i} ${i} 0 ${String(i).length}\r\n${i}\r\n`;
    batch += 'get p0 p1 p99\r\n';
    conn.send(batch);
    for (let i = 0; i < 100; i++) expect(await conn.line()).toBe('STORED');
    expect(await conn.line()).toBe('VALUE p0 0 1');
    expect(await conn.line()).toBe('0');
    expect(await conn.line()).toBe('VALUE p1 1 1');
    expect(await conn.line()).toBe('1');
    expect(await conn.line()).toBe('VALUE p99 99 2');
    expect(await conn.line()).toBe('99');
    expect(await conn.line()).toBe('END');
    const cmd = 'set split 0 0 10\r\n0123456789\r\n';
    for (const ch of cmd) { conn.send(ch); await new Promise((r) => setImmediate(r)); }
    expect(await conn.line()).toBe('STORED');
    conn.close();
    await server.stop();
  });

  it('enforces -c: the connection over the limit is refused and closed', async () => {
    const server = await startServer({ args: ['-c', '2'] });
    const a = await RawConnection.open(server.port);
    const b = await RawConnection.open(server.port);
    a.send('version\r\n');
    b.send('version\r\n');
    await a.line();
    await b.line();
    const c = await RawConnection.open(server.port);
    expect(await c.line()).toBe('ERROR Too many open connections');
    expect(await c.waitClosed()).toBe(true);
    a.close();
    await new Promise((r) => setTimeout(r, 100));
    const d = await RawConnection.open(server.port);
    d.send('version\r\n');
    expect(await d.line()).toMatch(/^VERSION/);
    for (const x of [b, d]) x.close();
    await server.stop();
  });

  it('reports memcached stats fields and our WAL fields', async () => {
    const server = await startServer();
    const c = await Client.connect({ port: server.port });
    await c.set('a', '1');
    await c.get('a');
    await c.get('missing');
    const stats = await c.stats();
    for (const field of ['pid', 'uptime', 'time', 'version', 'curr_connections', 'total_connections', 'cmd_get', 'cmd_set', 'cmd_touch',
      'cmd_flush', 'get_hits', 'get_misses', 'get_expired', 'delete_hits', 'delete_misses', 'incr_hits', 'incr_misses', 'decr_hits',
      'decr_misses', 'cas_hits', 'cas_misses', 'cas_badval', 'touch_hits', 'touch_misses', 'curr_items', 'total_items', 'bytes',
      'evictions', 'limit_maxbytes', 'wal_bytes', 'wal_records', 'wal_fsyncs', 'wal_fsync_avg_us', 'durable_seq']) {
      expect(stats.has(field), field).toBe(true);
    }
    expect(stats.get('pid')).toBe(String(server.pid));
    expect(stats.get('get_hits')).toBe('1');
    expect(stats.get('get_misses')).toBe('1');
    expect(Number(stats.get('wal_fsyncs'))).toBeGreaterThanOrEqual(1);
    expect(Number(stats.get('durable_seq'))).toBe(1);
    expect(await c.rawLine('verbosity 1\r\n')).toBe('OK');
    expect(await c.rawLine('cache_memlimit 7\r\n')).toBe('MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m');
    expect(await c.rawLine('cache_memlimit 100\r\n')).toBe('OK');
    expect((await c.stats()).get('limit_maxbytes')).toBe(String(100 * 1024 * 1024));
    expect((await c.stats('settings')).get('maxbytes')).toBe(String(100 * 1024 * 1024));
    c.close();
    await server.stop();
  });
});
