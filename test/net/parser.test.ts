// Table tests for the streaming text-protocol parser: each input must give the
// same Requests whether it arrives in one chunk, byte by byte, split at every
// position into two chunks, or split into three (every pair of cuts for short
// inputs, a deterministic sample for long ones). Expected replies follow
// memcached 1.6.18's proto_text.c (process_command_ascii and helpers,
// try_read_command_ascii, complete_nread_ascii, conn_swallow) and the observed
// replies in /work/shared/reference/memcached-behaviour.md.

import { describe, expect, it } from 'vitest';
import { TextParser } from '../../src/net/parser.js';
import type { Request } from '../../src/net/requests.js';
import { get_line_length_max, line_length_max } from '../../src/engine/limits.js';
import {
  BAD_CHUNK, BAD_DELTA, BAD_EXPTIME, TOO_LONG, DELETE_USAGE, ERROR, FORMAT, QUIT, VERSION,
  byteByByte, bytes, close, del, delta, flushAll, get, memlimit, parseWhole, reply, runChunks, show, splitAt,
  stats, store, tooLarge, touch, verbosity, check, expand, runThreeWays, type Case,
} from './helpers.js';


/** A get-family line with a bad key: the keys before it are still looked up (memcached's process_get_command). */
const badKeyGet = (keys: string[], withCas = false, touchExptime?: number): Request => ({ kind: 'get', keys, withCas, touchExptime, error: FORMAT });

const k250 = 'k'.repeat(250);
const k251 = 'k'.repeat(251);
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const withCrlf = (s: string | Buffer): Buffer => Buffer.concat([typeof s === 'string' ? bytes(s) : s, bytes('\r\n')]);

const storageCases: Case[] = [
  { input: 'set k 0 0 5\r\nhello\r\n', expect: [store('set', 'k', 'hello')] },
  { input: 'set k 0 0 5 noreply\r\nhello\r\n', expect: [store('set', 'k', 'hello', { noreply: true })] },
  { name: 'python-memcached trailing space', input: 'set k 16 60 5 \r\nhello\r\n', expect: [store('set', 'k', 'hello', { flags: 16, exptime: 60 })] },
  { name: 'extra spaces between tokens', input: '  set   k  1   2  3   noreply  \r\nabc\r\n', expect: [store('set', 'k', 'abc', { flags: 1, exptime: 2, noreply: true })] },
  { input: 'add a 1 2 3\r\nabc\r\n', expect: [store('add', 'a', 'abc', { flags: 1, exptime: 2 })] },
  { input: 'add a 1 2 3 noreply\r\nabc\r\n', expect: [store('add', 'a', 'abc', { flags: 1, exptime: 2, noreply: true })] },
  { input: 'replace r 0 0 1\r\nx\r\n', expect: [store('replace', 'r', 'x')] },
  { input: 'replace r 0 0 1 noreply\r\nx\r\n', expect: [store('replace', 'r', 'x', { noreply: true })] },
  { input: 'append p 0 0 2\r\nxy\r\n', expect: [store('append', 'p', 'xy')] },
  { input: 'append p 0 0 2 noreply\r\nxy\r\n', expect: [store('append', 'p', 'xy', { noreply: true })] },
  { input: 'prepend p 0 0 2\r\nxy\r\n', expect: [store('prepend', 'p', 'xy')] },
  { input: 'prepend p 0 0 2 noreply\r\nxy\r\n', expect: [store('prepend', 'p', 'xy', { noreply: true })] },
  { input: 'cas c 7 100 3 42\r\nabc\r\n', expect: [store('cas', 'c', 'abc', { flags: 7, exptime: 100, cas: 42n })] },
  { input: 'cas c 0 0 1 18446744073709551615 noreply\r\nx\r\n', expect: [store('cas', 'c', 'x', { cas: 18446744073709551615n, noreply: true })] },
  { name: 'cas unique over 64 bits', input: 'cas c 0 0 1 18446744073709551616\r\nx\r\n', expect: [reply(FORMAT), ERROR] },
  { name: 'cas unique not a number', input: 'cas c 0 0 1 abc noreply\r\nx\r\n', expect: [reply(FORMAT, true), ERROR] },
  { name: 'cas without its unique', input: 'cas c 0 0 1\r\nx\r\n', expect: [ERROR, ERROR] },
  { name: 'flags is opaque 32 bits', input: 'set k 4294967295 0 1\r\nx\r\n', expect: [store('set', 'k', 'x', { flags: 4294967295 })] },
  { name: 'negative exptime kept (already expired)', input: 'set k 0 -1 1\r\nx\r\n', expect: [store('set', 'k', 'x', { exptime: -1 })] },
  { name: 'absolute exptime', input: 'set k 0 1700000000 1\r\nx\r\n', expect: [store('set', 'k', 'x', { exptime: 1700000000 })] },
  { name: 'a 6th token that is not noreply is ignored', input: 'set k 0 0 1 junk\r\nx\r\n', expect: [store('set', 'k', 'x')] },
  { name: 'zero-length value', input: 'set k 0 0 0\r\n\r\n', expect: [store('set', 'k', '')] },
  { name: 'zero-length values back to back', input: 'set a 0 0 0\r\n\r\nappend a 0 0 0 noreply\r\n\r\n', expect: [store('set', 'a', ''), store('append', 'a', '', { noreply: true })] },
  { name: 'value made of CRLFs', input: 'set k 0 0 4\r\n\r\n\r\n\r\n', expect: [store('set', 'k', '\r\n\r\n')] },
  { name: 'value that looks like commands', input: 'set k 0 0 13\r\nget a\r\nquit\r\n\r\nversion\r\n', expect: [store('set', 'k', 'get a\r\nquit\r\n'), VERSION] },
  { name: 'every byte value', input: Buffer.concat([bytes('set bin 0 0 256\r\n'), withCrlf(allBytes)]), expect: [store('set', 'bin', allBytes)] },
  { name: 'data block may end in a bare LF line', input: 'set k 0 0 1\nx\r\n', expect: [store('set', 'k', 'x')] },
  { name: 'key of 250 bytes', input: `set ${k250} 0 0 1\r\nx\r\n`, expect: [store('set', k250, 'x')] },
  { name: 'key with high bytes', input: 'set \xe9t\xe9 0 0 1\r\nx\r\n', expect: [store('set', '\xe9t\xe9', 'x')] },
];

