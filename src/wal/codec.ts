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
  buf.writeUInt32LE(value % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * 0x1_0000_0000;
}

/** Whether the u64 at `offset` is at most 2^53 - 1, so readU64 returns it exactly (encodeRecord never writes more). */
function u64IsSafe(buf: Buffer, offset: number): boolean {
  return buf.readUInt32LE(offset + 4) <= 0x1f_ffff;
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

/** Encodes one effect as a framed record, stamped with the time it was logged. */
export function encodeRecord(effect: Effect, loggedAtMs = 0): Buffer {
  const length = payloadLength(effect);
  const buf = Buffer.allocUnsafe(record_header_bytes + length);
  buf.writeUInt32LE(length, 0);
  writeU64(buf, effect.seq, 8);
  buf[16] = typeOf[effect.kind];
  writeU64(buf, loggedAtMs, 17);
  let p = record_header_bytes;
  switch (effect.kind) {
    case 'put':
      buf.writeUInt16LE(effect.key.length, p);
      p += 2;
      p = writeKey(buf, effect.key, p);
      buf.writeUInt32LE(effect.flags >>> 0, p);
      writeU64(buf, effect.expiresAtMs, p + 4);
      writeU64(buf, effect.cas, p + 12);
      effect.value.copy(buf, p + 20);
      break;
    case 'del':
      buf.write(effect.key, p, 'latin1');
      break;
    case 'touch':
      writeU64(buf, effect.expiresAtMs, p);
      buf.write(effect.key, p + 8, 'latin1');
      break;
    case 'flush':
      break;
    case 'flushAt':
      writeU64(buf, effect.atMs, p);
      break;
  }
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
  return buf;
}

export type DecodeOutcome =
  | { ok: true; effect: Effect; size: number; loggedAtMs: number }
  | { ok: false; reason: string };

/** Decodes the record at `offset` of `buf` (which ends where the file ends). A put's value is a view of `buf`: copy it to keep it. */
export function decodeRecordAt(buf: Buffer, offset: number): DecodeOutcome {
  const left = buf.length - offset;
  if (left < record_header_bytes) return { ok: false, reason: `short header (${left} bytes left)` };
  const length = buf.readUInt32LE(offset);
  if (length > record_payload_max_bytes) return { ok: false, reason: `length ${length} is larger than any record` };
  if (length > left - record_header_bytes) return { ok: false, reason: `length ${length} runs past the end of the file` };
  const end = offset + record_header_bytes + length;
  const crc = buf.readUInt32LE(offset + 4);
  if (crc32(buf.subarray(offset + 8, end)) !== crc) return { ok: false, reason: 'checksum mismatch' };
  const effect = decodePayload(buf, offset, length);
  if (!effect) return { ok: false, reason: 'malformed payload' };
  return { ok: true, effect, size: record_header_bytes + length, loggedAtMs: readU64(buf, offset + 17) };
}

function decodePayload(buf: Buffer, offset: number, length: number): Effect | null {
  const seq = readU64(buf, offset + 8);
  const type = buf[offset + 16];
  const p = offset + record_header_bytes;
  const end = p + length;
  if (!u64IsSafe(buf, offset + 8) || !u64IsSafe(buf, offset + 17)) return null;
  switch (type) {
    case TYPE_PUT: {
      if (length < 22) return null;
      const keyLength = buf.readUInt16LE(p);
      const fields = p + 2 + keyLength;
      if (fields + 20 > end) return null;
      if (!u64IsSafe(buf, fields + 4) || !u64IsSafe(buf, fields + 12)) return null;
      return {
        kind: 'put', seq,
        key: buf.toString('latin1', p + 2, fields),
        flags: buf.readUInt32LE(fields),
        expiresAtMs: readU64(buf, fields + 4),
        cas: readU64(buf, fields + 12),
        value: buf.subarray(fields + 20, end), // a view: the file buffer is read-only here, appliers copy what they keep
      };
    }
    case TYPE_DEL:
      return { kind: 'del', seq, key: buf.toString('latin1', p, end) };
    case TYPE_TOUCH:
      if (length < 8 || !u64IsSafe(buf, p)) return null;
      return { kind: 'touch', seq, expiresAtMs: readU64(buf, p), key: buf.toString('latin1', p + 8, end) };
    case TYPE_FLUSH:
      return length === 0 ? { kind: 'flush', seq } : null;
    case TYPE_FLUSH_AT:
      return length === 8 && u64IsSafe(buf, p) ? { kind: 'flushAt', seq, atMs: readU64(buf, p) } : null;
    default:
      return null;
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
