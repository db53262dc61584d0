// The reply reader of mcl bench (src/cli/bench/replies.ts): the outcome of
// each memcached text reply, whole, byte by byte and split at every point
// (chunks are overwritten after feed(), as a socket's may be).

import { describe, expect, it } from 'vitest';
import { ReplyReader, type Expect, type Outcome } from '../../../src/cli/bench/replies.js';

/** Feeds `chunks` to a reader expecting `expects`; returns the outcomes. */
function read(expects: Expect[], chunks: Buffer[]): { outcomes: Outcome[]; outstanding: number } {
  const outcomes: Outcome[] = [];
  const reader = new ReplyReader((o) => outcomes.push(o));
  expects.forEach((e) => reader.expect(e));
  for (const c of chunks) {
    reader.feed(c);
    c.fill(0x21); // the reader must have copied what it keeps
  }
  return { outcomes, outstanding: reader.outstanding };
}

/** The same bytes whole, byte by byte, and split in two at every point. */
function splits(text: string): Buffer[][] {
  const bytes = Buffer.from(text, 'latin1');
  const ways: Buffer[][] = [[Buffer.from(bytes)], [...bytes].map((b) => Buffer.from([b]))];
  for (let i = 1; i < bytes.length; i++) ways.push([Buffer.from(bytes.subarray(0, i)), Buffer.from(bytes.subarray(i))]);
  return ways;
}

const cases: Array<{ name: string; expects: Expect[]; text: string; outcomes: Outcome[] }> = [
  { name: 'STORED', expects: ['stored'], text: 'STORED\r\n', outcomes: ['ok'] },
  { name: 'NOT_STORED is an error', expects: ['stored'], text: 'NOT_STORED\r\n', outcomes: ['error'] },
  { name: 'SERVER_ERROR for a set', expects: ['stored'], text: 'SERVER_ERROR out of memory storing object\r\n', outcomes: ['error'] },
  { name: 'get hit', expects: ['get'], text: 'VALUE abcdefghij 0 5\r\nhello\r\nEND\r\n', outcomes: ['ok'] },
  { name: 'get hit whose data holds \\r\\n and END', expects: ['get'], text: 'VALUE k 0 10\r\nEND\r\nEND\r\n\r\nEND\r\n', outcomes: ['ok'] },
  { name: 'gets-style header with a CAS', expects: ['get'], text: 'VALUE k 3 2 77\r\nhi\r\nEND\r\n', outcomes: ['ok'] },
  { name: 'get miss', expects: ['get'], text: 'END\r\n', outcomes: ['miss'] },
  { name: 'get refused', expects: ['get'], text: 'CLIENT_ERROR bad command line format\r\n', outcomes: ['error'] },
  { name: 'a VALUE header without a length', expects: ['get'], text: 'VALUE k 0\r\n', outcomes: ['error'] },
  { name: 'version after a noreply set', expects: ['version'], text: 'VERSION 1.6.18\r\n', outcomes: ['ok'] },
  { name: 'an error line before VERSION makes it an error', expects: ['version'], text: 'SERVER_ERROR out of memory\r\nVERSION 1.6.18\r\n', outcomes: ['error'] },
  { name: 'pipelined mix', expects: ['stored', 'get', 'get', 'version', 'stored'], text: 'STORED\r\nEND\r\nVALUE x 0 1\r\n1\r\nEND\r\nVERSION 1.6.18\r\nSTORED\r\n', outcomes: ['ok', 'miss', 'ok', 'ok', 'ok'] },
  { name: 'a line nothing asked for', expects: [], text: 'STORED\r\n', outcomes: ['unexpected'] },
  { name: 'bare \\n line ends', expects: ['stored', 'get'], text: 'STORED\nEND\n', outcomes: ['ok', 'miss'] },
];

describe('ReplyReader', () => {
  for (const c of cases) {
    it(`${c.name}: the same outcomes however the bytes are split`, () => {
      for (const chunks of splits(c.text)) {
        const got = read(c.expects, chunks);
        expect(got.outcomes).toEqual(c.outcomes);
        expect(got.outstanding).toBe(Math.max(0, c.expects.length - c.outcomes.length));
      }
    });
  }

  it('waits for the rest of a reply: nothing is reported before its last byte', () => {
    const outcomes: Outcome[] = [];
    const reader = new ReplyReader((o) => outcomes.push(o));
    reader.expect('get');
    reader.feed(Buffer.from('VALUE k 0 5\r\nhel'));
    expect(outcomes).toEqual([]);
    reader.feed(Buffer.from('lo\r\nEN'));
    expect(outcomes).toEqual([]);
    expect(reader.outstanding).toBe(1);
    reader.feed(Buffer.from('D\r\n'));
    expect(outcomes).toEqual(['ok']);
    expect(reader.outstanding).toBe(0);
  });

  it('keeps its queue bounded over many replies', () => {
    let n = 0;
    const reader = new ReplyReader(() => n++);
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) reader.expect('stored');
      reader.feed(Buffer.from('STORED\r\n'.repeat(100)));
    }
    expect(n).toBe(5000);
    expect(reader.outstanding).toBe(0);
    expect((reader as unknown as { queue: unknown[] }).queue.length).toBeLessThan(2100);
  });
});
