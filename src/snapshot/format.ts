// Snapshot file format: JSON Lines, DATA_DIR/snapshots/<startSeq>.jsonl.
//
//   line 1   header   {"format":"memcached-lite-snapshot","version":1,"startSeq":S,
//                      "nextCas":C,"pendingFlushAtMs":F,"createdAt":"ISO","serverVersion":"x"}
//   line 2.. item     {"k":"<key, latin1 as JSON string>","v":"<value base64>","f":flags,
//                      "e":expiresAtMs,"c":cas}
//   last     trailer  {"trailer":true,"items":N,"crc32":X,"endSeq":E}
//
// E is the WAL sequence the log was fsynced through before the file was
// committed: the snapshot shows no write after E (and all writes through S).
// X is the CRC-32 of every item line's bytes including its "\n", chained in
// file order. A file without a valid trailer, or whose count or checksum do
// not match, is not a snapshot. One JSON document per line keeps every string
// far below V8's size limit and lets writing and loading stream.
//
// A snapshot started at WAL sequence S holds a state at least as new as S
// (it is "fuzzy": writes after S may or may not be in it); replaying the WAL
// records after S over it gives the exact state, because records are
// idempotent states.

import type { ItemVisitor } from '../engine/types.js';

export const snapshot_format = 'memcached-lite-snapshot';
export const snapshot_version = 1;

export interface SnapshotHeader {
  format: typeof snapshot_format;
  version: number;
  startSeq: number;
  nextCas: number;
  pendingFlushAtMs: number;
  createdAt: string;
  serverVersion: string;
}

export interface SnapshotItem { key: string; value: Buffer; flags: number; expiresAtMs: number; cas: number }

export interface SnapshotTrailer { trailer: true; items: number; crc32: number; endSeq?: number }

export function encodeHeader(h: Omit<SnapshotHeader, 'format' | 'version'>): string {
  return `${JSON.stringify({ format: snapshot_format, version: snapshot_version, ...h })}\n`;
}

export function encodeItem(item: SnapshotItem): string {
  return `${JSON.stringify({ k: item.key, v: item.value.toString('base64'), f: item.flags, e: item.expiresAtMs, c: item.cas })}\n`;
}

export function encodeTrailer(items: number, checksum: number, endSeq: number): string {
  return `${JSON.stringify({ trailer: true, items, crc32: checksum, endSeq })}\n`;
}

/**
 * Encodes item lines, byte for byte what encodeItem gives, into one growing
 * chunk, straight from key and value bytes: no string per item for a key
 * JSON.stringify would leave as it is (printable ASCII but `"` and `\`),
 * base64 and numbers written by JS loops. `visitor` is what Engine.scan
 * steps call.
 */
export class ItemLineWriter {
  private buf = Buffer.allocUnsafe(2 * 1024 * 1024);
  private at = 0;
  /** Lines written so far (over all chunks). */
  count = 0;

  readonly visitor: ItemVisitor = (keyBytes, keyStart, keyEnd, value, start, end, flags, expiresAtMs, cas) => {
    const room = 6 * (keyEnd - keyStart) + Math.ceil((end - start) / 3) * 4 + 96;
    if (this.at + room > this.buf.length) this.growFor(room);
    const buf = this.buf;
    let p = this.putAscii(open_key, this.at);
    if (isPlainKey(keyBytes, keyStart, keyEnd)) {
      for (let i = keyStart; i < keyEnd; i++) buf[p++] = keyBytes[i]!;
    } else {
      // What JSON.stringify writes between the quotes, UTF-8 encoded.
      p += buf.write(JSON.stringify(keyBytes.toString('latin1', keyStart, keyEnd)).slice(1, -1), p, 'utf8');
    }
    p = this.putAscii(open_value, p); // starts with the key's closing quote
    p = encodeBase64(value, start, end, buf, p);
    p = this.putAscii(open_flags, p);
    p = putUint(buf, p, flags);
    p = this.putAscii(open_expiry, p);
    p = putUint(buf, p, expiresAtMs);
    p = this.putAscii(open_cas, p);
    p = putUint(buf, p, cas);
    buf[p++] = 0x7d; // }
    buf[p++] = 0x0a;
    this.at = p;
    this.count++;
  };

  /** Bytes waiting in the chunk. */
  get bytes(): number { return this.at; }