const badStorageCases: Case[] = [
  { name: 'bad data chunk then the leftover LF is an empty line', input: 'set k 0 0 1\r\nxy\r\n', expect: [reply(BAD_CHUNK), ERROR] },
  { name: 'bad data chunk is silenced by noreply (stock memcached)', input: 'set nr 0 0 1 noreply\r\nab\r\n', expect: [reply(BAD_CHUNK, true), ERROR] },
  { name: 'short data: n + 2 bytes read, rest parsed as a command', input: 'set k 0 0 2\r\nab\nversion\r\nversion\r\n', expect: [reply(BAD_CHUNK), ERROR, VERSION] },
  { name: 'data with LF only', input: 'set k 0 0 1\r\nx\nversion\n', expect: [reply(BAD_CHUNK), ERROR] },
  { name: 'longer data than declared', input: 'set k 0 0 3\r\nabcde\r\n', expect: [reply(BAD_CHUNK), ERROR] },
  { name: 'key of 251 bytes: data line NOT swallowed', input: `set ${k251} 0 0 5\r\nhello\r\nversion\r\n`, expect: [reply(FORMAT), ERROR, VERSION] },
  { name: 'key of 251 bytes with noreply', input: `set ${k251} 0 0 5 noreply\r\nhello\r\n`, expect: [reply(FORMAT, true), ERROR] },
  { name: 'key with control chars (memcaslap sends 0x10 bytes): stored, as memcached does', input: 'set \x10\x10a\x01b 0 0 1\r\nx\r\n', expect: [store('set', '\x10\x10a\x01b', 'x')] },
  { name: 'key with a tab: stored, as memcached does', input: 'set a\tb 0 0 1\r\nx\r\n', expect: [store('set', 'a\tb', 'x')] },
  { name: '--strict-keys: key with a control char', input: 'set a\x01b 0 0 1\r\nx\r\n', expect: [reply(FORMAT), ERROR], strictKeys: true },
  { name: '--strict-keys: key with a tab', input: 'set a\tb 0 0 1\r\nx\r\n', expect: [reply(FORMAT), ERROR], strictKeys: true },
  { name: '--strict-keys: key with DEL', input: 'add a\x7f 0 0 1 noreply\r\nx\r\n', expect: [reply(FORMAT, true), ERROR], strictKeys: true },
  { name: '--strict-keys: get of a key with a control char', input: 'gets a b\x02\r\n', expect: [badKeyGet(['a'], true)], strictKeys: true },
  { name: 'a NUL ends the line, as C strings do in memcached', input: 'set a\x00 0 0 1\r\nx\r\n', expect: [ERROR, ERROR] },
  { name: 'a NUL after a complete command is ignored with the rest of the line', input: 'get a\x00b c\r\n', expect: [get(['a'])] },
  { input: 'set k 0 0 -1\r\n', expect: [reply(FORMAT)] },
  { name: 'byte count 2^32-1 is -1 as an int32', input: 'set k 0 0 4294967295\r\nversion\r\n', expect: [reply(FORMAT), VERSION] },
  { name: 'byte count INT_MAX', input: 'set k 0 0 2147483647\r\nversion\r\n', expect: [reply(FORMAT), VERSION] },
  { name: 'byte count INT_MAX - 1', input: 'set k 0 0 2147483646\r\nversion\r\n', expect: [reply(FORMAT), VERSION] },
  { name: 'byte count past 64 bits', input: 'set k 0 0 99999999999999999999\r\nversion\r\n', expect: [reply(FORMAT), VERSION] },
  { name: 'byte count INT_MAX - 2 is too large, the rest is swallowed', input: 'set k 0 0 2147483645\r\nversion\r\n', expect: [tooLarge('set', 'k')] },
  { input: 'set k 0 0 abc\r\n', expect: [reply(FORMAT)] },
  { input: 'set k 0 0 5x\r\nhello\r\n', expect: [reply(FORMAT), ERROR] },
  { input: 'set k x 0 1\r\nx\r\n', expect: [reply(FORMAT), ERROR] },
  { name: 'negative flags', input: 'set k -1 0 1\r\nx\r\n', expect: [reply(FORMAT), ERROR] },
  { input: 'set k 0 x 1 noreply\r\nx\r\n', expect: [reply(FORMAT, true), ERROR] },
  { name: 'too few tokens', input: 'set k 0 0\r\n', expect: [ERROR] },
  { name: 'too many tokens', input: 'set k 0 0 1 noreply extra\r\nx\r\n', expect: [ERROR, ERROR] },
  { name: 'prepend with too few tokens', input: 'prepend k 0\r\n', expect: [ERROR] },
  { name: 'cas with too many tokens', input: 'cas k 0 0 1 1 noreply x\r\n', expect: [ERROR] },
  { name: 'cas with 24+ tokens', input: `cas k 0 0 1 1 ${'x '.repeat(30)}\r\n`, expect: [ERROR] },
];

