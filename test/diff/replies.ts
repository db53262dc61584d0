// Reading and comparing the differential test's replies: splits a server's
// reply bytes into reply lines and VALUE blocks, normalises what legitimately
// differs between two servers, and lays out a readable diff.
//
// Normalised, and only these:
// - CAS values (the 5th word of a VALUE line): each distinct value becomes
//   <cas#i>, i its order of first appearance on that connection;
// - a run of STAT lines (stats figures differ) becomes one <STAT lines>;
// - the version string: VERSION <version>.
// Everything else is compared byte for byte (strings here hold bytes as latin1).

import { escapeBytes } from './commands.js';

export type ReplyItem =
  | { kind: 'line'; text: string }
  /** A VALUE line and its data block; `end` is what followed the data (should be "\r\n"). */
  | { kind: 'value'; words: string[]; data: string; end: string }
  /** Bytes after the last complete reply. */
  | { kind: 'partial'; text: string };

/** Splits reply bytes into items; a VALUE line's data block is taken by its length, whatever it holds. */
export function parseReplies(bytes: string): ReplyItem[] {
  const items: ReplyItem[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const nl = bytes.indexOf('\r\n', pos);
    if (nl < 0) break;
    const text = bytes.slice(pos, nl);
    const words = text.split(' ');
    const length = text.startsWith('VALUE ') && (words.length === 4 || words.length === 5) && /^\d+$/.test(words[3]!) ? Number(words[3]) : -1;
    if (length < 0) {
      items.push({ kind: 'line', text });
      pos = nl + 2;
      continue;
    }
    const dataStart = nl + 2;
    if (dataStart + length + 2 > bytes.length) break;
    items.push({ kind: 'value', words, data: bytes.slice(dataStart, dataStart + length), end: bytes.slice(dataStart + length, dataStart + length + 2) });
    pos = dataStart + length + 2;
  }
  if (pos < bytes.length) items.push({ kind: 'partial', text: bytes.slice(pos) });
  return items;
}

/** CAS values in order of first appearance. */
export function casValues(items: readonly ReplyItem[]): string[] {
  const seen: string[] = [];
  for (const item of items) {
    if (item.kind === 'value' && item.words.length === 5 && !seen.includes(item.words[4]!)) seen.push(item.words[4]!);
  }
  return seen;
}

/** One display line per reply item, with the normalisations above; `cas` numbers CAS values (whole connection). */
export function normalise(items: readonly ReplyItem[], cas: readonly string[] = casValues(items)): string[] {
  const out: string[] = [];
  for (const item of items) {
    switch (item.kind) {
      case 'value': {
        const words = item.words.length === 5 ? [...item.words.slice(0, 4), `<cas#${cas.indexOf(item.words[4]!)}>`] : item.words;
        out.push(escapeBytes(words.join(' ')));
        out.push(`  data "${escapeBytes(item.data)}"${item.end === '\r\n' ? '' : ` then "${escapeBytes(item.end)}" (not \\r\\n)`}`);
        break;
      }
      case 'line':
        if (item.text.startsWith('STAT ')) {
          if (out[out.length - 1] !== '<STAT lines>') out.push('<STAT lines>');
        } else if (item.text.startsWith('VERSION ')) {
          out.push('VERSION <version>');
        } else {
          out.push(escapeBytes(item.text));
        }
        break;
      case 'partial':
        out.push(`<partial reply: "${escapeBytes(item.text)}">`);
        break;
    }
  }
  return out;
}

const width = 58;

function cell(s: string | undefined): string {
  if (s === undefined) return ''.padEnd(width);
  return s.length > width ? `${s.slice(0, width - 3)}...` : s.padEnd(width);
}

/** Side by side, the differing lines marked with '!'; elided far from the first difference. */
export function sideBySide(leftTitle: string, left: readonly string[], rightTitle: string, right: readonly string[]): string {
  const n = Math.max(left.length, right.length);
  let first = 0;
  while (first < n && left[first] === right[first]) first++;
  const rows = [`    ${cell(leftTitle)} | ${rightTitle}`];
  for (let i = 0; i < n; i++) {
    if (i < first - 12 || i > first + 25) continue;
    rows.push(`${left[i] === right[i] ? ' ' : '!'} ${String(i).padStart(2)} ${cell(left[i])} | ${right[i] ?? ''}`);
  }
  return rows.join('\n');
}
