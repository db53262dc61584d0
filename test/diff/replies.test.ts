// The differential test's reply reader and normaliser (replies.ts): what it
// treats as equal between two servers must be only CAS numbering, stats
// figures and the version string.

import { describe, expect, it } from 'vitest';
import { casValues, normalise, parseReplies, sideBySide } from './replies.js';

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
});