const oversize = 'v'.repeat(2000);
const oversizeCases: Case[] = [
  {
    name: 'oversize value swallowed, next command parsed',
    input: `set big 0 0 2000\r\n${oversize}\r\nversion\r\n`, itemSizeMax: 1024,
    expect: [tooLarge('set', 'big'), VERSION],
  },
  {
    name: 'oversize noreply value whose data looks like commands',
    input: `append big 0 0 1000 noreply\r\n${'get a\r\n'.repeat(142)}xxxxxx\r\nget b\r\n`, itemSizeMax: 1024,
    expect: [tooLarge('append', 'big', true), get(['b'])],
  },
  {
    name: 'oversize swallows exactly n + 2 bytes, even a bad terminator',
    input: `cas big 0 0 2000 5\r\n${oversize}xxversion\r\n`, itemSizeMax: 1024,
    expect: [tooLarge('cas', 'big'), VERSION],
  },
  // item size = key + value + 59 (+ 4 when flags != 0), as memcached's item_size_ok
  { name: 'largest value for a 1-byte key', input: `set k 0 0 964\r\n${'x'.repeat(964)}\r\n`, itemSizeMax: 1024, expect: [store('set', 'k', 'x'.repeat(964))] },
  { name: 'one byte over', input: `set k 0 0 965\r\n${'x'.repeat(965)}\r\n`, itemSizeMax: 1024, expect: [tooLarge('set', 'k')] },
  { name: 'flags cost 4 bytes', input: `set k 1 0 961\r\n${'x'.repeat(961)}\r\n`, itemSizeMax: 1024, expect: [tooLarge('set', 'k')] },
  { name: 'flags cost 4 bytes (fits)', input: `set k 1 0 960\r\n${'x'.repeat(960)}\r\n`, itemSizeMax: 1024, expect: [store('set', 'k', 'x'.repeat(960), { flags: 1 })] },
  { name: 'key length counts', input: `set kk 0 0 964\r\n${'x'.repeat(964)}\r\nversion\r\n`, itemSizeMax: 1024, expect: [tooLarge('set', 'kk'), VERSION] },
];

