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

import { crc32 } from 'node:zlib';

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

/** Running checksum over item lines (as written, "\n" included). */
export function chainChecksum(previous: number, line: string): number {
  return crc32(Buffer.from(line, 'utf8'), previous);
}

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
  return { key: o.k, value: Buffer.from(o.v, 'base64'), flags: o.f, expiresAtMs: o.e, cas: o.c };
}

export function parseTrailer(line: string): SnapshotTrailer | null {
  let o: Record<string, unknown>;
  try { o = JSON.parse(line) as Record<string, unknown>; } catch { return null; }
  if (o.trailer !== true || !isInt(o.items) || !isInt(o.crc32)) return null;
  if (o.endSeq !== undefined && !isInt(o.endSeq)) return null;
  return o as unknown as SnapshotTrailer;
}

export const snapshot_file_pattern = /^(\d{20})\.jsonl$/;

export function snapshotName(startSeq: number): string {
  return `${String(startSeq).padStart(20, '0')}.jsonl`;
}
