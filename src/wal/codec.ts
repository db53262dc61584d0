// WAL record codec: the byte layout of one logged effect.
//
// Every record, all integers little-endian:
//
//   offset  size  field
//   0       4     payload length P (bytes after the 25-byte header)
//   4       4     CRC-32 (zlib) of bytes [8, 25 + P): everything after it
//   8       8     sequence number (uint64; consecutive across the whole log)
//   16      1     type: 1 put, 2 del, 3 touch, 4 flush, 5 flushAt
//   17      8     time the record was logged, ms since the epoch (for
//                 point-in-time replay; 0 when unknown)
//   25      P     payload:
//     put      u16 key length K, K key bytes, u32 flags, u64 expiresAtMs,
//              u64 cas, then the value (the rest of the payload)
//     del      the key (the whole payload)
//     touch    u64 expiresAtMs, then the key
//     flush    empty
//     flushAt  u64 atMs (0 = cancel)
//
// Every u64 is at most 2^53 - 1 (a JS number exactly); a record with a larger
// one was not written by encodeRecord and is rejected as malformed.
//
// Records hold resulting state, never commands, so replaying one twice gives
// the same state. A reader must check P against the bytes left in the file
// before trusting or allocating it (decodeRecordAt does). An all-zero header
// can never be a valid record (type 0 does not exist).

import { crc32 } from 'node:zlib';
import type { Effect } from '../engine/types.js';

export const record_header_bytes = 25;
/** Generous bound on a payload: -I is at most 1 GiB, plus key and fields. */
export const record_payload_max_bytes = 1024 * 1024 * 1024 + 4096;

const TYPE_PUT = 1;
const TYPE_DEL = 2;
const TYPE_TOUCH = 3;
const TYPE_FLUSH = 4;
const TYPE_FLUSH_AT = 5;

function writeU64(buf: Buffer, value: number, offset: number): void {
  writeU32(buf, value % 0x1_0000_0000, offset);
  writeU32(buf, Math.floor(value / 0x1_0000_0000), offset + 4);
}