const manyKeys = Array.from({ length: 40 }, (_, i) => `key:${i}`);
const retrievalCases: Case[] = [
  { input: 'get a\r\n', expect: [get(['a'])] },
  { name: 'get with many keys (more than 24 tokens)', input: `get ${manyKeys.join(' ')}\r\n`, expect: [get(manyKeys)] },
  { name: 'gets with many keys', input: `gets ${manyKeys.join(' ')} \r\n`, expect: [get(manyKeys, true)] },
  { name: 'duplicate keys kept', input: 'get a a b a\r\n', expect: [get(['a', 'a', 'b', 'a'])] },
  { input: 'gat 100 a b\r\n', expect: [get(['a', 'b'], false, 100)] },
  { input: 'gats -1 a\r\n', expect: [get(['a'], true, -1)] },
  { name: 'gat with no key', input: 'gat 100\r\n', expect: [get([], false, 100)] },
  { name: 'gat with a bad exptime', input: 'gat x a\r\n', expect: [reply(BAD_EXPTIME)] },
  { name: 'get of a 250-byte key', input: `get a ${k250}\r\n`, expect: [get(['a', k250])] },
  { name: 'get of a 251-byte key', input: `get a ${k251} b\r\n`, expect: [badKeyGet(['a'])] },
  { name: 'gat of a 251-byte key after two keys', input: `gat 100 a b ${k251} c\r\n`, expect: [badKeyGet(['a', 'b'], false, 100)] },
  { name: 'gets of a 251-byte key first', input: `gets ${k251} a\r\n`, expect: [badKeyGet([], true)] },
  { name: 'gets with a control char in a key', input: 'gets a b\x02\r\n', expect: [get(['a', 'b\x02'], true)] },
  { name: 'get alone', input: 'get\r\n', expect: [ERROR] },
  { name: 'get and a space', input: 'get \r\n', expect: [ERROR] },
  { name: 'gets alone', input: 'gets\r\n', expect: [ERROR] },
  { name: 'gat alone', input: 'gat\r\n', expect: [ERROR] },
  { name: 'a word starting with get', input: 'getx a\r\n', expect: [ERROR] },
  { name: 'bget: the ancient alias of get', input: 'bget a b\r\n', expect: [get(['a', 'b'])] },
  { name: 'bget alone', input: 'bget\r\n', expect: [ERROR] },
];

