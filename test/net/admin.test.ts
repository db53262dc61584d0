// Admin commands of the text protocol, in-process: lru_crawler (metadump's
// line format, class lists, the settings its subcommands change), shutdown
// with and without -A, stats conns / settings / reset. Reply texts are
// memcached 1.6.18's (test/e2e/admin.test.ts compares them with a real one).

import { describe, expect, it } from 'vitest';
import { Credentials } from '../../src/net/auth.js';
import { uriEncode } from '../../src/net/admin.js';
import { TextProtocol } from '../../src/net/text-protocol.js';
import { server_version, type ConnectionView } from '../../src/net/stats.js';
import { drive, newContext, type Context } from './protocol-driver.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function run(ctx: Context, ...lines: string[]): string[] {
  return drive(new TextProtocol(ctx), [b(lines.join(''))]).replies;
}

const nowS = () => Math.floor(Date.now() / 1000);

describe('lru_crawler metadump', () => {
  it('lists live items in memcached\'s format: uri-encoded key, absolute times, "\\n" lines, END', () => {
    const ctx = newContext();
    const before = nowS();
    const [, , , dump] = run(ctx, 'set foo 5 0 3\r\nbar\r\n', 'set a%20b/c 0 100 1\r\nx\r\n', 'get foo\r\n', 'lru_crawler metadump all\r\n');
    const after = nowS();
    expect(dump!.endsWith('\nEND\r\n')).toBe(true);
    const lines = dump!.slice(0, -'END\r\n'.length).split('\n');
    expect(lines.pop()).toBe('');
    const m1 = /^key=a%2520b%2Fc exp=(\d+) la=(\d+) cas=2 fetch=no cls=1 size=67$/.exec(lines[0]!);
    const m2 = /^key=foo exp=-1 la=(\d+) cas=1 fetch=yes cls=1 size=69$/.exec(lines[1]!);
    expect(m1, lines[0]).not.toBeNull();
    expect(m2, lines[1]).not.toBeNull();
    expect(Number(m1![1]) - Number(m1![2])).toBe(100);
    for (const la of [Number(m1![2]), Number(m2![1])]) expect(la >= before && la <= after).toBe(true);
    expect(lines).toHaveLength(2);
  });

  it('an item recovered from disk (no access time) shows the server\'s start as la, as `me` counts its idle time', () => {
    const ctx: Context = newContext({}, undefined, Date.now() - 5000);
    ctx.backend.engine.applyEffect({ kind: 'put', seq: 1, key: 'r', value: b('v'), flags: 0, expiresAtMs: 0, cas: 7 });
    const [dump, me] = run(ctx, 'lru_crawler metadump all\r\n', 'me r\r\n');
    expect(dump).toBe(`key=r exp=-1 la=${Math.floor(ctx.startedAtMs / 1000)} cas=7 fetch=no cls=1 size=61\nEND\r\n`);
    expect(me).toMatch(/^ME r exp=-1 la=[45] cas=7 fetch=no cls=1 size=61\r\n$/);
  });

  it('waits for every write it may show to be durable', () => {
    const ctx = newContext();
    const r = drive(new TextProtocol(ctx), [b('set a 0 0 1\r\nx\r\nset b 0 0 1\r\ny\r\nlru_crawler metadump all\r\n')]);
    expect(r.seqs).toEqual([1, 2, 2]);
  });

  it('takes all, hash, or a comma list of classes 1..63 (empty fields skipped)', () => {
    const ctx = newContext();
    run(ctx, 'set k 0 0 1\r\nx\r\n');
    const dumped = /^key=k exp=-1 la=\d+ cas=1 fetch=no cls=1 size=\d+\nEND\r\n$/;
    for (const arg of ['all', 'hash', '1', '1,2', ',1', '1,', '4294967297']) {
      expect(run(ctx, `lru_crawler metadump ${arg}\r\n`)[0], arg).toMatch(dumped);
    }
    expect(run(ctx, 'lru_crawler metadump 2,63\r\n')).toEqual(['END\r\n']);
    for (const arg of ['0', '64', '-1', 'x', '1,x']) {
      expect(run(ctx, `lru_crawler metadump ${arg}\r\n`), arg).toEqual(['BADCLASS invalid class id\r\n']);
    }
    expect(run(ctx, 'lru_crawler metadump ,\r\n')).toEqual(['NOTSTARTED no items to crawl\r\n']);
  });

  it('shows neither expired nor flushed items', () => {
    const ctx = newContext();
    expect(run(ctx, 'set gone 0 -1 1\r\nx\r\n', 'set k 0 0 1\r\nx\r\n', 'lru_crawler metadump all\r\n')[2]).toMatch(/^key=k .*\nEND\r\n$/);
    expect(run(ctx, 'flush_all\r\n', 'lru_crawler metadump all\r\n')).toEqual(['OK\r\n', 'END\r\n']);
  });
});