/** The u32 at `offset` (little-endian); the caller has checked the bytes are there. */
function readU32(buf: Buffer, offset: number): number {
  return (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0;
}

function readU64(buf: Buffer, offset: number): number {
  return readU32(buf, offset) + readU32(buf, offset + 4) * 0x1_0000_0000;
}

/** Whether the u64 at `offset` is at most 2^53 - 1, so readU64 returns it exactly (encodeRecord never writes more). */
function u64IsSafe(buf: Buffer, offset: number): boolean {
  return readU32(buf, offset + 4) <= 0x1f_ffff;
}

function payloadLength(effect: Effect): number {
  switch (effect.kind) {
    case 'put': return 2 + effect.key.length + 4 + 8 + 8 + effect.value.length;
    case 'del': return effect.key.length;
    case 'touch': return 8 + effect.key.length;
    case 'flush': return 0;
    case 'flushAt': return 8;
  }
}

const typeOf: Record<Effect['kind'], number> = {
  put: TYPE_PUT, del: TYPE_DEL, touch: TYPE_TOUCH, flush: TYPE_FLUSH, flushAt: TYPE_FLUSH_AT,
};

/** Writes a latin1 key (at most 250 chars): a JS loop beats a call into C++ at this size. */
function writeKey(buf: Buffer, key: string, at: number): number {
  for (let i = 0; i < key.length; i++) buf[at + i] = key.charCodeAt(i);
  return at + key.length;
}

/** Bytes encodeRecordInto writes for `effect`. */
export function recordBytes(effect: Effect): number {
  return record_header_bytes + payloadLength(effect);
}

/** Encodes one effect as a framed record, stamped with the time it was logged. */
export function encodeRecord(effect: Effect, loggedAtMs = 0): Buffer {
  const buf = Buffer.allocUnsafe(recordBytes(effect));
  encodeRecordInto(effect, loggedAtMs, buf, 0);
  return buf;
}

/**
 * encodeRecord's bytes written at buf[at..] (the caller makes room for
 * recordBytes(effect)); returns where the record ends. The WAL writer encodes
 * a batch into one buffer this way: no Buffer per record, no concatenation.
 */
export function encodeRecordInto(effect: Effect, loggedAtMs: number, buf: Buffer, at: number): number {
  writeU64(buf, effect.seq, at + 8);
  buf[at + 16] = typeOf[effect.kind];
  writeU64(buf, loggedAtMs, at + 17);
  const p = at + record_header_bytes;
  let end = p;
  switch (effect.kind) {
    case 'put': {
      buf[p] = effect.key.length & 0xff;
      buf[p + 1] = effect.key.length >>> 8;
      const fields = writeKey(buf, effect.key, p + 2);
      writeU32(buf, effect.flags >>> 0, fields);
      writeU64(buf, effect.expiresAtMs, fields + 4);
      writeU64(buf, effect.cas, fields + 12);
      copyValue(effect.value, buf, fields + 20);
      end = fields + 20 + effect.value.length;
      break;
    }
    case 'del':
      end = writeKey(buf, effect.key, p);
      break;
    case 'touch':
      writeU64(buf, effect.expiresAtMs, p);
      end = writeKey(buf, effect.key, p + 8);
      break;
    case 'flush':
      break;
    case 'flushAt':
      writeU64(buf, effect.atMs, p);
      end = p + 8;
      break;
  }
  // The payload length is where the payload ended (recordBytes computed the same for the caller's room).
  writeU32(buf, end - p, at);
  writeU32(buf, crc32Of(buf, at + 8, end), at + 4);
  return end;
}

function writeU32(buf: Buffer, value: number, offset: number): void {
  buf[offset] = value & 0xff;
  buf[offset + 1] = (value >>> 8) & 0xff;
  buf[offset + 2] = (value >>> 16) & 0xff;
  buf[offset + 3] = value >>> 24;
}

/** A value's bytes at dst[at..] (small values: a JS loop beats a call into C++). */
function copyValue(value: Buffer, dst: Buffer, at: number): void {
  if (value.length > 64) {
    value.copy(dst, at);
    return;
  }
  for (let i = 0; i < value.length; i++) dst[at + i] = value[i]!;
}

export type DecodeOutcome =
  | { ok: true; effect: Effect; size: number; loggedAtMs: number }
  | { ok: false; reason: string };

/**
 * Where a decoded record's parts are in its buffer, and its numbers: what
 * readRecordAt fills in (one object reused for every record, so replay makes
 * no object per record). Fields a type does not have are left as they were.
 */
export interface RecordFields {
  /** Bytes the record takes (header and payload). */
  size: number;
  seq: number;
  type: number;
  loggedAtMs: number;
  /** put, del, touch: the key is buf[keyStart, keyEnd). */
  keyStart: number;
  keyEnd: number;
  /** put: the value is buf[valueStart, valueEnd). */
  valueStart: number;
  valueEnd: number;
  /** put. */
  flags: number;
  /** put, touch. */
  expiresAtMs: number;
  /** put. */
  cas: number;
  /** flushAt (0 = cancel). */
  atMs: number;
}

export function newRecordFields(): RecordFields {
  return { size: 0, seq: 0, type: 0, loggedAtMs: 0, keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0, flags: 0, expiresAtMs: 0, cas: 0, atMs: 0 };
}

/** Decodes the record at `offset` of `buf` (which ends where the file ends). A put's value is a view of `buf`: copy it to keep it. */
export function decodeRecordAt(buf: Buffer, offset: number): DecodeOutcome {
  const r = newRecordFields();
  const reason = readRecordAt(buf, offset, r);
  if (reason !== null) return { ok: false, reason };
  return { ok: true, effect: effectOf(buf, r), size: r.size, loggedAtMs: r.loggedAtMs };
}

/**
 * decodeRecordAt without building the effect: checks the record at `offset`
 * (the same checks, the same reasons) and fills `into`; null if it is valid,
 * else why not (then `into` is garbage).
 */
export function readRecordAt(buf: Buffer, offset: number, into: RecordFields): string | null {
  const left = buf.length - offset;
  if (left < record_header_bytes) return `short header (${left} bytes left)`;
  const length = readU32(buf, offset);
  if (length > record_payload_max_bytes) return `length ${length} is larger than any record`;
  if (length > left - record_header_bytes) return `length ${length} runs past the end of the file`;
  const end = offset + record_header_bytes + length;
  const crc = readU32(buf, offset + 4);
  if (crc32Of(buf, offset + 8, end) !== crc) return 'checksum mismatch';
  if (!readPayload(buf, offset, length, into)) return 'malformed payload';
  into.size = record_header_bytes + length;
  return null;
}

/** The payload's fields into `into`; false if it is malformed. */
function readPayload(buf: Buffer, offset: number, length: number, into: RecordFields): boolean {
  const type = buf[offset + 16]!;
  const p = offset + record_header_bytes;
  const end = p + length;
  if (!u64IsSafe(buf, offset + 8) || !u64IsSafe(buf, offset + 17)) return false;
  into.seq = readU64(buf, offset + 8);
  into.type = type;
  into.loggedAtMs = readU64(buf, offset + 17);
  switch (type) {
    case TYPE_PUT: {
      if (length < 22) return false;
      const fields = p + 2 + (buf[p]! | (buf[p + 1]! << 8));
      if (fields + 20 > end) return false;
      if (!u64IsSafe(buf, fields + 4) || !u64IsSafe(buf, fields + 12)) return false;
      into.keyStart = p + 2;
      into.keyEnd = fields;
      into.flags = readU32(buf, fields);
      into.expiresAtMs = readU64(buf, fields + 4);
      into.cas = readU64(buf, fields + 12);
      into.valueStart = fields + 20;
      into.valueEnd = end;
      return true;
    }
    case TYPE_DEL:
      into.keyStart = p;
      into.keyEnd = end;
      return true;
    case TYPE_TOUCH:
      if (length < 8 || !u64IsSafe(buf, p)) return false;
      into.expiresAtMs = readU64(buf, p);
      into.keyStart = p + 8;
      into.keyEnd = end;
      return true;
    case TYPE_FLUSH:
      return length === 0;
    case TYPE_FLUSH_AT:
      if (length !== 8 || !u64IsSafe(buf, p)) return false;
      into.atMs = readU64(buf, p);
      return true;
    default:
      return false;
  }
}

/** Below this many bytes a JS loop computes a CRC faster than a call into zlib (which needs a view made first). */
const crc_js_max_bytes = 1024;

/** CRC-32 tables for slicing by 8: table t maps a byte to its CRC contribution t bytes further on. */
const crc_tables = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  return t;
})();

