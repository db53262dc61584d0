// Stats formats and admin commands end to end, compared with a real
// memcached 1.6.18 after the same requests: stats settings / items / slabs /
// conns field names (and values where we hold the same thing), the metadump
// format, the answers to lru_crawler / shutdown / cache_memlimit / verbosity
// / stats reset; then shutdown with -A and the idle timeout on our server.

import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, tempDataDir } from './harness.js';
import { startMemcached, stopDaemons } from './daemons.js';
import { converse, RawConnection } from './raw.js';

afterAll(async () => {
  await stopDaemons();
  await cleanup();
});

/** Runs the same requests on a fresh real memcached and a fresh server of ours (in parallel). */
async function both(parts: string[], ourArgs: string[] = []): Promise<{ stock: string[]; ours: string[] }> {
  const stockServer = await startMemcached();
  const ourServer = await startServer({ args: ourArgs });
  const [stock, ours] = await Promise.all([converse(stockServer.port, parts), converse(ourServer.port, parts)]);
  await Promise.all([stockServer.stop(), ourServer.stop()]);
  return { stock, ours };
}

type Stats = Array<[string, string]>;

/** STAT lines as [name, value]; every line must be `STAT name value` and the reply end in END. */
function parseStats(reply: string): Stats {
  const lines = reply.split('\r\n');
  expect(lines.splice(-2)).toEqual(['END', '']);
  return lines.map((line) => {
    const parts = line.split(' ');
    expect(parts, line).toHaveLength(3);
    expect(parts[0]).toBe('STAT');
    return [parts[1]!, parts[2]!];
  });
}

const names = (s: Stats) => s.map(([n]) => n);
const isNumber = (v: string) => /^-?\d+(\.\d+)?$/.test(v);

/** For every field both have: where memcached's value is a number (or yes/no), ours is one too. */
function expectSameKinds(stock: Stats, ours: Stats): void {
  const mine = new Map(ours);
  for (const [name, value] of stock) {
    const v = mine.get(name);
    if (v === undefined) continue;
    if (isNumber(value)) expect(isNumber(v), `${name}: ${v}`).toBe(true);
    if (value === 'yes' || value === 'no') expect(['yes', 'no'], name).toContain(v);
  }
}

const big = `set big 0 0 5000\r\n${'x'.repeat(5000)}\r\n`;
const workload = ['set foo 5 0 3\r\nbar\r\n', 'set a%20b/c 0 100 1\r\nx\r\n', big, 'get foo\r\n', 'get missing\r\n', 'delete nothing\r\n'];