const otherCases: Case[] = [
  { input: 'delete k\r\n', expect: [del('k')] },
  { input: 'delete k noreply\r\n', expect: [del('k', true)] },
  { input: 'delete k 0\r\n', expect: [del('k')] },
  { input: 'delete k 0 noreply\r\n', expect: [del('k', true)] },
  { input: 'delete k 1\r\n', expect: [reply(DELETE_USAGE)] },
  { input: 'delete k 0 0\r\n', expect: [reply(DELETE_USAGE)] },
  { input: 'delete k 1 noreply\r\n', expect: [reply(DELETE_USAGE, true)] },
  { input: 'delete k noreply 0\r\n', expect: [reply(DELETE_USAGE)] },
  { input: 'delete\r\n', expect: [ERROR] },
  { input: 'delete k 0 noreply x\r\n', expect: [ERROR] },
  { input: `delete ${k251}\r\n`, expect: [reply(FORMAT)] },
  { input: `delete ${k251} noreply\r\n`, expect: [reply(FORMAT, true)] },
  { input: 'incr k 1\r\n', expect: [delta(true, 'k', 1n)] },
  { input: 'decr k 18446744073709551615 noreply\r\n', expect: [delta(false, 'k', 18446744073709551615n, true)] },
  { input: 'incr k 18446744073709551616\r\n', expect: [reply(BAD_DELTA)] },
  { input: 'incr k -1\r\n', expect: [reply(BAD_DELTA)] },
  { input: 'decr k abc noreply\r\n', expect: [reply(BAD_DELTA, true)] },
  { input: `incr ${k251} 1\r\n`, expect: [reply(FORMAT)] },
  { input: 'incr k\r\n', expect: [ERROR] },
  { input: 'decr k 1 noreply x\r\n', expect: [ERROR] },
  { input: 'touch k 10\r\n', expect: [touch('k', 10)] },
  { input: 'touch k -1 noreply\r\n', expect: [touch('k', -1, true)] },
  { input: 'touch k x\r\n', expect: [reply(BAD_EXPTIME)] },
  { input: `touch ${k251} 1 noreply\r\n`, expect: [reply(FORMAT, true)] },
  { input: 'touch k\r\n', expect: [ERROR] },
  { input: 'flush_all\r\n', expect: [flushAll()] },
  { input: 'flush_all 0\r\n', expect: [flushAll(0)] },
  { input: 'flush_all 10\r\n', expect: [flushAll(10)] },
  { input: 'flush_all noreply\r\n', expect: [flushAll(0, true)] },
  { input: 'flush_all 10 noreply\r\n', expect: [flushAll(10, true)] },
  { input: 'flush_all -1\r\n', expect: [flushAll(-1)] },
  { input: 'flush_all x\r\n', expect: [reply(BAD_EXPTIME)] },
  { input: 'flush_all x noreply\r\n', expect: [reply(BAD_EXPTIME, true)] },
  { input: 'flush_all 1 2 3\r\n', expect: [ERROR] },
  { input: 'version\r\n', expect: [VERSION] },
  { name: 'shutdown and its arguments go to admin.ts (which refuses it without -A)', input: 'shutdown\r\nshutdown graceful\r\nshutdown noreply\r\n',
    expect: [{ kind: 'shutdown', args: [] }, { kind: 'shutdown', args: ['graceful'] }, { kind: 'shutdown', args: ['noreply'] }] },
  { input: 'lru_crawler metadump all\r\n', expect: [{ kind: 'lru_crawler', args: ['metadump', 'all'] }] },
  { input: 'quit\r\n', expect: [QUIT] },
  { input: 'verbosity 1\r\n', expect: [verbosity(1)] },
  { input: 'verbosity 1 noreply\r\n', expect: [verbosity(1, true)] },
  { input: 'verbosity x\r\n', expect: [reply(FORMAT)] },
  { input: 'verbosity noreply\r\n', expect: [reply(FORMAT, true)] },
  { input: 'verbosity\r\n', expect: [ERROR] },
  { input: 'stats\r\n', expect: [stats()] },
  { name: 'libmemcached trailing space', input: 'stats \r\n', expect: [stats()] },
  { input: 'stats settings\r\n', expect: [stats('settings')] },
  { input: 'stats detail dump\r\n', expect: [stats('detail', 'dump')] },
  { input: 'cache_memlimit 100\r\n', expect: [memlimit(100)] },
  { input: 'cache_memlimit 100 noreply\r\n', expect: [memlimit(100, true)] },
  { input: 'cache_memlimit x\r\n', expect: [memlimit(null)] },
  { input: 'cache_memlimit\r\n', expect: [ERROR] },
  { input: 'slabs automove 0\r\n', expect: [reply('OK')] },
  { input: 'slabs automove 1\r\n', expect: [reply('OK')] },
  { input: 'slabs automove 2 noreply\r\n', expect: [reply('OK', true)] },
  { input: 'slabs automove 3\r\n', expect: [ERROR] },
  { input: 'slabs automove x\r\n', expect: [reply(FORMAT)] },
  { input: 'slabs automove ratio 0.8\r\n', expect: [reply('OK')] },
  { input: 'slabs automove ratio\r\n', expect: [ERROR] },
  { input: 'slabs automove ratio abc\r\n', expect: [ERROR] },
  { input: 'slabs automove ratio -0.5e1 noreply\r\n', expect: [reply('OK', true)] },
  { input: 'slabs automove ratio .5\r\n', expect: [reply('OK')] },
  { input: 'slabs automove ratio 0.5x\r\n', expect: [ERROR] },
  { input: 'slabs automove ratio 1e999\r\n', expect: [ERROR] },
  { input: 'slabs automove\r\n', expect: [ERROR] },
  { input: 'slabs\r\n', expect: [ERROR] },
];