/** zlib's CRC-32 of buf[start, end): slicing by 8 in JS for a short range (one record, usually), zlib for a long one. */
export function crc32Of(buf: Buffer, start: number, end: number): number {
  if (end - start > crc_js_max_bytes) return crc32(buf.subarray(start, end));
  const t = crc_tables;
  let c = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const x = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    c = t[1792 + (x & 0xff)]! ^ t[1536 + ((x >>> 8) & 0xff)]! ^ t[1280 + ((x >>> 16) & 0xff)]! ^ t[1024 + (x >>> 24)]!
      ^ t[768 + buf[i + 4]!]! ^ t[512 + buf[i + 5]!]! ^ t[256 + buf[i + 6]!]! ^ t[buf[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Whether a record readRecordAt filled in is a put (replay has a byte-level path for those). */
export function isPut(r: RecordFields): boolean {
  return r.type === TYPE_PUT;
}

/** The effect a record readRecordAt filled in stands for. A put's value is a view of `buf`. */
export function effectOf(buf: Buffer, r: RecordFields): Effect {
  const seq = r.seq;
  switch (r.type) {
    case TYPE_PUT:
      return {
        kind: 'put', seq,
        key: buf.toString('latin1', r.keyStart, r.keyEnd),
        flags: r.flags, expiresAtMs: r.expiresAtMs, cas: r.cas,
        value: buf.subarray(r.valueStart, r.valueEnd), // a view: the file buffer is read-only here, appliers copy what they keep
      };
    case TYPE_DEL:
      return { kind: 'del', seq, key: buf.toString('latin1', r.keyStart, r.keyEnd) };
    case TYPE_TOUCH:
      return { kind: 'touch', seq, expiresAtMs: r.expiresAtMs, key: buf.toString('latin1', r.keyStart, r.keyEnd) };
    case TYPE_FLUSH:
      return { kind: 'flush', seq };
    default:
      return { kind: 'flushAt', seq, atMs: r.atMs };
  }
}

/**
 * Cheap pre-check used when scanning for valid data after a bad record:
 * plausible type and a sequence after `afterSeq`, before paying for a CRC.
 */
export function looksLikeRecordAfter(buf: Buffer, offset: number, afterSeq: number): boolean {
  if (buf.length - offset < record_header_bytes) return false;
  const type = buf[offset + 16]!;
  if (type < TYPE_PUT || type > TYPE_FLUSH_AT) return false;
  const seq = readU64(buf, offset + 8);
  return seq > afterSeq && seq < afterSeq + 0x1_0000_0000;
}
