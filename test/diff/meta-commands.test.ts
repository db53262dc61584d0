// The meta-command generator (meta-commands.ts) keeps the invariants its
// header lists, so that what the differential test compares is only what
// both servers must answer alike: checked on the lines it renders.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64Key } from '../../src/net/meta.js';
import { renderCommand, startsSegment, type Command } from './commands.js';
import { metaFamilies } from './meta-commands.js';

const ctx = { casSeen: ['5', '6'], nowSeconds: 1_700_000_000 };

/** The meta command lines a generated command sends (data blocks may follow; they are not meta lines). */
function metaLines(c: Command): string[][] {
  return renderCommand(c, ctx).split('\n').map((line) => line.replace(/\r$/, '').split(' ')).filter((w) => /^m[gsda]$/.test(w[0]!));
}

/** A key memcached decodes (with `b`) to bytes no text line can carry. */
function isFragile(words: readonly string[]): boolean {
  if (!words.includes('b') || words[1] === undefined) return false;
  const key = decodeBase64Key(Buffer.from(words[1], 'latin1'), 0, words[1].length);
  return key !== null && /[ \n\0]/.test(key);
}

const decrements = (words: readonly string[]): boolean => words.includes('MD') || words.includes('M-');

const samples = fc.sample(fc.oneof(...metaFamilies), { numRuns: 5000, seed: 42 });
const lines = samples.flatMap(metaLines);

describe('meta-command generator invariants', () => {
  it('covers every command, base64 keys that cannot be sent raw, and ma T', () => {
    for (const cm of ['mg', 'ms', 'md', 'ma']) expect(lines.some((w) => w[0] === cm)).toBe(true);
    expect(lines.some(isFragile)).toBe(true);
    expect(lines.some((w) => w[0] === 'ma' && w.some((t) => t.startsWith('T')))).toBe(true);
  });

  it('a base64 key that cannot be sent raw never loses its mark: no N, no append or prepend, no increment', () => {
    for (const w of lines.filter(isFragile)) {
      expect(w.slice(2).some((t) => t.startsWith('N')), w.join(' ')).toBe(false);
      if (w[0] === 'ms') expect(w.some((t) => t === 'MA' || t === 'MP'), w.join(' ')).toBe(false);
      if (w[0] === 'ma') expect(decrements(w), w.join(' ')).toBe(true);
    }
  });

  it('ma takes T only when it decrements, and starts a segment', () => {
    for (const w of lines.filter((x) => x[0] === 'ma' && x.slice(2).some((t) => t.startsWith('T')))) expect(decrements(w), w.join(' ')).toBe(true);
    for (const c of samples.filter((s) => metaLines(s).some((w) => w[0] === 'ma'))) expect(startsSegment(c)).toBe(true);
  });

  it('R is never within a second of a TTL a sequence sets', () => {
    const recache = new Set(lines.flatMap((w) => w.slice(2).filter((t) => /^R-?\d+$/.test(t))));
    expect([...recache].sort()).toEqual(['R-1', 'R0', 'R2000', 'R4294967296', 'R50000', 'R9223372036854775808']);
  });
});