const framingCases: Case[] = [
  { name: 'unknown command', input: 'foo bar\r\n', expect: [ERROR] },
  { name: 'one-letter command', input: 'g\r\n', expect: [ERROR] },
  { name: 'commands are case sensitive', input: 'GET a\r\nVersion\r\n', expect: [ERROR, ERROR] },
  { name: 'bare LF', input: '\n', expect: [ERROR] },
  { name: 'bare CRLF', input: '\r\n', expect: [ERROR] },
  { name: 'spaces only', input: '   \r\n', expect: [ERROR] },
  { name: 'CR CR LF: one CR dropped', input: '\r\r\n', expect: [ERROR] },
  { name: 'CR-less line endings', input: 'get a b\nversion\ndelete k noreply\n', expect: [get(['a', 'b']), VERSION, del('k', true)] },
  { name: 'CR-less store line', input: 'set k 0 0 2\nab\r\nget k\n', expect: [store('set', 'k', 'ab'), get(['k'])] },
  { name: 'a number token may end in CR (strtol stops at whitespace)', input: 'incr k 5\r\r\n', expect: [delta(true, 'k', 5n)] },
  { name: 'an incomplete line yields nothing', input: 'get a', expect: [] },
  { name: 'an incomplete data block yields nothing', input: 'set k 0 0 10\r\nabc', expect: [] },
  { name: 'HTTP request closes', input: 'GET / HTTP/1.0\r\nversion\r\n', expect: [close('HTTP request')] },
  { name: 'HTTP POST closes', input: 'POST /x HTTP/1.1\r\nHost: a\r\n\r\n', expect: [close('HTTP request')] },
  { name: 'HTTP verb outside the dispatch letters closes', input: 'PUT / HTTP/1.1\r\n', expect: [close('HTTP request')] },
  { name: 'unknown word outside the dispatch letters with HTTP/ closes', input: 'replacex a HTTP/1.0\r\n', expect: [close('HTTP request')] },
  { name: 'unknown g* command with HTTP/ is ERROR (dispatched on the first letter)', input: 'gurgle / HTTP/1.0\r\nversion\r\n', expect: [ERROR, VERSION] },
  { name: 'unknown d* command with HTTP/ is ERROR', input: 'delete_all HTTP/1.1\r\n', expect: [ERROR] },
  { name: 'unknown 2-letter m* command with HTTP/ is ERROR', input: 'mz HTTP/1.1\r\n', expect: [ERROR] },
  // memcached's tokenizer stops after 23 tokens; the HTTP/ check looks at the 23rd
  { name: 'HTTP/ as the 23rd token closes', input: `FOO ${'a '.repeat(21)}HTTP/1.0 b\r\n`, expect: [close('HTTP request')] },
  { name: 'HTTP/ as the 24th token is not seen', input: `FOO ${'a '.repeat(22)}HTTP/1.0\r\n`, expect: [ERROR] },
  { name: 'lowercase get of HTTP keys is a get', input: 'get / HTTP/1.0\r\n', expect: [get(['/', 'HTTP/1.0'])] },
  {
    name: 'pipelined commands',
    input: 'set a 0 0 1\r\n1\r\nget a b\r\nincr a 5 noreply\r\ngets a\r\ndelete b\r\nbogus\r\n'
      + 'cas a 0 0 1 9\r\n2\r\ntouch a 5\r\ngat 0 a\r\nflush_all 3\r\nverbosity 0\r\nstats items\r\nversion\r\nquit\r\n',
    expect: [
      store('set', 'a', '1'), get(['a', 'b']), delta(true, 'a', 5n, true), get(['a'], true), del('b'), ERROR,
      store('cas', 'a', '2', { cas: 9n }), touch('a', 5), get(['a'], false, 0), flushAll(3), verbosity(0), stats('items'), VERSION, QUIT,
    ],
  },
  {
    name: 'pipelined errors do not desynchronise',
    input: `set ${k251} 0 0 3\r\nabc\r\nset k 0 0 1\r\nxyz\r\nset k 0 0 0\r\n\r\nget k\r\n`,
    expect: [reply(FORMAT), ERROR, reply(BAD_CHUNK), ERROR, store('set', 'k', ''), get(['k'])],
  },
];

