// -Y/--auth-file end to end: the real server against a real memcached -Y for
// the login conversation, then what only we promise: the login is never
// stored or written to disk, survives no restart, binary connections are
// refused, a bad auth file stops start-up, SIGHUP reloads the file.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, runServerToExit, startServer, tempDataDir, type ServerProcess } from './harness.js';
import { startMemcached, stopDaemons } from './daemons.js';
import { converse, RawConnection } from './raw.js';

let dir: string;
let authFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcl-auth-'));
  authFile = join(dir, 'auth.txt'); // the stock memcached runs as this user (daemons.ts), so it can read it
  writeFileSync(authFile, 'alice:secret\nbob:pw2\n');
});

afterAll(async () => {
  await stopDaemons();
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const withAuth = (dataDir?: string) => startServer({ args: ['-Y', authFile], ...(dataDir ? { dataDir } : {}) });

async function request(port: number, ...lines: string[]): Promise<string[]> {
  const c = await RawConnection.open(port);
  try {
    const out: string[] = [];
    for (const line of lines) {
      c.send(line);
      out.push(await c.line());
    }
    return out;
  } finally {
    c.close();
  }
}

async function stat(port: number, login: string, name: string): Promise<string | undefined> {
  const c = await RawConnection.open(port);
  c.send(login);
  await c.line();
  c.send(name.startsWith('settings:') ? 'stats settings\r\n' : 'stats\r\n');
  const wanted = name.replace(/^settings:/, '');
  let value: string | undefined;
  for (let l = await c.line(); l !== 'END'; l = await c.line()) if (l.startsWith(`STAT ${wanted} `)) value = l.slice(`STAT ${wanted} `.length);
  c.close();
  return value;
}

const BOB = 'set any 0 0 7\r\nbob pw2\r\n';

describe('-Y against a real memcached -Y', () => {
  it('answers the login conversation byte for byte as memcached 1.6.18', async () => {
    // One request at a time, and no bad data block with bytes after it: memcached keeps only
    // the last reply of a read during login, and leaves a lone "\n" unread until more comes.
    const parts = [
      'get foo\r\n', 'quit\r\n', 'version\r\n', 'stats\r\n', 'delete foo\r\n', 'set\r\n', 'set a b c\r\n', 'set a b c -1\r\n', 'set a b c 4x\r\n',
      'set k 0 0 3\r\n', 'abc\r\n', 'set a b c 4\r\n', 'ab\r\n\r\n', 'set k 0 0 5\r\n', 'bob  \r\n',
      'set k 0 0 3\r\n', 'abcde', 'set k 0 0 12\r\n', 'alice secreT\r\n', 'set k 0 0 12\r\nalicE secret\r\n', 'set k 0 0 4\r\nbobx\r\n',
      'get k\r\n', 'set k 0 0 12 noreply\r\nalice secret\r\n', 'get k\r\n', 'set k 0 0 1\r\nx\r\n', 'get k\r\n', 'delete k\r\n',
    ];
    const stock = await startMemcached(['-Y', authFile]);
    const ours = await withAuth();
    const [expected, actual] = await Promise.all([converse(stock.port, parts), converse(ours.port, parts)]);
    await stock.stop();
    expect(actual).toEqual(expected);
    expect(expected).toContain('STORED\r\n');
    expect(expected).toContain('CLIENT_ERROR authentication failure\r\n');
  });
});

describe('-Y', () => {
  it('never stores the login: not in memory, not on disk, not after a restart', async () => {
    const dataDir = tempDataDir();
    let server: ServerProcess = await withAuth(dataDir);
    expect(await request(server.port, 'set loginkey 0 0 7\r\nbob pw2\r\n', 'get loginkey\r\n', 'set real 0 0 1\r\nv\r\n')).toEqual(['STORED', 'END', 'STORED']);
    expect(await stat(server.port, BOB, 'curr_items')).toBe('1');
    expect(await server.stop()).toBe(0);
    for (const file of filesUnder(dataDir)) expect(readFileSync(file).includes('pw2'), file).toBe(false);
    server = await withAuth(dataDir);
    expect(await request(server.port, 'get real\r\n')).toEqual(['CLIENT_ERROR unauthenticated']);
    expect(await request(server.port, BOB, 'get loginkey\r\n', 'get real\r\n')).toEqual(['STORED', 'END', 'VALUE real 0 1']);
    await server.stop();
  });

  it('counts logins in auth_cmds / auth_errors and shows the file in stats settings', async () => {
    const server = await withAuth();
    expect(await request(server.port, 'set k 0 0 7\r\nbob pw1\r\n', 'set k 0 0 7\r\nbob pw2\r\n')).toEqual(['CLIENT_ERROR authentication failure', 'STORED']);
    expect(await stat(server.port, BOB, 'auth_cmds')).toBe('3');
    expect(await stat(server.port, BOB, 'auth_errors')).toBe('1');
    expect(await stat(server.port, BOB, 'settings:auth_enabled_ascii')).toBe(authFile);
    await server.stop();
  });

  it('closes a binary-protocol connection without a reply', async () => {
    const server = await withAuth();
    const c = await RawConnection.open(server.port);
    const versionRequest = Buffer.alloc(24);
    versionRequest[0] = 0x80;
    versionRequest[1] = 0x0b;
    c.send(versionRequest);
    expect(await c.waitClosed()).toBe(true);
    expect(c.unread).toBe('');
    expect(await request(server.port, BOB)).toEqual(['STORED']);
    await server.stop();
  });

  it('refuses to start with an auth file it cannot read or that is malformed', async () => {
    const missing = join(dir, 'missing.txt');
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, 'alice:secret\nno colon here\n');
    for (const [file, message] of [[missing, `-Y/--auth-file: cannot read '${missing}'`], [bad, `'${bad}' line 2 is not 'user:password'`]] as const) {
      const r = await runServerToExit({ args: ['-Y', file, '-p', '0'], dataDir: tempDataDir() });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });

  it('reloads the file on SIGHUP, and keeps the old entries if the new file is bad', async () => {
    const file = join(dir, 'reload.txt');
    writeFileSync(file, 'bob:pw2\n');
    const server = await startServer({ args: ['-Y', file] });
    writeFileSync(file, 'carol:pw3\n');
    process.kill(server.pid, 'SIGHUP');
    await waitFor(() => server.stderr().includes('SIGHUP: reloaded 1 entries'));
    expect(await request(server.port, BOB)).toEqual(['CLIENT_ERROR authentication failure']);
    expect(await request(server.port, 'set k 0 0 9\r\ncarol pw3\r\n')).toEqual(['STORED']);
    writeFileSync(file, 'broken\n');
    process.kill(server.pid, 'SIGHUP');
    await waitFor(() => server.stderr().includes('auth file not reloaded'));
    expect(await request(server.port, 'set k 0 0 9\r\ncarol pw3\r\n')).toEqual(['STORED']);
    expect(await server.stop()).toBe(0);
  });
});

function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const path = join(root, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