describe('uriEncode', () => {
  it('keeps [A-Za-z0-9-._~] and writes every other byte as upper-case %XX', () => {
    expect(uriEncode('Az09-._~')).toBe('Az09-._~');
    expect(uriEncode('a b/c%:\x00\x7f\xff')).toBe('a%20b%2Fc%25%3A%00%7F%FF');
  });
});

describe('lru_crawler subcommands', () => {
  it('answers as memcached, and keeps tocrawl / sleep / enabled in stats settings', () => {
    const ctx = newContext();
    expect(run(ctx,
      'lru_crawler crawl all\r\n', 'lru_crawler crawl 1,2\r\n', 'lru_crawler crawl 0\r\n', 'lru_crawler crawl hash\r\n',
      'lru_crawler tocrawl 5\r\n', 'lru_crawler tocrawl -1\r\n', 'lru_crawler sleep 1000000\r\n', 'lru_crawler sleep 1000001\r\n',
      'lru_crawler sleep x\r\n', 'lru_crawler enable\r\n',
    )).toEqual([
      'OK\r\n', 'OK\r\n', 'BADCLASS invalid class id\r\n', 'ERROR an unknown error happened\r\n',
      'OK\r\n', 'CLIENT_ERROR bad command line format\r\n', 'OK\r\n', 'CLIENT_ERROR sleep must be one second or less\r\n',
      'CLIENT_ERROR bad command line format\r\n', 'ERROR failed to start lru crawler thread\r\n',
    ]);
    const settings = run(ctx, 'stats settings\r\n')[0]!;
    expect(settings).toContain('STAT lru_crawler_tocrawl 5\r\n');
    expect(settings).toContain('STAT lru_crawler_sleep 1000000\r\n');
    expect(run(ctx, 'lru_crawler disable\r\n', 'lru_crawler disable\r\n', 'lru_crawler metadump all\r\n', 'lru_crawler crawl all\r\n', 'stats settings\r\n'))
      .toEqual(['OK\r\n', 'OK\r\n', 'CLIENT_ERROR lru crawler disabled\r\n', 'CLIENT_ERROR lru crawler disabled\r\n', expect.stringContaining('STAT lru_crawler no\r\n')]);
    expect(run(ctx, 'lru_crawler enable\r\n', 'lru_crawler metadump all\r\n')).toEqual(['OK\r\n', 'END\r\n']);
  });

  it('answers ERROR to other forms', () => {
    const ctx = newContext();
    for (const line of ['lru_crawler', 'lru_crawler foo', 'lru_crawler metadump', 'lru_crawler metadump all x', 'lru_crawler crawl all noreply', 'lru_crawler enable now']) {
      expect(run(ctx, `${line}\r\n`), line).toEqual(['ERROR\r\n']);
    }
  });
});

