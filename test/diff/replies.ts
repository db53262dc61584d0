// Reading and comparing the differential test's replies: splits a server's
// reply bytes into reply lines and data blocks (VALUE, and meta VA), normalises
// what legitimately differs between two servers, and lays out a readable diff.
//
// Normalised, and only these:
// - CAS values: the 5th word of a VALUE line, a meta reply's `c<n>` flag and
//   me's `cas=<n>`: each distinct value becomes <cas#i>, i its order of first
//   appearance on that connection (0, what ms's c says when nothing was
//   stored, stays 0);
// - a run of STAT lines (stats figures differ) becomes one <STAT lines>;
// - the version string: VERSION <version>;
// - a meta `t` past 2^31: the TTL left of an item already expired, which
//   both servers print as an unsigned 32-bit wrap-around of their own clock
//   (a deliberate deviation), becomes t<past>;
// - me's `cls=` for an item of more than 944 bytes: memcached accepts the
//   test's -I 1k only with slab_chunk_max=1024, which makes its last slab
//   class (11) a 1024-byte one; we have no such option and keep memcached's
//   default classes, whose class 11 ends at 944 bytes. Below, classes agree;
// - and, by alignTimes, seconds counted from a moment that differ a little:
//   memcached's clock ticks once a second, apart from ours, so an idle time
//   (meta l, me's la=) may be one more there; and it converts an absolute
//   expiry through its start time in whole seconds, with a clock that ticks
//   up to a second late, so a TTL left (meta t, me's exp=) may differ by two.
// Everything else is compared byte for byte (strings here hold bytes as latin1).

import { escapeBytes } from './commands.js';

export type ReplyItem =
  | { kind: 'line'; text: string }
  /** A VALUE or VA line and its data block; `end` is what followed the data (should be "\r\n"). */
  | { kind: 'value'; words: string[]; data: string; end: string }
  /** Bytes after the last complete reply. */
  | { kind: 'partial'; text: string };

/** The data length a VALUE or VA line announces, or -1 for another line. */
function dataLength(text: string, words: readonly string[]): number {
  const length = text.startsWith('VALUE ') && (words.length === 4 || words.length === 5) ? words[3]
    : text.startsWith('VA ') ? words[1] : undefined;
  return length !== undefined && /^\d+$/.test(length) ? Number(length) : -1;
}