describe('stats against a real memcached', () => {
  it('stats settings: memcached\'s fields in its order (but extstore\'s), then ours; same kinds of values', async () => {
    const { stock, ours } = await both(['stats settings\r\n']);
    const [s, o] = [parseStats(stock[0]!), parseStats(ours[0]!)];
    const withoutExtstore = names(s).filter((n) => !n.startsWith('ext_') && n !== 'slab_automove_freeratio');
    expect(names(o).slice(0, withoutExtstore.length)).toEqual(withoutExtstore);
    expect(names(o).slice(withoutExtstore.length)).toEqual(['data_dir', 'fsync', 'snapshot_interval', 'snapshot_min_wal', 'wal_archive', 'strict_keys']);
    expectSameKinds(s, o);
    const mine = new Map(o);
    for (const name of ['maxbytes', 'maxconns', 'item_size_max', 'growth_factor', 'chunk_size', 'lru_crawler', 'lru_crawler_sleep', 'lru_crawler_tocrawl',
      'hot_lru_pct', 'warm_lru_pct', 'hot_max_factor', 'warm_max_factor', 'idle_timeout', 'slab_chunk_max', 'auth_enabled_ascii', 'ssl_enabled']) {
      expect(mine.get(name), name).toBe(new Map(s).get(name));
    }
  });

  it('stats items and stats slabs: the same fields; the same values but for the segmented LRU\'s', async () => {
    const { stock, ours } = await both([...workload, 'stats items\r\n', 'stats slabs\r\n']);
    const [si, oi] = [parseStats(stock.at(-2)!), parseStats(ours.at(-2)!)];
    const [ss, os] = [parseStats(stock.at(-1)!), parseStats(ours.at(-1)!)];
    expect(names(oi)).toEqual(names(si));
    expect(names(os)).toEqual(names(ss));
    // What memcached's segmented LRU and its maintainer thread do (we have one LRU per server).
    const lruOnly = /:(number_(hot|warm|cold)|hits_to_\w+|moves_\w+|age(_hot|_warm)?)$/;
    expect(oi.filter(([n]) => !lruOnly.test(n))).toEqual(si.filter(([n]) => !lruOnly.test(n)));
    expect(os).toEqual(ss);
    expect(names(si)).toContain('items:19:number');
  });

  it('stats conns: the same lines for the listener and for each connection', async () => {
    const { stock, ours } = await both(['stats conns\r\n']);
    const shape = (reply: string) => parseStats(reply).map(([n, v]) => [n.replace(/^\d+:/, 'N:'), /^\d+$/.test(v) ? 'S' : v.replace(/\d+$/, 'P')]);
    expect(shape(ours[0]!)).toEqual(shape(stock[0]!));
    expect(shape(ours[0]!)).toEqual([
      ['N:addr', 'tcp:127.0.0.1:P'], ['N:state', 'conn_listening'], ['N:secs_since_last_cmd', 'S'],
      ['N:addr', 'tcp:127.0.0.1:P'], ['N:listen_addr', 'tcp:127.0.0.1:P'], ['N:state', 'conn_parse_cmd'], ['N:secs_since_last_cmd', 'S'],
    ]);
  });

  it('stats: STAT name value lines; where memcached\'s value is a number ours is too; rusage in sec.usec', async () => {
    const { stock, ours } = await both([...workload, 'stats\r\n']);
    const [s, o] = [parseStats(stock.at(-1)!), parseStats(ours.at(-1)!)];
    expectSameKinds(s, o);
    const mine = new Map(o);
    for (const name of ['rusage_user', 'rusage_system']) expect(mine.get(name)).toMatch(/^\d+\.\d{6}$/);
    for (const name of ['cmd_get', 'cmd_set', 'get_hits', 'get_misses', 'delete_misses', 'curr_items', 'total_items', 'bytes']) {
      expect(mine.get(name), name).toBe(new Map(s).get(name));
    }
  });
});

describe('lru_crawler metadump against a real memcached', () => {
  it('lists the same items with the same fields (times compared relative to the access time)', async () => {
    const { stock, ours } = await both([...workload, 'set gone 0 -1 1\r\nx\r\n', 'lru_crawler metadump all\r\n']);
    const normalise = (dump: string) => {
      expect(dump.endsWith('END\r\n')).toBe(true);
      return dump.slice(0, -'END\r\n'.length).split('\n').filter(Boolean).map((line) => {
        const m = /^key=(\S+) exp=(-?\d+) la=(\d+) (cas=\d+ fetch=(?:yes|no) cls=\d+ size=\d+)$/.exec(line);
        expect(m, line).not.toBeNull();
        const [, key, exp, la, rest] = m!;
        return `key=${key} ttl=${exp === '-1' ? -1 : Number(exp) - Number(la)} ${rest}`;
      }).sort();
    };
    expect(normalise(ours.at(-1)!)).toEqual(normalise(stock.at(-1)!));
    expect(normalise(ours.at(-1)!)).toEqual([
      'key=a%2520b%2Fc ttl=100 cas=2 fetch=no cls=1 size=67',
      'key=big ttl=-1 cas=3 fetch=no cls=19 size=5062',
      'key=foo ttl=-1 cas=1 fetch=yes cls=1 size=69',
    ]);
  });
});