  /** The chunk so far; valid until the next line is added (write it out first). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.at);
    this.at = 0;
    return out;
  }

  private putAscii(bytes: readonly number[], p: number): number {
    for (let i = 0; i < bytes.length; i++) this.buf[p++] = bytes[i]!;
    return p;
  }

  private growFor(room: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + room));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}

/** Whether JSON.stringify leaves the latin1 key in bytes[start, end) as it is. */
function isPlainKey(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

const base64_alphabet = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');

/** Standard padded base64 of src[start, end) at dst[p..]; returns the end position. */
function encodeBase64(src: Buffer, start: number, end: number, dst: Buffer, p: number): number {
  const whole = start + Math.floor((end - start) / 3) * 3;
  let i = start;
  for (; i < whole; i += 3) {
    const v = (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
    dst[p++] = base64_alphabet[v >> 18]!;
    dst[p++] = base64_alphabet[(v >> 12) & 63]!;
    dst[p++] = base64_alphabet[(v >> 6) & 63]!;
    dst[p++] = base64_alphabet[v & 63]!;
  }
  const left = end - i;
  if (left > 0) {
    const v = (src[i]! << 16) | (left === 2 ? src[i + 1]! << 8 : 0);
    dst[p++] = base64_alphabet[v >> 18]!;
    dst[p++] = base64_alphabet[(v >> 12) & 63]!;
    dst[p++] = left === 2 ? base64_alphabet[(v >> 6) & 63]! : 0x3d;
    dst[p++] = 0x3d;
  }
  return p;
}

const digit_scratch = new Uint8Array(24);

/** The decimal digits of a non-negative integer (below 2^53) at buf[p..]; returns the end position. */
function putUint(buf: Buffer, p: number, n: number): number {
  let k = 0;
  do {
    const q = Math.floor(n / 10);
    digit_scratch[k++] = 0x30 + (n - q * 10);
    n = q;
  } while (n > 0);
  while (k > 0) buf[p++] = digit_scratch[--k]!;
  return p;
}

const digits_max = 15;
/** Where the number readDigits read last ends. */
let digitsEnd = 0;

/** A JSON non-negative integer of at most 15 digits at buf[at..], or -1. */
function readDigits(buf: Buffer, at: number): number {
  let n = 0;
  let p = at;
  for (; p - at < digits_max; p++) {
    const c = buf[p]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  if (p === at || (buf[at] === 0x30 && p - at > 1)) return -1;
  const c = buf[p]!;
  if (c >= 0x30 && c <= 0x39) return -1;
  digitsEnd = p;
  return n;
}

/** Whether buf[p..] is `"X":`, a field name of one letter X and its colon. */
function isFieldName(buf: Buffer, p: number, letter: number): boolean {
  return buf[p] === 0x22 && buf[p + 1] === letter && buf[p + 2] === 0x22 && buf[p + 3] === 0x3a;
}

// What ItemLineWriter writes between an item line's values (open_key and the
// like below), checked byte by byte with the bytes in the code.
/** buf[p..] is `{"k":"`. */
const isKeyOpening = (buf: Buffer, p: number) => buf[p] === 0x7b && isFieldName(buf, p + 1, 0x6b) && buf[p + 5] === 0x22;
/** buf[p..] is `","v":"`. */
const isValueOpening = (buf: Buffer, p: number) => buf[p] === 0x22 && buf[p + 1] === 0x2c && isFieldName(buf, p + 2, 0x76) && buf[p + 6] === 0x22;
/** buf[p..] is `","f":`. */
const isFlagsOpening = (buf: Buffer, p: number) => buf[p] === 0x22 && buf[p + 1] === 0x2c && isFieldName(buf, p + 2, 0x66);
/** buf[p..] is `,"e":` (letter 0x65) or `,"c":` (0x63). */
const isNumberOpening = (buf: Buffer, p: number, letter: number) => buf[p] === 0x2c && isFieldName(buf, p + 1, letter);

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const open_key = ascii('{"k":"');
const open_value = ascii('","v":"');
const open_flags = ascii('","f":');
const open_expiry = ascii(',"e":');
const open_cas = ascii(',"c":');

let scratch = Buffer.allocUnsafe(64 * 1024);

/** Value of each base64 alphabet byte (RFC 4648, standard alphabet), -1 for any other byte. */
const base64_values = (() => {
  const t = new Int8Array(256).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
})();

/**
 * The 12 bits of each pair of base64 alphabet bytes, indexed by the pair read
 * as a little-endian 16-bit number (first byte low), -1 for a pair with any
 * other byte: two lookups decode a group of four.
 */
const base64_pairs = (() => {
  const t = new Int16Array(65536).fill(-1);
  for (let lo = 0; lo < 256; lo++) {
    const a = base64_values[lo]!;
    if (a < 0) continue;
    for (let hi = 0; hi < 256; hi++) {
      const b = base64_values[hi]!;
      if (b >= 0) t[lo | (hi << 8)] = (a << 6) | b;
    }
  }
  return t;
})();

/** Where the base64 text decodeBase64Value read last ends (at its closing quote). */
let base64End = 0;

/**
 * Decodes the canonical padded base64 text at src[start..], up to the `"`
 * that closes it (before `to`), into `scratch` from 0: the decoded length,
 * or -1 if the text is not exactly what Buffer#toString('base64') writes
 * (then JSON.parse and the lenient decoder decide). One pass: the closing
 * quote is found by the decoding itself. `words` views src's bytes (a group
 * is read as one 32-bit number).
 */
function decodeBase64Value(src: Buffer, words: DataView, start: number, to: number): number {
  let out = 0;
  let i = start;
  // Whole groups start at most at `last`: within the input, and with room in scratch (grown when reached).
  let last = groupsEnd(start, to);
  for (; ; i += 4) {
    if (i > last) {
      if (i + 4 > to) return -1;
      growScratch();
      last = groupsEnd(start, to);
    }
    const four = words.getUint32(i, true);
    const high = base64_pairs[four & 0xffff]!, low = base64_pairs[four >>> 16]!;
    if ((high | low) < 0) break;
    scratch[out++] = high >> 4;
    scratch[out++] = ((high & 0x0f) << 4) | (low >> 8);
    scratch[out++] = low & 0xff;
  }
  if (src[i] === 0x22) {
    base64End = i;
    return out;
  }
  // Only a padded last group may stop the loop before the quote: "xx==" or "xxx=" (the caller checks the quote after it).
  if (src[i + 3] !== 0x3d) return -1;
  const a = base64_values[src[i]!]!, b = base64_values[src[i + 1]!]!;
  const c = src[i + 2] === 0x3d ? 0 : base64_values[src[i + 2]!]!;
  if ((a | b | c) < 0) return -1;
  scratch[out++] = (a << 2) | (b >> 4);
  if (src[i + 2] === 0x3d) {
    if ((b & 0x0f) !== 0) return -1; // non-canonical trailing bits
  } else {
    if ((c & 0x03) !== 0) return -1;
    scratch[out++] = ((b & 0x0f) << 4) | (c >> 2);
  }
  base64End = i + 4;
  return out;
}

/** The last position a whole group of base64 text from `start` may begin at: 4 bytes before `to`, and one whose 3 bytes still fit in scratch (leaving 3 for a padded last group). */
function groupsEnd(start: number, to: number): number {
  return Math.min(to - 4, start + Math.floor((scratch.length - 3) / 3) * 4 - 4);
}

function growScratch(): void {
  const bigger = Buffer.allocUnsafe(scratch.length * 2);
  scratch.copy(bigger);
  scratch = bigger;
}

/**
 * Reads the item line at buf[at..] if it is laid out as ItemLineWriter
 * writes it (ASCII key without escapes, canonical base64, numbers of at most
 * 15 digits) and ends by `to`, and visits it: returns where the next line
 * starts. -1 if it is not such a line (then JSON.parse decides). Any byte
 * out of place, a newline included, stops it, so it never reads on into the
 * next line: the newline it ends at is the line's first. `words` views buf.
 */
function readFastLine(buf: Buffer, words: DataView, at: number, to: number, visit: ItemVisitor): number {
  if (!isKeyOpening(buf, at)) return -1;
  const keyStart = at + open_key.length;
  let q = keyStart;
  for (; q < to; q++) {
    const c = buf[q]!;
    if (c === 0x22) break;
    if (c === 0x5c || c < 0x20 || c >= 0x7f) return -1;
  }
  if (q >= to || q - keyStart > key_length_max || !isValueOpening(buf, q)) return -1;
  const length = decodeBase64Value(buf, words, q + open_value.length, to);
  if (length < 0 || !isFlagsOpening(buf, base64End)) return -1;
  const flags = readDigits(buf, base64End + open_flags.length);
  if (flags < 0 || flags > 0xffffffff || !isNumberOpening(buf, digitsEnd, 0x65)) return -1;
  const expiresAtMs = readDigits(buf, digitsEnd + open_expiry.length);
  if (expiresAtMs < 0 || !isNumberOpening(buf, digitsEnd, 0x63)) return -1;
  const cas = readDigits(buf, digitsEnd + open_cas.length);
  const lineEnd = digitsEnd + 1; // after the closing brace: the newline, or `to` for a last line without one
  if (cas < 0 || buf[digitsEnd] !== 0x7d || lineEnd > to || (lineEnd < to && buf[lineEnd] !== 0x0a)) return -1;
  visit(buf, keyStart, q, scratch, 0, length, flags, expiresAtMs, cas);
  return Math.min(lineEnd + 1, to);
}

/** The line at buf[at..] through JSON.parse: visits it and returns where the next line starts; throws if it is not an item. */
function readParsedLine(buf: Buffer, at: number, to: number, visit: ItemVisitor, base: number): number {
  let nl = buf.indexOf(0x0a, at);
  if (nl < 0 || nl > to) nl = to;
  const item = parseItem(buf.toString('utf8', at, nl));
  if (!item) throw new Error(`bad item line at byte ${base + at}`);
  const key = Buffer.from(item.key, 'latin1');
  visit(key, 0, key.length, item.value, 0, item.value.length, item.flags, item.expiresAtMs, item.cas);
  return nl + 1;
}

/**
 * Visits every item line in buf[from, to) (whole lines) and returns how many
 * there were; throws naming the file offset (buf starts at file byte `base`)
 * of a line that is not an item.
 */
export function readItemLines(buf: Buffer, from: number, to: number, visit: ItemVisitor, base = 0): number {
  let at = from;
  let lines = 0;
  const words = new DataView(buf.buffer, buf.byteOffset, buf.length);
  while (at < to) {
    const next = readFastLine(buf, words, at, to, visit);
    at = next >= 0 ? next : readParsedLine(buf, at, to, visit, base);
    lines++;
  }
  return lines;
}

/** memcached's KEY_MAX_LENGTH. */
const key_length_max = 250;

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

export function parseHeader(line: string): SnapshotHeader | null {
  let h: Record<string, unknown>;
  try { h = JSON.parse(line) as Record<string, unknown>; } catch { return null; }
  if (h.format !== snapshot_format || h.version !== snapshot_version) return null;
  if (!isInt(h.startSeq) || !isInt(h.nextCas) || !isInt(h.pendingFlushAtMs)) return null;
  return h as unknown as SnapshotHeader;
}

export function parseItem(line: string): SnapshotItem | null {
  let o: Record<string, unknown>;
  try { o = JSON.parse(line) as Record<string, unknown>; } catch { return null; }
  if (typeof o.k !== 'string' || typeof o.v !== 'string' || !isInt(o.f) || o.f > 0xffffffff || !isInt(o.e) || !isInt(o.c)) return null;
  // Keys are latin1 (one char per byte) and, like memcached's, at most 250 bytes.
  if (o.k.length > key_length_max || /[^\x00-\xff]/.test(o.k)) return null;
  return { key: o.k, value: Buffer.from(o.v, 'base64'), flags: o.f, expiresAtMs: o.e, cas: o.c };
}

export function parseTrailer(line: string): SnapshotTrailer | null {
  let o: Record<string, unknown>;
  try { o = JSON.parse(line) as Record<string, unknown>; } catch { return null; }
  if (o.trailer !== true || !isInt(o.items) || !isInt(o.crc32)) return null;
  if (o.endSeq !== undefined && !isInt(o.endSeq)) return null;
  return o as unknown as SnapshotTrailer;
}

/** A snapshot file: <startSeq>.jsonl, or <startSeq>.jsonl.gz for a fallback kept compressed (gzip of the same bytes). */
export const snapshot_file_pattern = /^(\d{20})\.jsonl(\.gz)?$/;

export function snapshotName(startSeq: number): string {
  return `${String(startSeq).padStart(20, '0')}.jsonl`;
}
