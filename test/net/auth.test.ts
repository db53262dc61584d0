// -Y authentication: the auth file parser, the constant-time credential
// check, and the login gate's replies (memcached 1.6.18's words, checked
// against the real memcached in test/e2e/auth.test.ts), each gate case fed
// whole, byte by byte and cut at every point.

import { describe, expect, it } from 'vitest';
import { AuthGate, auth_block_max_bytes } from '../../src/net/auth-gate.js';
import { Credentials, parseAuthFile, type AuthEntry } from '../../src/net/auth.js';
import { createProtocol } from '../../src/net/protocols.js';
import { server_version } from '../../src/net/stats.js';
import { drive, newContext, splits, type Context } from './protocol-driver.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const entry = (user: string, password: string): AuthEntry => ({ user: b(user), password: b(password) });

describe('parseAuthFile', () => {
  const ok = (text: string) => {
    const parsed = parseAuthFile(b(text));
    if (!parsed.ok) throw new Error(`line ${parsed.line}: ${parsed.reason}`);
    return parsed.entries.map((e) => [e.user.toString('latin1'), e.password.toString('latin1')]);
  };

  it('reads user:password lines, LF or CRLF, with or without a final newline', () => {
    expect(ok('alice:secret\nbob:pw2\n')).toEqual([['alice', 'secret'], ['bob', 'pw2']]);
    expect(ok('alice:secret\r\nbob:pw2')).toEqual([['alice', 'secret'], ['bob', 'pw2']]);
    expect(ok('')).toEqual([]);
  });

  it('splits at the first colon: the password keeps colons and spaces; either part may be empty', () => {
    expect(ok('u:p:q r\n')).toEqual([['u', 'p:q r']]);
    expect(ok('u:\n:p\n')).toEqual([['u', ''], ['', 'p']]);
  });

  it('ends a password at a NUL or CR, as memcached does', () => {
    expect(ok('u:ab\0cd\n')).toEqual([['u', 'ab']]);
    expect(ok('u:ab\rcd\n')).toEqual([['u', 'ab']]);
  });

  it('names the first malformed line: no colon, a blank line, a NUL in the user, or over 255 bytes', () => {
    const bad = (text: string) => parseAuthFile(b(text));
    expect(bad('alice:secret\nnocolon\n')).toEqual({ ok: false, line: 2, reason: "not 'user:password'" });
    expect(bad('a:1\n\nb:2\n')).toEqual({ ok: false, line: 2, reason: "not 'user:password'" });
    expect(bad('a\0b:1\n')).toEqual({ ok: false, line: 1, reason: "not 'user:password'" });
    expect(bad(`u:${'p'.repeat(254)}\n`)).toEqual({ ok: false, line: 1, reason: 'longer than 255 bytes' });
    expect(ok(`u:${'p'.repeat(253)}\n`)).toHaveLength(1);
  });
});

describe('Credentials', () => {
  it('accepts exactly a listed user with its own password, and counts attempts and failures', () => {
    const c = new Credentials('f', [entry('alice', 'secret'), entry('bob', 'pw2')]);
    expect(c.check(b('bob'), b('pw2'))).toBe(true);
    expect(c.check(b('alice'), b('secret'))).toBe(true);
    expect(c.check(b('alice'), b('pw2'))).toBe(false);
    expect(c.check(b('alice'), b('secre'))).toBe(false);
    expect(c.check(b('alice'), b('secretx'))).toBe(false);
    expect(c.check(b('carol'), b('secret'))).toBe(false);
    expect(c.check(b(''), b(''))).toBe(false);
    expect([c.attempts, c.failures]).toEqual([7, 5]);
    c.resetCounters();
    expect([c.attempts, c.failures]).toEqual([0, 0]);
  });

  it('replace() swaps the entries (a reload)', () => {
    const c = new Credentials('f', [entry('alice', 'secret')]);
    c.replace([entry('carol', 'x')]);
    expect(c.check(b('alice'), b('secret'))).toBe(false);
    expect(c.check(b('carol'), b('x'))).toBe(true);
    expect(c.size).toBe(1);
  });

  it('with no entries refuses everyone', () => {
    expect(new Credentials('f', []).check(b(''), b(''))).toBe(false);
  });
});

const UNAUTH = 'CLIENT_ERROR unauthenticated\r\n';
const FAILURE = 'CLIENT_ERROR authentication failure\r\n';
const TOKENS = 'CLIENT_ERROR bad authentication token format\r\n';
const TERMINATION = 'CLIENT_ERROR bad command line termination\r\n';

function gated(): Context {
  return newContext({ auth: new Credentials('auth.txt', [entry('alice', 'secret'), entry('bob', 'pw2')]) });
}

function login(input: string, chunks?: Buffer[]) {
  const ctx = gated();
  const protocol = createProtocol(input.charCodeAt(0), ctx);
  if (!(protocol instanceof AuthGate)) throw new Error('expected the login gate');
  return { ctx, ...drive(protocol, chunks ?? [b(input)]) };
}

interface GateCase { name: string; input: string; replies: string[]; closed?: boolean }