/** Splits reply bytes into items; a data block is taken by its length, whatever it holds. */
export function parseReplies(bytes: string): ReplyItem[] {
  const items: ReplyItem[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const nl = bytes.indexOf('\r\n', pos);
    if (nl < 0) break;
    const text = bytes.slice(pos, nl);
    const words = text.split(' ');
    const length = dataLength(text, words);
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

/** Meta reply codes: lines that carry return flags. */
const meta_codes = new Set(['HD', 'VA', 'EN', 'NS', 'EX', 'NF', 'ME']);

/** Index of a meta line's first flag: after the code, VA's length, or ME's key. */
const firstFlag = (words: readonly string[]): number => (words[0] === 'VA' || words[0] === 'ME' ? 2 : 1);

/** A meta flag holding a CAS value: its prefix and digits. */
const casFlag = /^(c|cas=)(\d+)$/;

/** The CAS values a reply item shows, in order. */
function casesOf(item: ReplyItem): string[] {
  if (item.kind === 'partial') return [];
  const words = item.kind === 'value' ? item.words : item.text.split(' ');
  if (words[0] === 'VALUE') return words.length === 5 ? [words[4]!] : [];
  if (!meta_codes.has(words[0]!)) return [];
  return words.slice(firstFlag(words)).flatMap((w) => {
    const m = casFlag.exec(w);
    return m && m[2] !== '0' ? [m[2]!] : [];
  });
}

/** CAS values in order of first appearance. */
export function casValues(items: readonly ReplyItem[]): string[] {
  const seen: string[] = [];
  for (const item of items) {
    for (const cas of casesOf(item)) if (!seen.includes(cas)) seen.push(cas);
  }
  return seen;
}

/** Last meta slab class both servers share with the test's settings (see the header). */
const shared_chunk_max_bytes = 944;

/** A meta reply line's words with CAS values, expired TTLs and me's last slab class normalised (see the header). */
function normaliseMeta(words: readonly string[], cas: readonly string[]): string[] {
  const size = words[0] === 'ME' ? Number(words.find((w) => w.startsWith('size='))?.slice(5)) : 0;
  return words.map((w, i) => {
    if (i < firstFlag(words)) return w;
    const m = casFlag.exec(w);
    if (m && m[2] !== '0') return `${m[1]}<cas#${cas.indexOf(m[2]!)}>`;
    if (/^t\d+$/.test(w) && Number(w.slice(1)) >= 2 ** 31) return 't<past>';
    if (w.startsWith('cls=') && size > shared_chunk_max_bytes) return 'cls=<last>';
    return w;
  });
}

function normaliseWords(words: readonly string[], cas: readonly string[]): string[] {
  if (words[0] === 'VALUE') return words.length === 5 ? [...words.slice(0, 4), `<cas#${cas.indexOf(words[4]!)}>`] : [...words];
  return meta_codes.has(words[0]!) ? normaliseMeta(words, cas) : [...words];
}

/** One display line per reply item, with the normalisations above; `cas` numbers CAS values (whole connection). */
export function normalise(items: readonly ReplyItem[], cas: readonly string[] = casValues(items)): string[] {
  const out: string[] = [];
  for (const item of items) {
    switch (item.kind) {
      case 'value': {
        out.push(escapeBytes(normaliseWords(item.words, cas).join(' ')));
        out.push(`  data "${escapeBytes(item.data)}"${item.end === '\r\n' ? '' : ` then "${escapeBytes(item.end)}" (not \\r\\n)`}`);
        break;
      }
      case 'line':
        if (item.text.startsWith('STAT ')) {
          if (out[out.length - 1] !== '<STAT lines>') out.push('<STAT lines>');
        } else if (item.text.startsWith('VERSION ')) {
          out.push('VERSION <version>');
        } else {
          out.push(escapeBytes(normaliseWords(item.text.split(' '), cas).join(' ')));
        }
        break;
      case 'partial':
        out.push(`<partial reply: "${escapeBytes(item.text)}">`);
        break;
    }
  }
  return out;
}

/** A meta flag counting seconds from a moment: TTL left, idle time, me's exp= and la=. */
const timeFlag = /^(t|l|exp=|la=)(-?\d+)$/;

/** How far apart the two servers' figures may be, per time flag (see the header). */
const time_slack_s: Record<string, number> = { t: 2, 'exp=': 2, l: 1, 'la=': 1 };

/** A time flag's prefix and seconds; not t-1 or exp=-1, which mean "never expires". */
function timeOf(word: string): { prefix: string; seconds: number } | undefined {
  const m = timeFlag.exec(word);
  return m && m[2] !== '-1' ? { prefix: m[1]!, seconds: Number(m[2]) } : undefined;
}

/**
 * `ours` with each time flag of a meta line taken from `theirs` where the two
 * lines are the same flag for flag and that flag's seconds differ by no more
 * than its slack.
 */
export function alignTimes(ours: readonly string[], theirs: readonly string[]): string[] {
  return ours.map((line, i) => {
    const mine = line.split(' ');
    const other = theirs[i]?.split(' ');
    if (!other || other.length !== mine.length || !meta_codes.has(mine[0]!)) return line;
    return mine.map((w, j) => {
      const a = timeOf(w);
      const b = timeOf(other[j]!);
      if (j < firstFlag(mine) || !a || !b || a.prefix !== b.prefix || Math.abs(a.seconds - b.seconds) > time_slack_s[a.prefix]!) return w;
      return other[j]!;
    }).join(' ');
  });
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