describe('admin commands against a real memcached', () => {
  it('answers lru_crawler, shutdown (without -A), cache_memlimit, verbosity and stats subcommands alike', async () => {
    // One at a time; no two crawls in a row (memcached may still be busy with the first).
    const parts = [
      'lru_crawler metadump 0\r\n', 'lru_crawler metadump x\r\n', 'lru_crawler metadump\r\n', 'lru_crawler metadump all extra\r\n',
      'lru_crawler crawl all\r\n', 'lru_crawler crawl 0\r\n', 'lru_crawler tocrawl 5\r\n', 'lru_crawler tocrawl -1\r\n',
      'lru_crawler sleep 2000000\r\n', 'lru_crawler sleep x\r\n', 'lru_crawler enable\r\n', 'lru_crawler foo\r\n', 'lru_crawler\r\n',
      'lru_crawler disable\r\n', 'lru_crawler metadump all\r\n', 'lru_crawler crawl all\r\n', 'lru_crawler enable\r\n', 'lru_crawler sleep 100\r\n',
      'lru_crawler tocrawl 0\r\n', 'lru_crawler metadump all\r\n',
      'shutdown\r\n', 'shutdown graceful\r\n', 'shutdown x\r\n',
      'stats reset\r\n', 'stats reset x\r\n', 'stats foo\r\n', 'stats items x\r\n', 'stats slabs x\r\n',
      'cache_memlimit 100\r\n', 'cache_memlimit 100 noreply\r\n', 'cache_memlimit 5\r\n', 'cache_memlimit abc\r\n', 'cache_memlimit\r\n',
      'verbosity\r\n', 'verbosity 1\r\n', 'verbosity 5 6\r\n', 'verbosity 0 noreply\r\n', 'verbosity x\r\n', 'version\r\n',
    ];
    const { stock, ours } = await both(parts);
    const normalised = (replies: string[]) => replies.map((r) => r.replace(/^VERSION .*/, 'VERSION'));
    expect(normalised(ours)).toEqual(normalised(stock));
    expect(stock).toContain('ERROR: shutdown not enabled\r\n');
  });
});

describe('shutdown with -A', () => {
  it('ends the connection without a reply and stops the server cleanly (exit 0); acknowledged writes survive', async () => {
    const dataDir = tempDataDir();
    let server = await startServer({ args: ['-A'], dataDir });
    const c = await RawConnection.open(server.port);
    c.send('set k 0 0 1\r\nv\r\nshutdown\r\n');
    expect(await c.line()).toBe('STORED');
    expect(await c.waitClosed()).toBe(true);
    expect(c.unread).toBe('');
    expect(await server.stop()).toBe(0);
    expect(server.stderr()).toMatch(/shutdown command: shutting down[\s\S]*clean shutdown complete/);
    server = await startServer({ args: ['-A'], dataDir });
    const d = await RawConnection.open(server.port);
    d.send('get k\r\nshutdown graceful\r\n');
    expect([await d.line(), await d.line(), await d.line()]).toEqual(['VALUE k 0 1', 'v', 'END']);
    expect(await server.stop()).toBe(0);
    expect(server.stderr()).toContain('clean shutdown complete');
  });
});

describe('--idle-timeout', () => {
  it('closes a connection idle past the timeout, keeps one that keeps sending, and shows the setting', async () => {
    const server = await startServer({ args: ['--idle-timeout', '1'] });
    const idle = await RawConnection.open(server.port);
    const busy = await RawConnection.open(server.port);
    const started = Date.now();
    while (Date.now() - started < 3000) {
      busy.send('version\r\n');
      expect(await busy.line()).toMatch(/^VERSION /);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(idle.closed).toBe(true);
    busy.send('stats settings\r\n');
    const lines: string[] = [];
    for (let l = await busy.line(); l !== 'END'; l = await busy.line()) lines.push(l);
    expect(lines).toContain('STAT idle_timeout 1');
    busy.close();
    expect(await server.stop()).toBe(0);
  });
});