// Line length: memcached closes a connection that sends more than 2048 bytes
// without '\n', unless the line is a get/gets (after at most 100 spaces). To be
// independent of how bytes are split, a complete line is held to the same
// bound, counting a trailing CR.
const longKeys = Array.from({ length: 500 }, (_, i) => `k${i}:`.padEnd(200, 'x'));
const spaces = (n: number): string => ' '.repeat(n);
const lineLengthCases: Case[] = [
  { name: 'line of 2048 bytes then LF', input: `version${spaces(line_length_max - 7)}\nversion\n`, expect: [VERSION, VERSION] },
  { name: 'line of 2047 bytes then CRLF', input: `version${spaces(line_length_max - 8)}\r\nversion\n`, expect: [VERSION, VERSION] },
  { name: 'line of 2048 bytes then CRLF', input: `version${spaces(line_length_max - 7)}\r\nversion\n`, expect: [TOO_LONG] },
  { name: 'line of 2049 bytes then LF', input: `version${spaces(line_length_max - 6)}\nversion\n`, expect: [TOO_LONG] },
  { name: '3000 bytes without a newline', input: 'x'.repeat(3000), expect: [TOO_LONG] },
  { name: 'requests before an overlong line are kept', input: `version\r\n${'set '.repeat(700)}`, expect: [VERSION, TOO_LONG] },
  { name: 'long get line (100 KB of keys)', input: `get ${longKeys.join(' ')}\r\nversion\r\n`, expect: [get(longKeys), VERSION] },
  { name: 'long gets line after 100 spaces', input: `${spaces(100)}gets ${longKeys.slice(0, 20).join(' ')}\r\n`, expect: [get(longKeys.slice(0, 20), true)] },
  { name: 'long get line after 101 spaces', input: `${spaces(101)}get ${longKeys.slice(0, 20).join(' ')}\r\n`, expect: [TOO_LONG] },
  { name: 'long gat line is not a multiget', input: `gat 0 ${longKeys.slice(0, 20).join(' ')}\r\n`, expect: [TOO_LONG] },
  { name: 'long get line with a 251-byte key', input: `get ${longKeys.slice(0, 20).join(' ')} ${k251}\r\n`, expect: [badKeyGet(longKeys.slice(0, 20))] },
];

const tables: Array<[string, Case[]]> = [
  ['storage commands', storageCases],
  ['bad storage commands', badStorageCases],
  ['oversize values', oversizeCases],
  ['retrieval commands', retrievalCases],
  ['other commands', otherCases],
  ['framing', framingCases],
  ['line length', lineLengthCases],
];

for (const [title, cases] of tables) {
  describe(`parser: ${title} (one chunk, byte by byte, every split)`, () => {
    for (const c of cases) it(expand(c).name, () => runThreeWays(c));
  });
}

