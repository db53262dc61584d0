// The client library and bin/mcl against a real server process.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Client, MemcachedError } from '../../src/client/client.js';
import { cleanup, repoRoot, startServer, type ServerProcess } from '../e2e/harness.js';

let server: ServerProcess;
beforeAll(async () => { server = await startServer(); });
afterAll(async () => { await server.stop(); await cleanup(); });

describe('client library', () => {
  it('covers every command, with pipelined requests matched in order', async () => {
    const c = await Client.connect({ port: server.port });
    const replies = await Promise.all([
      c.set('a', 'one', { flags: 3 }),
      c.add('a', 'x'),
      c.replace('missing', 'x'),
      c.set('n', '41'),
      c.incr('n', 1),
      c.decr('n', 50),
      c.append('a', '!'),
      c.prepend('a', '>'),
      c.touch('a', 100),
      c.delete('missing'),
    ]);
    expect(replies).toEqual(['STORED', 'NOT_STORED', 'NOT_STORED', 'STORED', 42n, 0n, 'STORED', 'STORED', 'TOUCHED', 'NOT_FOUND']);
    const a = await c.gets('a');
    expect(a?.value.toString()).toBe('>one!');
    expect(a?.flags).toBe(3);
    expect(await c.cas('a', 'new', a!.cas!)).toBe('STORED');
    expect(await c.cas('a', 'newer', a!.cas!)).toBe('EXISTS');
    expect((await c.gat(100, 'a'))?.value.toString()).toBe('new');
    expect((await c.gats(100, 'a'))?.cas).toBeGreaterThan(0n);
    const multi = await c.getMulti(['a', 'n', 'nope']);
    expect([...multi.keys()].sort()).toEqual(['a', 'n']);
    await expect(c.incr('a', 1)).rejects.toThrow(MemcachedError);
    expect(await c.set('quiet', 'q', { noreply: true })).toBeUndefined();
    expect((await c.get('quiet'))?.value.toString()).toBe('q');
    expect(await c.version()).toMatch(/^1\.6\./);
    expect((await c.stats()).get('curr_items')).toBeDefined();
    expect((await c.stats('settings')).get('maxbytes')).toBe(String(64 * 1024 * 1024));
    await c.flushAll();
    expect(await c.get('a')).toBeUndefined();
    await c.quit();
  });

  it('round-trips binary values of 500 KB and 1 MB minus overhead', async () => {
    const c = await Client.connect({ port: server.port });
    for (const size of [500 * 1024, 1_048_576 - 59 - 3]) {
      const value = Buffer.alloc(size);
      for (let i = 0; i < size; i++) value[i] = (i * 31) & 0xff;
      expect(await c.set('big', value)).toBe('STORED');
      expect((await c.get('big'))?.value.equals(value)).toBe(true);
    }
    c.close();
  });

  it('rejects waiting requests when the connection closes', async () => {
    const c = await Client.connect({ port: server.port });
    c.close();
    await expect(c.get('x')).rejects.toThrow();
  });
});

describe('bin/mcl', () => {
  const mcl = (args: string[], input?: string) =>
    spawnSync(process.execPath, [join(repoRoot, 'bin/mcl'), '--port', String(server.port), ...args], { input, encoding: 'utf8' });

  it('sets, gets, counts, touches and deletes with meaningful exit codes', () => {
    expect(mcl(['set', 'cli', 'value']).stdout).toBe('STORED\n');
    const got = mcl(['get', 'cli']);
    expect([got.status, got.stdout]).toEqual([0, 'value\n']);
    expect(mcl(['get', 'cli-missing']).status).toBe(1);
    expect(mcl(['set', 'stdin'], 'from stdin').status).toBe(0);
    expect(mcl(['get', 'stdin']).stdout).toBe('from stdin\n');
    expect(mcl(['set', 'num', '9']).status).toBe(0);
    expect(mcl(['incr', 'num', '1']).stdout).toBe('10\n');
    expect(mcl(['decr', 'num', '20']).stdout).toBe('0\n');
    expect(mcl(['touch', 'num', '60']).stdout).toBe('TOUCHED\n');
    expect(mcl(['delete', 'num']).stdout).toBe('DELETED\n');
    expect(mcl(['delete', 'num']).status).toBe(1);
    expect(mcl(['version']).stdout).toMatch(/^1\.6\.18/);
    expect(mcl(['stats']).stdout).toMatch(/^pid \d+$/m);
  });

  it('reports usage errors (2), server errors and connection errors (3)', () => {
    expect(mcl([]).status).toBe(2);
    expect(mcl(['frobnicate']).status).toBe(2);
    expect(mcl(['incr', 'k']).status).toBe(2);
    mcl(['set', 'text', 'abc']);
    const nonNumeric = mcl(['incr', 'text', '1']);
    expect(nonNumeric.status).toBe(3);
    expect(nonNumeric.stderr).toMatch(/CLIENT_ERROR cannot increment or decrement non-numeric value/);
    const refused = spawnSync(process.execPath, [join(repoRoot, 'bin/mcl'), '--port', '1', 'version'], { encoding: 'utf8' });
    expect(refused.status).toBe(3);
    expect(refused.stderr).toMatch(/cannot connect/);
  });
});
