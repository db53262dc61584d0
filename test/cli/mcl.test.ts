// bin/mcl: classic commands against memcached-lite (needs `npm run build`),
// meta commands, several servers, TLS and auth against stock memcached.
// Most runs call mclMain in-process with buffered I/O; two spawn bin/mcl
// to check real standard input and process exit codes.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mclCommands, mclMain, mclUsage } from '../../src/cli/mcl.js';
import { Client } from '../../src/client/client.js';
import { cleanup, repoRoot, startServer, type ServerProcess } from '../e2e/harness.js';
import { startMemcached, stopDaemons, tempDir, type Daemon } from '../e2e/daemons.js';
import { makeCerts, memcachedTlsArgs, type Certs } from '../client/certs.js';

interface Run { status: number; stdout: string; stderr: string; json: () => unknown }

async function mcl(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const out: Buffer[] = [];
  let stderr = '';
  const status = await mclMain(args, {
    out: (d) => { out.push(Buffer.from(d)); },
    err: (t) => { stderr += t; },
    env: opts.env ?? {},
    stdin: () => Buffer.from(opts.stdin ?? ''),
  });
  const stdout = Buffer.concat(out).toString();
  return { status, stdout, stderr, json: () => JSON.parse(stdout) };
}

const spawnMcl = (args: string[], input?: string) =>
  spawnSync(process.execPath, [join(repoRoot, 'bin/mcl'), ...args], { input, encoding: 'utf8' });

let ours: ServerProcess;
let stock: Daemon;
let shards: Daemon[];
let secure: Daemon;
let certs: Certs;
let dir: string;

beforeAll(async () => {
  dir = tempDir();
  certs = makeCerts(dir);
  writeFileSync(join(dir, 'auth'), 'alice:s3cret\n');
  [ours, stock, secure, ...shards] = await Promise.all([
    startServer(),
    startMemcached(),
    startMemcached([...memcachedTlsArgs(certs), '-Y', join(dir, 'auth')]),
    startMemcached(),
    startMemcached(),
  ]);
});
afterAll(async () => {
  await ours.stop();
  await cleanup();
  await stopDaemons();
});

describe('bin/mcl as a process', () => {
  it('sets, gets, counts, touches and deletes with meaningful exit codes', () => {
    const m = (args: string[], input?: string) => spawnMcl(['--port', String(ours.port), ...args], input);
    expect(m(['set', 'cli', 'value']).stdout).toBe('STORED\n');
    const got = m(['get', 'cli']);
    expect([got.status, got.stdout]).toEqual([0, 'value\n']);
    expect(m(['get', 'cli-missing']).status).toBe(1);
    expect(m(['set', 'stdin'], 'from stdin').status).toBe(0);
    expect(m(['set', 'dash', '-'], 'dash stdin').status).toBe(0);
    expect(m(['get', 'stdin', 'dash']).stdout).toBe('stdin: from stdin\ndash: dash stdin\n');
    expect(m(['incr', 'cli', '1']).status).toBe(3);
    expect(m(['version']).stdout).toMatch(/^1\.6\.18/);
  });

  it('reports usage errors (2) and connection errors (3)', () => {
    expect(spawnMcl([]).status).toBe(2);
    const refused = spawnMcl(['--port', '1', 'version']);
    expect([refused.status, refused.stderr]).toEqual([3, 'mcl: 127.0.0.1:1: cannot connect: connect ECONNREFUSED 127.0.0.1:1\n']);
  });
});

