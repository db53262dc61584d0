// The differential test's reply reader and normaliser (replies.ts): what it
// treats as equal between two servers must be only CAS numbering, stats
// figures, the version string, and the meta figures its header lists.

import { describe, expect, it } from 'vitest';
import { alignTimes, casValues, normalise, parseReplies, sideBySide } from './replies.js';

describe('differential replies', () => {
  it('takes a VALUE data block by its length, whatever it holds', () => {
    const items = parseReplies('VALUE a 0 7\r\nEND\r\nx\r\nEND\r\nVALUE b 1 2 9\r\nxy');
    expect(items).toEqual([
      { kind: 'value', words: ['VALUE', 'a', '0', '7'], data: 'END\r\nx\r', end: '\nE' },
      { kind: 'line', text: 'ND' },
      { kind: 'partial', text: 'VALUE b 1 2 9\r\nxy' },
    ]);
  });

  it('numbers CAS values by first appearance, so equal values stay equal and different ones different', () => {
    const replies = 'VALUE a 0 1 77\r\nx\r\nVALUE b 0 1 12\r\ny\r\nVALUE a 0 1 77\r\nx\r\nEND\r\n';
    expect(casValues(parseReplies(replies))).toEqual(['77', '12']);
    expect(normalise(parseReplies(replies))).toEqual([
      'VALUE a 0 1 <cas#0>', '  data "x"', 'VALUE b 0 1 <cas#1>', '  data "y"', 'VALUE a 0 1 <cas#0>', '  data "x"', 'END',
    ]);
    const other = 'VALUE a 0 1 5\r\nx\r\nVALUE b 0 1 5\r\ny\r\nVALUE a 0 1 5\r\nx\r\nEND\r\n';
    expect(normalise(parseReplies(other))).not.toEqual(normalise(parseReplies(replies)));
  });

  it('hides stats figures and the version, nothing else', () => {
    expect(normalise(parseReplies('STAT pid 1\r\nSTAT uptime 2\r\nEND\r\nVERSION 1.6.18\r\nERROR\r\nVALUE k 0 1\r\n\x01\r\n'))).toEqual([
      '<STAT lines>', 'END', 'VERSION <version>', 'ERROR', 'VALUE k 0 1', '  data "\\x01"',
    ]);
    expect(normalise(parseReplies('VALUE k 0 1\r\nxyEND\r\n'))).toEqual(['VALUE k 0 1', '  data "x" then "yE" (not \\r\\n)', 'ND']);
  });

  it('marks the differing lines side by side', () => {
    const table = sideBySide('ours', ['STORED', 'END'], 'theirs', ['STORED', 'EXISTS', 'END']);
    expect(table.split('\n').map((row) => row[0])).toEqual([' ', ' ', '!', '!']);
  });

  it('takes a meta VA data block by its length', () => {
    expect(parseReplies('VA 5 t-1\r\nEN\r\nx\r\nHD\r\n')).toEqual([
      { kind: 'value', words: ['VA', '5', 't-1'], data: 'EN\r\nx', end: '\r\n' },
      { kind: 'line', text: 'HD' },
    ]);
  });

  it('numbers CAS values in meta c flags and me\'s cas= with the classic ones; c0 and keys or opaques are left alone', () => {
    const replies = 'HD c7 Oc8\r\nVALUE a 0 1 7\r\nx\r\nVA 1 c9 kc7\r\ny\r\nME c7 exp=-1 la=0 cas=9 fetch=no cls=1 size=60\r\nNS c0\r\n';
    const items = parseReplies(replies);
    expect(casValues(items)).toEqual(['7', '9']);
    expect(normalise(items)).toEqual([
      'HD c<cas#0> Oc8', 'VALUE a 0 1 <cas#0>', '  data "x"', 'VA 1 c<cas#1> kc7', '  data "y"',
      'ME c7 exp=-1 la=0 cas=<cas#1> fetch=no cls=1 size=60', 'NS c0',
    ]);
  });

  it('hides the TTL of an expired item and the slab class only of me lines over 944 bytes', () => {
    expect(normalise(parseReplies('HD t4294967290 t2147483647\r\nHD t2147483648\r\n'))).toEqual(['HD t<past> t2147483647', 'HD t<past>']);
    expect(normalise(parseReplies('ME k exp=-1 la=0 cas=0 fetch=no cls=11 size=944\r\nME k exp=-1 la=0 cas=0 fetch=no cls=12 size=945\r\n'))).toEqual([
      'ME k exp=-1 la=0 cas=0 fetch=no cls=11 size=944', 'ME k exp=-1 la=0 cas=0 fetch=no cls=<last> size=945',
    ]);
  });

  it('aligns meta times within two seconds (TTLs) or one (idle times), and nothing else', () => {
    const theirs = ['HD t59 l1 s60', 'ME t5 exp=-61 la=1 cas=1', 'HD t59 l2', 'VA 2 t-1', 'VALUE t5 0 1', 'HD t59 l1', 'ME k exp=-1', 'HD t3'];
    const ours = ['HD t61 l0 s61', 'ME t6 exp=-59 la=0 cas=1', 'HD t56 l0', 'VA 2 t0', 'VALUE t6 0 1', 'HD t60', 'ME k exp=-2', 'HD t1'];
    expect(alignTimes(ours, theirs)).toEqual(['HD t59 l1 s61', 'ME t6 exp=-61 la=1 cas=1', 'HD t56 l0', 'VA 2 t0', 'VALUE t6 0 1', 'HD t60', 'ME k exp=-2', 'HD t3']);
  });
});