const cases: GateCase[] = [
  { name: 'any command before login', input: 'get foo\r\nversion\r\nquit\r\nstats\r\n', replies: [UNAUTH, UNAUTH, UNAUTH, UNAUTH] },
  { name: 'a set line that is not a login: too few tokens, bad or negative size, not "set"', input: 'set\r\nset a b c\r\nset a b c x\r\nset a b c -1\r\nsets a b c 1\r\n\r\n', replies: [UNAUTH, UNAUTH, UNAUTH, UNAUTH, UNAUTH, UNAUTH] },
  { name: 'a good login, then commands run normally', input: 'set x 0 0 7\r\nbob pw2\r\nset k 0 0 1\r\nv\r\nget k x\r\n', replies: ['STORED\r\n', 'STORED\r\n', 'VALUE k 0 1\r\nv\r\nEND\r\n'] },
  { name: 'key, flags and exptime are ignored, noreply too', input: 'set anything 99 -5 12 noreply\r\nalice secret\r\nversion\r\n', replies: ['STORED\r\n', `VERSION ${server_version}\r\n`] },
  { name: 'spaces around and tokens after the password are ignored', input: 'set k 0 0 17\r\n  bob  pw2  extra\r\n', replies: ['STORED\r\n'] },
  { name: 'a wrong password and a wrong user get the same reply, and the gate stays shut', input: 'set k 0 0 12\r\nalice secreT\r\nset k 0 0 12\r\nalicE secret\r\nget k\r\n', replies: [FAILURE, FAILURE, UNAUTH] },
  { name: 'a retry after a failure can succeed', input: 'set k 0 0 7\r\nbob pw1\r\nset k 0 0 7\r\nbob pw2\r\nget k\r\n', replies: [FAILURE, 'STORED\r\n', 'END\r\n'] },
  { name: 'one token', input: 'set k 0 0 3\r\nbob\r\n', replies: [TOKENS] },
  { name: 'a NUL ends the data as a C string', input: 'set k 0 0 7\r\nbob\0pw2\r\n', replies: [TOKENS] },
  { name: 'data not ending in CRLF (too short a size), then the leftover is a line', input: 'set k 0 0 5\r\nbob pw2\r\n', replies: [TERMINATION, UNAUTH] },
  { name: 'a 32-bit size wraps as memcached stores it (4294967296 -> 0)', input: 'set k 0 0 4294967296\r\n\r\nget k\r\n', replies: [TOKENS, UNAUTH] },
  { name: 'a login over memcached\'s read buffer closes the connection', input: `set k 0 0 ${auth_block_max_bytes - 1}\r\nbob pw2\r\n`, replies: [''], closed: true },
];

describe('login gate', () => {
  for (const c of cases) {
    it(c.name, () => {
      for (const [way, chunks] of splits(b(c.input))) {
        const r = login(c.input, chunks);
        expect(r.replies, way).toEqual(c.replies);
        expect(r.closed, way).toBe(c.closed ?? false);
      }
    });
  }

  it('never stores or logs the login: no engine effect, no item, no set counted; auth counters move', () => {
    const { ctx, replies } = login('set login 0 0 12\r\nalice secreT\r\nset login 0 0 7\r\nbob pw2\r\n');
    expect(replies).toEqual([FAILURE, 'STORED\r\n']);
    expect(ctx.storage.effects).toEqual([]);
    expect(ctx.backend.engine.itemCount).toBe(0);
    expect(ctx.backend.engine.counters.cmdSet).toBe(0);
    expect([ctx.settings.auth!.attempts, ctx.settings.auth!.failures]).toEqual([2, 1]);
  });

  it('waits for a login data block that has not fully arrived (memcached\'s conn_nread)', () => {
    const ctx = gated();
    const gate = createProtocol(0x73, ctx)!;
    expect(drive(gate, [b('set k 0 0 7\r\nbob pw')]).replies).toEqual([]);
    expect(gate.dataState?.()).toBe('conn_nread');
    expect(drive(gate, [b('2\r\nset k 0 0 3\r\n')]).replies).toEqual(['STORED\r\n']);
    expect(gate.dataState?.()).toBe('conn_nread');
    expect(drive(gate, [b('abc\r\n')]).replies).toEqual(['STORED\r\n']);
    expect(gate.dataState?.()).toBeNull();
  });

  it('holds a line of 2048 bytes without a newline, and closes the connection past that', () => {
    expect(login('g'.repeat(2048))).toMatchObject({ replies: [], closed: false });
    expect(login('g'.repeat(2049))).toMatchObject({ replies: [''], closed: true });
    expect(login(`get ${'k'.repeat(3000)}\r\n`).replies).toEqual([UNAUTH]);
  });

  it('refuses binary connections (first byte 0x80), and logs why', () => {
    const ctx = gated();
    expect(createProtocol(0x80, ctx)).toBeNull();
    expect(ctx.logs.join('\n')).toMatch(/binary protocol refused/);
  });

  it('is not there without -Y', () => {
    expect(createProtocol(0x67, newContext())).not.toBeInstanceOf(AuthGate);
  });

  it('stats after login show auth_cmds and auth_errors', () => {
    const r = login('set k 0 0 7\r\nbob pw1\r\nset k 0 0 7\r\nbob pw2\r\nstats\r\n');
    expect(r.replies[2]).toContain('STAT auth_cmds 2\r\n');
    expect(r.replies[2]).toContain('STAT auth_errors 1\r\n');
  });
});
