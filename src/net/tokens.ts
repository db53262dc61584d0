// A command line split into tokens as memcached's tokenize_command does it,
// shared by the classic commands (commands.ts) and the meta commands
// (meta.ts): tokens are separated by single spaces only, a NUL ends the line
// (as C strings do in memcached), and offsets are kept instead of strings.

import { key_length_max } from '../engine/limits.js';

/** memcached's MAX_TOKENS: at most 23 real tokens plus the terminal one. */
export const max_tokens = 24;

export interface Tokens { starts: number[]; ends: number[]; count: number }

/**
 * Token offsets of the last line tokenized. One scratch object, reused for
 * every line: parsing is synchronous, and no request keeps a reference.
 */
const scratch: Tokens = { starts: [], ends: [], count: 0 };

/** Splits [start, end) at spaces; a NUL ends the line, as C strings do in memcached. */
export function tokenize(line: Buffer, start: number, end: number): Tokens {
  const t = scratch;
  let count = 0;
  let i = start;
  while (i < end) {
    let b = line[i]!;
    while (b === 0x20 && ++i < end) b = line[i]!;
    if (i >= end || b === 0) break;
    const s = i;
    while (b !== 0x20 && b !== 0 && ++i < end) b = line[i]!;
    t.starts[count] = s;
    t.ends[count] = i;
    count++;
    if (b === 0) break;
  }
  t.count = count;
  return t;
}

export function tokenIs(line: Buffer, t: Tokens, index: number, text: string): boolean {
  const start = t.starts[index]!;
  const len = t.ends[index]! - start;
  if (len !== text.length) return false;
  for (let i = 0; i < len; i++) if (line[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

export function tokenText(line: Buffer, t: Tokens, index: number): string {
  return line.toString('latin1', t.starts[index], t.ends[index]);
}

/** memcached's ntokens: real tokens (at most 23) plus the terminal token. */
export function ntokensOf(t: Tokens): number {
  return Math.min(t.count, max_tokens - 1) + 1;
}

/**
 * A key token's bytes: at most 250, and with strict keys (--strict-keys) no
 * control character, space or DEL.
 */
export function validKeyBytes(line: Buffer, start: number, end: number, strict: boolean): boolean {
  if (end - start > key_length_max) return false;
  if (!strict) return true;
  for (let i = start; i < end; i++) {
    const b = line[i]!;
    if (b < 0x21 || b === 0x7f) return false;
  }
  return true;
}
