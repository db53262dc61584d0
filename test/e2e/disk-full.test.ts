// A real full disk: the data directory on a small tmpfs, filled up under
// writes, then freed. Writes must be refused (SERVER_ERROR, not applied),
// reads keep working, nothing acknowledged is lost, a restart on the full disk
// does not crash-loop, and writes resume once space returns.
// Needs root to mount the tmpfs (CI runs as root).

import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, MemcachedError } from '../../src/client/client.js';
import { cleanup, startServer } from './harness.js';

const mountPoint = mkdtempSync(join(tmpdir(), 'mcl-tmpfs-'));
let mounted = false;

afterAll(async () => {
  await cleanup();
  if (mounted) execFileSync('umount', [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

function freeBytes(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

/** Sets until the server refuses; returns the acknowledged keys and the refusal text. */
async function waitForLog(server: { stderr(): string }, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (pattern.test(server.stderr())) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`the server never logged ${pattern}:\n${server.stderr()}`);
}

async function fillUntilRefused(c: Client, prefix: string, value: Buffer, acked: Map<string, Buffer>): Promise<string> {
  for (let i = 0; i < 10_000; i++) {
    const key = `${prefix}${i}`;
    try {
      expect(await c.set(key, value)).toBe('STORED');
      acked.set(key, value);
    } catch (err) {
      if (err instanceof MemcachedError) return err.line;
      throw err;
    }
  }
  throw new Error('the disk never filled');
}

describe('disk full on a real file system', () => {
  it('refuses writes, keeps reads and acknowledged data, survives restart, resumes when space returns', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs and needs root (CI runs as root)');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', mountPoint]);
    mounted = true;
    const dataDir = join(mountPoint, 'data');
    mkdirSync(dataDir);
    const server = await startServer({ dataDir });
    const c = await Client.connect({ port: server.port });
    const acked = new Map<string, Buffer>();
    await c.set('before', 'still here');
    acked.set('before', Buffer.from('still here'));

    // Leave about 3 MB free beside the server's 16 MB reserve.
    const filler = join(mountPoint, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, freeBytes(mountPoint) - 3 * 1024 * 1024)));
    const value = Buffer.alloc(100 * 1024, 0x5a);
    const refusal = await fillUntilRefused(c, 'a', value, acked);
    expect(refusal).toBe('SERVER_ERROR out of disk space');
    expect(acked.size).toBeGreaterThan(5);

    // Refused writes are not applied; reads and deletes-as-reads keep working.
    await expect(c.set('refused', 'x')).rejects.toThrow('SERVER_ERROR out of disk space');
    expect(await c.get('refused')).toBeUndefined();
    expect((await c.get('before'))?.value.toString()).toBe('still here');
    expect(server.proc.exitCode).toBeNull();

    // A snapshot asked for now is skipped: it could take the space the reserve gave back to the WAL.
    process.kill(server.pid, 'SIGUSR2');
    await waitForLog(server, /snapshot skipped \(.*\): the disk is full/);
    expect(await c.get('before')).toBeDefined();
    expect(server.proc.exitCode).toBeNull();

    // A restart while the disk is still full starts (no crash loop) and serves reads.
    await server.kill9();
    c.close();
    const onFull = await startServer({ dataDir });
    const r = await Client.connect({ port: onFull.port });
    for (const [key, v] of acked) expect((await r.get(key))?.value.equals(v), key).toBe(true);
    await expect(r.set('still-refused', 'x')).rejects.toThrow('SERVER_ERROR out of disk space');

    // Space returns: writes resume by themselves within a few seconds.
    rmSync(filler);
    let resumed = false;
    for (let i = 0; i < 100 && !resumed; i++) {
      try {
        resumed = (await r.set('after', 'space')) === 'STORED';
      } catch {
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    expect(resumed).toBe(true);
    acked.set('after', Buffer.from('space'));
    await onFull.kill9();
    r.close();

    const final = await startServer({ dataDir });
    const f = await Client.connect({ port: final.port });
    for (const [key, v] of acked) expect((await f.get(key))?.value.equals(v), key).toBe(true);
    f.close();
    expect(await final.stop()).toBe(0);
  });
});