describe('classic commands (memcached-lite)', () => {
  const m = (args: string[], opts?: { stdin?: string }) => mcl(['--port', String(ours.port), ...args], opts);

  it('stores with every mode, flags and exptime, and reads back with get/gets/gat/gats', async () => {
    expect((await m(['set', 'a', 'one', '--flags', '7', '--exptime', '100'])).stdout).toBe('STORED\n');
    expect(await m(['add', 'a', 'x'])).toMatchObject({ status: 1, stdout: 'NOT_STORED\n' });
    expect(await m(['replace', 'nope', 'x'])).toMatchObject({ status: 1, stdout: 'NOT_STORED\n' });
    expect((await m(['append', 'a', '!'])).status).toBe(0);
    expect((await m(['prepend', 'a', '>'])).status).toBe(0);
    const gets = await m(['--json', 'gets', 'a']);
    const hit = (gets.json() as { hits: Record<string, { value: string; flags: number; cas: string }> }).hits.a!;
    expect([hit.value, hit.flags]).toEqual(['>one!', 7]);
    expect((await m(['gets', 'a'])).stdout).toBe(`${hit.cas} >one!\n`);
    expect(await m(['cas', 'a', hit.cas, 'swapped'])).toMatchObject({ status: 0, stdout: 'STORED\n' });
    expect(await m(['cas', 'a', hit.cas, 'again'])).toMatchObject({ status: 1, stdout: 'EXISTS\n' });
    expect((await m(['gat', '200', 'a'])).stdout).toBe('swapped\n');
    expect((await m(['gats', '200', 'a', 'nope'])).stdout).toMatch(/^a: \d+ swapped\n$/);
    expect((await m(['gats', '200', 'a', 'nope'])).status).toBe(1);
  });

  it('takes values from --file and standard input, and prints binary values as base64 in JSON', async () => {
    const file = join(dir, 'value.bin');
    writeFileSync(file, Buffer.from([0xff, 0x00, 0x41]));
    expect((await m(['--file', file, 'set', 'bin'])).status).toBe(0);
    expect((await m(['--json', 'get', 'bin', 'nope'])).json()).toEqual({ hits: { bin: { base64: '/wBB', flags: 0 } }, misses: ['nope'] });
    expect((await m(['set', 'in', '-'], { stdin: 'piped' })).status).toBe(0);
    expect((await m(['get', 'in'])).stdout).toBe('piped\n');
    expect(await m(['--file', file, 'set', 'bin', 'also'])).toMatchObject({ status: 2, stderr: 'mcl: give the value as an argument or with --file, not both\n' });
    expect((await m(['--file', join(dir, 'missing'), 'set', 'k'])).status).toBe(2);
  });

  it('counts with 64-bit deltas, touches, deletes, flushes, noreply, verbosity, stats', async () => {
    await m(['set', 'n', '18446744073709551614']);
    expect((await m(['incr', 'n', '1'])).stdout).toBe('18446744073709551615\n');
    expect((await m(['--json', 'incr', 'n', '1'])).json()).toEqual({ reply: '0' });
    expect((await m(['decr', 'n', '5'])).stdout).toBe('0\n');
    expect(await m(['incr', 'missing', '1'])).toMatchObject({ status: 1, stdout: 'NOT_FOUND\n' });
    expect((await m(['touch', 'n', '60'])).stdout).toBe('TOUCHED\n');
    expect((await m(['delete', 'n'])).stdout).toBe('DELETED\n');
    expect(await m(['delete', 'n'])).toMatchObject({ status: 1, stdout: 'NOT_FOUND\n' });
    expect(await m(['--noreply', 'set', 'quiet', 'q'])).toMatchObject({ status: 0, stdout: '' });
    expect((await m(['get', 'quiet'])).stdout).toBe('q\n');
    expect((await m(['verbosity', '1'])).stdout).toBe('OK\n');
    expect((await m(['stats', 'settings'])).stdout).toMatch(/^maxbytes 67108864$/m);
    const stats = (await m(['--json', 'stats'])).json() as Record<string, Record<string, string>>;
    expect(stats[`127.0.0.1:${ours.port}`]!.curr_items).toMatch(/^\d+$/);
    expect((await m(['flush_all'])).stdout).toBe('OK\n');
    expect((await m(['get', 'quiet'])).status).toBe(1);
  });

  it('server errors exit 3 with the server\'s words', async () => {
    await m(['set', 'text', 'abc']);
    expect(await m(['incr', 'text', '1'])).toMatchObject({ status: 3, stderr: 'mcl: server said: CLIENT_ERROR cannot increment or decrement non-numeric value\n' });
  });
});