describe('shutdown', () => {
  it('without -A: memcached\'s refusal, whatever the arguments; nothing is shut down', () => {
    const ctx = newContext();
    let requested = 0;
    ctx.backend.requestShutdown = () => { requested++; };
    expect(run(ctx, 'shutdown\r\n', 'shutdown graceful\r\n', 'shutdown x y\r\n')).toEqual(Array(3).fill('ERROR: shutdown not enabled\r\n'));
    expect(requested).toBe(0);
  });

  it('with -A: a bad mode is refused; shutdown [graceful] closes without a reply and asks for a clean shutdown', () => {
    for (const line of ['shutdown', 'shutdown graceful']) {
      const ctx = newContext({ shutdownEnabled: true });
      let requested = 0;
      ctx.backend.requestShutdown = () => { requested++; };
      expect(run(ctx, 'shutdown x\r\n', 'shutdown graceful x\r\n', 'shutdown noreply\r\n')).toEqual(Array(3).fill('CLIENT_ERROR invalid shutdown mode\r\n'));
      expect(requested).toBe(0);
      const r = drive(new TextProtocol(ctx), [b(`version\r\n${line}\r\nversion\r\n`)]);
      expect(r).toMatchObject({ replies: [`VERSION ${server_version}\r\n`, ''], closed: true });
      expect(requested).toBe(1);
    }
  });
});

describe('stats', () => {
  it('stats conns lists the listener and connections as memcached does', () => {
    const views: ConnectionView[] = [
      { id: 0, addr: 'tcp:127.0.0.1:11211', listenAddr: null, state: 'conn_listening', secsSinceLastCmd: 12 },
      { id: 1, addr: 'tcp6:[::1]:5000', listenAddr: 'tcp6:[::1]:11211', state: 'conn_parse_cmd', secsSinceLastCmd: 0 },
    ];
    expect(run(newContext({}, () => views), 'stats conns\r\n')).toEqual([
      'STAT 0:addr tcp:127.0.0.1:11211\r\nSTAT 0:state conn_listening\r\nSTAT 0:secs_since_last_cmd 12\r\n'
      + 'STAT 1:addr tcp6:[::1]:5000\r\nSTAT 1:listen_addr tcp6:[::1]:11211\r\nSTAT 1:state conn_parse_cmd\r\nSTAT 1:secs_since_last_cmd 0\r\nEND\r\n',
    ]);
  });

  it('stats settings shows our options in memcached\'s fields, with no space inside a value', () => {
    const auth = new Credentials('/etc/my auth.txt', []);
    const tls = { cert: b(''), key: b(''), verifyClient: true, certFile: '/c.pem', keyFile: '/k.pem', caFile: '/ca.pem' };
    const on = run(newContext({ auth, tls, idleTimeoutS: 30, shutdownEnabled: true }), 'stats settings\r\n')[0]!;
    for (const line of ['auth_enabled_ascii /etc/my%20auth.txt', 'idle_timeout 30', 'shutdown_command yes', 'ssl_enabled yes', 'ssl_chain_cert /c.pem',
      'ssl_key /k.pem', 'ssl_verify_mode 3', 'ssl_ca_cert /ca.pem', 'binding_protocol ascii']) expect(on).toContain(`STAT ${line}\r\n`);
    const off = run(newContext(), 'stats settings\r\n')[0]!;
    for (const line of ['auth_enabled_ascii no', 'idle_timeout 0', 'shutdown_command no', 'ssl_enabled no', 'ssl_chain_cert (null)', 'ssl_verify_mode 0', 'ssl_ca_cert NULL',
      'binding_protocol auto-negotiate']) {
      expect(off).toContain(`STAT ${line}\r\n`);
    }
    for (const l of on.split('\r\n').slice(0, -2)) expect(l.split(' '), l).toHaveLength(3);
  });

  it('stats reset clears the auth counters too', () => {
    const ctx = newContext({ auth: new Credentials('f', []) });
    ctx.settings.auth!.check(b('u'), b('p'));
    const [before, reset, after] = run(ctx, 'stats\r\n', 'stats reset\r\n', 'stats\r\n');
    expect(before).toContain('STAT auth_errors 1\r\n');
    expect(reset).toBe('RESET\r\n');
    expect(after).toContain('STAT auth_cmds 0\r\nSTAT auth_errors 0\r\n');
  });
});