describe('parser: limits and ownership', () => {
  it('a get line over get_line_length_max closes, whether or not its newline has arrived', () => {
    const line = `get ${Array.from({ length: Math.ceil(get_line_length_max / 201) + 1 }, () => 'k'.repeat(200)).join(' ')}`;
    expect(line.length).toBeGreaterThan(get_line_length_max);
    const input = bytes(`version\r\n${line}\r\nversion\r\n`);
    const expected = [VERSION, TOO_LONG];
    expect(parseWhole(input)).toEqual(expected);
    expect(parseWhole(input.subarray(0, input.length - 11))).toEqual(expected); // no newline yet
    for (const size of [1, 7, 1000, 65536]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
      expect(runChunks(chunks).requests, `chunks of ${size}`).toEqual(expected);
    }
  });

  it('a get line of exactly get_line_length_max bytes is accepted', () => {
    const head = 'get ';
    const keyCount = Math.floor((get_line_length_max - head.length) / 201);
    const keys = Array.from({ length: keyCount }, (_, i) => `${i}:`.padEnd(200, 'k'));
    let line = head + keys.join(' ');
    line += ' '.repeat(get_line_length_max - 1 - line.length); // + '\r' = the bound
    const input = bytes(`${line}\r\nversion\r\n`);
    expect(input.indexOf('\n')).toBe(get_line_length_max);
    expect(parseWhole(input)).toEqual([get(keys), VERSION]);
    expect(runChunks([input.subarray(0, get_line_length_max), input.subarray(get_line_length_max)]).requests).toEqual([get(keys), VERSION]);
    const plusOne = bytes(`${line} \r\nversion\r\n`);
    expect(parseWhole(plusOne)).toEqual([TOO_LONG]);
  });

  it('after close, nothing more is parsed and pushed bytes are not kept', () => {
    const parser = new TextParser(1024);
    parser.push(bytes('GET / HTTP/1.1\r\nversion\r\n'));
    expect(parser.next()).toEqual(close('HTTP request'));
    expect(parser.next()).toBeNull();
    for (let i = 0; i < 100; i++) parser.push(Buffer.alloc(10_000, 0x61));
    expect(parser.next()).toBeNull();
    expect(parser.bufferedBytes).toBeLessThanOrEqual(line_length_max);
  });

  it('a value owns its bytes: it survives the reuse of the socket chunk and does not pin it', () => {
    // Buffer.alloc is never taken from Node's shared pool, so sharing an ArrayBuffer means a view.
    const unpooled = (s: string): Buffer => {
      const b = Buffer.alloc(s.length);
      b.write(s, 'latin1');
      return b;
    };
    for (const chunks of [[unpooled('set k 0 0 5\r\nhello\r\n')], [unpooled('set k 0 0 5\r\nhe'), unpooled('llo\r\n')]]) {
      const parser = new TextParser(1024);
      const got: Request[] = [];
      for (const chunk of chunks) {
        parser.push(chunk);
        for (let r = parser.next(); r; r = parser.next()) got.push(r);
      }
      expect(got).toEqual([store('set', 'k', 'hello')]);
      const value = (got[0] as Extract<Request, { kind: 'store' }>).value;
      for (const chunk of chunks) {
        expect(value.buffer).not.toBe(chunk.buffer);
        chunk.fill(0x21);
      }
      expect(value.toString()).toBe('hello');
    }
  });

  it('pushing before draining is still correct', () => {
    const parser = new TextParser(1024);
    parser.push(bytes('get a\r\nset k 0 0 3\r\nab'));
    parser.push(bytes('c\r\nversion\r\n'));
    parser.push(bytes('get b\r\n'));
    const got: Request[] = [];
    for (let r = parser.next(); r; r = parser.next()) got.push(r);
    expect(got).toEqual([get(['a']), store('set', 'k', 'abc'), VERSION, get(['b'])]);
    expect(parser.bufferedBytes).toBe(0);
  });

  it('a huge declared size is swallowed without buffering', () => {
    const parser = new TextParser(1024);
    parser.push(bytes('set k 0 0 2000000000\r\n'));
    expect(parser.next()).toEqual(tooLarge('set', 'k'));
    const chunk = Buffer.alloc(65536, 0x0a);
    for (let i = 0; i < 200; i++) {
      parser.push(chunk);
      expect(parser.next()).toBeNull();
      expect(parser.bufferedBytes).toBe(0);
    }
  });

  it('the table helpers can tell requests apart (sanity)', () => {
    expect(store('set', 'k', 'a')).not.toEqual(store('set', 'k', 'b'));
    expect(store('set', 'k', 'a')).not.toEqual(store('set', 'k', 'a', { noreply: true }));
    expect(get(['a'])).not.toEqual(get(['a'], false, 0));
    expect(() => check([store('set', 'k', 'a')], [store('set', 'k', 'ab')], 'x')).toThrow();
  });
});