describe('meta commands (stock memcached)', () => {
  const m = (args: string[], opts?: { stdin?: string }) => mcl(['--port', String(stock.port), ...args], opts);

  it('prints reply lines and values as memcached sends them, with exit 1 for EN/NF/NS/EX', async () => {
    expect(await m(['ms', 'mk', 'hello', 'F5', 'T0'])).toMatchObject({ status: 0, stdout: 'HD\n' });
    expect((await m(['mg', 'mk', 's', 'v', 'f', 't'])).stdout).toBe('VA 5 s5 f5 t-1\nhello\n');
    expect((await m(['--json', 'mg', 'mk', 'v', 'Oid1'])).json()).toEqual({ code: 'VA', flags: ['Oid1'], value: 'hello' });
    expect(await m(['mg', 'absent', 'v'])).toMatchObject({ status: 1, stdout: 'EN\n' });
    expect(await m(['ms', 'mk', 'x', 'ME'])).toMatchObject({ status: 1, stdout: 'NS\n' });
    expect(await m(['ms', 'mk', 'x', 'C999999'])).toMatchObject({ status: 1, stdout: 'EX\n' });
    expect((await m(['ms', 'piped', '-'], { stdin: 'from stdin' })).status).toBe(0);
    const file = join(dir, 'meta.txt');
    writeFileSync(file, 'from file');
    expect((await m(['--file', file, 'ms', 'filed', 'T60'])).status).toBe(0);
    expect((await m(['mg', 'filed', 'v'])).stdout).toBe('VA 9\nfrom file\n');
    expect((await m(['mg', 'piped', 'v'])).stdout).toBe('VA 10\nfrom stdin\n');
    expect((await m(['ma', 'ctr', 'N0', 'J41', 'v'])).stdout).toBe('VA 2\n41\n');
    expect((await m(['ma', 'ctr', 'D9', 'v'])).stdout).toBe('VA 2\n50\n');
    expect(await m(['md', 'ctr', 'q'])).toMatchObject({ status: 0, stdout: 'HD\n' });
    expect(await m(['md', 'ctr'])).toMatchObject({ status: 1, stdout: 'NF\n' });
    expect((await m(['mn'])).stdout).toBe('MN\n');
    expect((await m(['me', 'mk'])).stdout).toMatch(/^ME mk exp=-1 la=\d+ cas=\d+ fetch=yes cls=1 size=\d+\n$/);
    expect((await m(['me', 'absent'])).status).toBe(1);
    expect(await m(['ms', 'k'])).toMatchObject({ status: 2, stderr: 'mcl: usage: mcl ms KEY VALUE [FLAG...]\n' });
  });
});

describe('several servers (ketama)', () => {
  it('puts each key on the server the library picks; version, stats, flush_all and mn reach every server', async () => {
    for (const hash of ['md5', 'fnv1a_64'] as const) {
      const servers = shards.map((d) => `127.0.0.1:${d.port}`);
      const m = (args: string[]) => mcl([...servers.flatMap((s) => ['--server', s]), '--hash', hash, ...args]);
      const lib = new Client({ servers, hash });
      expect((await m(['flush_all'])).stdout).toBe('OK\n');
      const keys = Array.from({ length: 30 }, (_, i) => `spread${i}`);
      for (const k of keys) expect((await m(['set', k, k])).status).toBe(0);
      for (const [i, d] of shards.entries()) {
        const here = await mcl(['--json', '--port', String(d.port), 'get', ...keys]);
        const hits = Object.keys((here.json() as { hits: object }).hits);
        expect(hits.sort()).toEqual(keys.filter((k) => lib.serverFor(k) === servers[i]).sort());
      }
      expect((await m(['get', ...keys])).status).toBe(0);
      lib.close();
    }
    const servers = shards.map((d) => `127.0.0.1:${d.port}`);
    const m = (args: string[]) => mcl([...servers.flatMap((s) => ['--server', s]), ...args]);
    expect((await m(['version'])).stdout).toBe(servers.map((s) => `${s} 1.6.18\n`).join(''));
    expect((await m(['stats'])).stdout.match(/^127\.0\.0\.1:\d+ curr_items \d+$/gm)).toHaveLength(2);
    expect((await m(['mn'])).stdout).toBe(servers.map((s) => `${s} MN\n`).join(''));
  });
});

describe('TLS and authentication (stock memcached -Z -Y)', () => {
  const base = () => ['--port', String(secure.port), '--tls-ca', certs.caCert];

  it('connects with --tls-* and --user/--password (or MCL_USER/MCL_PASSWORD)', async () => {
    expect((await mcl([...base(), '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey, '--tls-servername', 'localhost',
      '--user', 'alice', '--password', 's3cret', 'set', 'secure', 'yes'])).stdout).toBe('STORED\n');
    expect((await mcl([...base(), 'get', 'secure'], { env: { MCL_USER: 'alice', MCL_PASSWORD: 's3cret' } })).stdout).toBe('yes\n');
    expect((await mcl(['--port', String(secure.port), '--tls-insecure', '--user', 'alice', '--password', 's3cret', 'version'])).status).toBe(0);
  });

  it('reports a refused login, an untrusted certificate and a missing login with exit 3', async () => {
    expect(await mcl([...base(), '--user', 'alice', '--password', 'bad', 'version']))
      .toMatchObject({ status: 3, stderr: `mcl: 127.0.0.1:${secure.port}: authentication refused: CLIENT_ERROR authentication failure\n` });
    const untrusted = await mcl(['--port', String(secure.port), '--tls', '--user', 'alice', '--password', 's3cret', 'version']);
    expect([untrusted.status, untrusted.stderr]).toEqual([3, expect.stringMatching(/cannot connect: self[- ]signed certificate/)]);
    expect(await mcl([...base(), 'version'])).toMatchObject({ status: 3, stderr: 'mcl: server said: CLIENT_ERROR unauthenticated\n' });
    expect((await mcl([...base(), '--user', 'alice', 'version'], {})).status).toBe(2);
  });
});

describe('usage', () => {
  it('names every command in the usage text, and nothing else', async () => {
    const section = mclUsage.slice(mclUsage.indexOf('Classic commands'));
    const listed = new Set([...section.matchAll(/^ {2}([a-z_|]+)/gm)].flatMap((x) => x[1]!.split('|')));
    expect([...listed].sort()).toEqual([...mclCommands].sort());
    expect(await mcl(['--help'])).toMatchObject({ status: 0, stdout: mclUsage });
  });

  it('refuses bad usage with exit 2 and a reason', async () => {
    const p = ['--port', String(stock.port)];
    const cases: Array<[string[], string]> = [
      [[], ''],
      [['frobnicate'], "mcl: unknown command 'frobnicate'\n"],
      [['--frob', 'get', 'k'], 'mcl: unknown option --frob\n'],
      [[...p, 'incr', 'k'], 'mcl: usage: mcl incr KEY DELTA\n'],
      [[...p, 'incr', 'k', '-1'], 'mcl: DELTA must be a non-negative integer, got "-1"\n'],
      [[...p, 'get', 'a b'], 'mcl: key contains a space or control character: "a b"\n'],
      [[...p, 'delete', 'a', 'b'], 'mcl: usage: mcl delete KEY\n'],
      [['--server', 'x', 'version'], 'mcl: --server: server must be host:port[:weight][ name], got "x"\n'],
      [['--server', '127.0.0.1:1', '--port', '2', 'version'], 'mcl: use --server, or --host/--port, not both\n'],
      [['--hash', 'crc32', 'version'], 'mcl: --hash must be one of md5, fnv1a_64\n'],
      [['--port', '70000', 'version'], 'mcl: --port must be an integer from 1 to 65535, got "70000"\n'],
    ];
    for (const [args, stderr] of cases) {
      const r = await mcl(args);
      expect([args, r.status, r.stderr.split('Usage:')[0]]).toEqual([args, 2, stderr]);
    }
  });
});
