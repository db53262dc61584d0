// Writing and loading snapshots (format.ts has the layout).
//
// Writing: the source's item scan is stepped in ~0.25 ms slices with a yield
// to the event loop between them, so serving goes on; the snapshot is fuzzy
// from its start sequence S. Lines are encoded straight into a chunk Buffer
// and the checksum is chained over whole chunks (the same CRC as line by
// line). Before the file is made visible, the caller's `beforeCommit(E)` must
// make the WAL durable through E, the newest sequence the snapshot may
// reflect: otherwise a snapshot could hold a write whose log record (and
// acknowledgement) never happened. Replacement is durable: write
// <name>.tmp, fsync, rename, fsync the directory; on any error the temp file
// is removed and nothing else changes.
//
// Loading: the newest file that validates (header, trailer, item count and
// checksum) wins; invalid ones are reported and skipped, so a damaged newest
// snapshot falls back to the previous one (and the longer WAL after it).
// Files are streamed in chunks (memory stays small); at start-up a candidate
// is restored in one pass while its checksum and count are checked, and
// replaced by the next candidate if it proves bad at its end. A <seq>.jsonl.gz
// file (the fallback, compress.ts) is gunzipped whole when it is read. Item
// lines as this writer lays them out are read by a byte-level fast path
// (format.ts: readItemLines); any other valid JSON line goes through JSON.parse.

import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, gunzip } from 'node:zlib';
import type { Disk, DiskReader } from '../wal/disk.js';
import type { EngineImage, ItemScan, ItemVisitor } from '../engine/types.js';
import {
  encodeHeader, encodeTrailer, ItemLineWriter, parseHeader, parseTrailer, readItemLines,
  snapshot_file_pattern, snapshotName, type SnapshotHeader, type SnapshotItem, type SnapshotTrailer,
} from './format.js';

/**
 * Encoding runs in slices of about this many ms, with a yield to the event
 * loop between them: requests wait at most about one slice for the snapshot.
 */
const slice_budget_ms = 0.25;
/** Slots visited between two looks at the clock. */
const slots_per_step = 64;
const gunzipAsync = promisify(gunzip);
const write_chunk_bytes = 1024 * 1024;

/** What a snapshot reads from the running engine. */
export interface SnapshotSource {
  lastSeq(): number;
  nextCas(): number;
  pendingFlushAtMs(): number;
  /** A walk over the live items (Engine.scan); the writer always closes it. */
  scan(): ItemScan;
}

/** An ItemScan over a key list taken now, looking each key up when reached (for sources without slots). */
export function keyListScan(keys: readonly string[], item: (key: string) => SnapshotItem | undefined): ItemScan {
  let at = 0;
  return {
    step(max: number, visit: ItemVisitor): boolean {
      const end = Math.min(keys.length, at + max);
      for (; at < end; at++) {
        const it = item(keys[at]!);
        if (!it) continue;
        const key = Buffer.from(it.key, 'latin1');
        visit(key, 0, key.length, it.value, 0, it.value.length, it.flags, it.expiresAtMs, it.cas);
      }
      return at < keys.length;
    },
    close() { at = keys.length; },
  };
}

export interface WriteOptions {
  disk: Disk;
  dir: string;
  source: SnapshotSource;
  serverVersion: string;
  now(): number;
  /** Make the WAL durable through `endSeq` (see the file comment). */
  beforeCommit(endSeq: number): Promise<void>;
}

/** A snapshot file; `compressed` for <seq>.jsonl.gz (a fallback kept gzipped; see compactor.ts). */
export interface SnapshotRef { startSeq: number; path: string; name: string; compressed?: boolean }

export async function listSnapshots(disk: Disk, dir: string): Promise<SnapshotRef[]> {
  if (!(await disk.exists(dir))) return [];
  const refs: SnapshotRef[] = [];
  for (const name of await disk.readdir(dir)) {
    const m = snapshot_file_pattern.exec(name);
    if (m) refs.push({ startSeq: Number(m[1]), name, path: join(dir, name), compressed: m[2] !== undefined });
  }
  // Oldest first; of two files for one sequence (a crash between compressing and
  // removing the original), the plain one sorts last, so it is tried first.
  return refs.sort((a, b) => a.startSeq - b.startSeq || Number(b.compressed) - Number(a.compressed));
}

/** Writes a snapshot of `source`; resolves to its ref and item count. */
export async function writeSnapshot(opts: WriteOptions): Promise<SnapshotRef & { items: number }> {
  const { disk, dir, source } = opts;
  await disk.mkdirp(dir);
  const startSeq = source.lastSeq();
  const name = snapshotName(startSeq);
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  const file = await disk.open(tmp, true);
  const lines = new ItemLineWriter();
  let position = 0;
  let checksum = 0;
  const writeOut = async (bytes: Buffer) => {
    let done = 0;
    while (done < bytes.length) done += await file.write(bytes, done, bytes.length - done, position + done);
    position += bytes.length;
  };
  const flushItems = async () => {
    const bytes = lines.take();
    checksum = crc32(bytes, checksum);
    await writeOut(bytes);
  };
  const scan = source.scan();
  try {
    await file.truncate(0);
    await writeOut(Buffer.from(encodeHeader({
      startSeq, nextCas: source.nextCas(), pendingFlushAtMs: source.pendingFlushAtMs(),
      createdAt: new Date(opts.now()).toISOString(), serverVersion: opts.serverVersion,
    }), 'utf8'));
    const add = lines.visitor;
    for (let more = true; more;) {
      const sliceStart = performance.now();
      do more = scan.step(slots_per_step, add);
      while (more && lines.bytes < write_chunk_bytes && performance.now() - sliceStart < slice_budget_ms);
      if (lines.bytes >= write_chunk_bytes) await flushItems();
      if (more) await new Promise((r) => setImmediate(r));
    }
    scan.close();
    await flushItems();
    const endSeq = source.lastSeq();
    await opts.beforeCommit(endSeq);
    await writeOut(Buffer.from(encodeTrailer(lines.count, checksum, endSeq), 'utf8'));
    await file.datasync();
    await file.close();
    await disk.rename(tmp, path);
    await disk.syncDir(dir);
    return { startSeq, path, name, items: lines.count };
  } catch (err) {
    scan.close();
    await file.close().catch(() => {});
    await disk.unlink(tmp).catch(() => {});
    throw err;
  }
}

export type Validation =
  | { ok: true; header: SnapshotHeader; items: number; itemsStart: number; itemsEnd: number }
  | { ok: false; reason: string };

type Frame =
  | { ok: true; header: SnapshotHeader; trailer: SnapshotTrailer; itemsStart: number; itemsEnd: number }
  | { ok: false; reason: string };

/**
 * Header and trailer lines of a snapshot file of `size` bytes, given its
 * first bytes (`head`) and its last ones (`tail`, starting at `tailStart`);
 * for a file in memory both are the whole file.
 */
function checkFrame(head: Buffer, tail: Buffer, tailStart: number, size: number): Frame {
  const headerEnd = head.indexOf(0x0a);
  if (headerEnd < 0) return { ok: false, reason: 'no header line' };
  const header = parseHeader(head.toString('utf8', 0, headerEnd));
  if (!header) return { ok: false, reason: 'bad header' };
  if (tail[tail.length - 1] !== 0x0a) return { ok: false, reason: 'no trailer (file ends mid-line)' };
  const lineStart = tail.lastIndexOf(0x0a, tail.length - 2) + 1;
  if (lineStart === 0 && tailStart > 0) return { ok: false, reason: 'no valid trailer (last line too long)' };
  const trailerStart = tailStart + lineStart;
  if (trailerStart <= headerEnd) return { ok: false, reason: 'no trailer' };
  const trailer = parseTrailer(tail.toString('utf8', lineStart, tail.length - 1));
  if (!trailer) return { ok: false, reason: 'no valid trailer' };
  if (trailer.endSeq !== undefined && trailer.endSeq < header.startSeq) return { ok: false, reason: 'trailer endSeq before the header startSeq' };
  if (size !== tailStart + tail.length) return { ok: false, reason: 'file changed while read' };
  return { ok: true, header, trailer, itemsStart: headerEnd + 1, itemsEnd: trailerStart };
}

interface BodyScan { crc: number; lines: number }

/** Checksum and line count of item bytes [from, to), continuing `scan`. */
function scanBody(buf: Buffer, from: number, to: number, scan: BodyScan): void {
  scan.crc = crc32(buf.subarray(from, to), scan.crc);
  for (let p = buf.indexOf(0x0a, from); p >= 0 && p < to; p = buf.indexOf(0x0a, p + 1)) scan.lines++;
}

function verdict(frame: Frame & { ok: true }, scan: BodyScan): Validation {
  if (scan.crc !== frame.trailer.crc32) return { ok: false, reason: 'checksum mismatch' };
  if (scan.lines !== frame.trailer.items) return { ok: false, reason: `trailer says ${frame.trailer.items} items, file has ${scan.lines}` };
  return { ok: true, header: frame.header, items: frame.trailer.items, itemsStart: frame.itemsStart, itemsEnd: frame.itemsEnd };
}

/** Checks header, trailer, count and checksum of a snapshot in memory, without building items. */
export function validateSnapshot(buf: Buffer): Validation {
  const frame = checkFrame(buf, buf, 0, buf.length);
  if (!frame.ok) return frame;
  const scan = { crc: 0, lines: 0 };
  scanBody(buf, frame.itemsStart, frame.itemsEnd, scan);
  return verdict(frame, scan);
}

/** Bytes read at a time when a snapshot file is streamed (validation, loading). */
const stream_chunk_bytes = 4 * 1024 * 1024;
/** How much of each end is read for the header and trailer lines (both are short). */
const edge_bytes = 64 * 1024;

/** The bytes of a snapshot file, decompressed if it is a .gz one. */
export async function readSnapshotBytes(disk: Disk, path: string): Promise<Buffer> {
  const raw = await disk.readFile(path);
  return path.endsWith('.gz') ? gunzipAsync(raw) : raw;
}

/**
 * The disk's ranged reader, or one over the whole file for disks without
 * ranged reads and for compressed snapshots (read only when recovery falls
 * back to one).
 */
export async function openReader(disk: Disk, path: string): Promise<DiskReader> {
  if (disk.openReader && !path.endsWith('.gz')) return disk.openReader(path);
  const whole = await readSnapshotBytes(disk, path);
  return {
    size: whole.length,
    read: async (into, offset, length, position) => whole.copy(into, offset, position, Math.min(whole.length, position + length)),
    close: async () => {},
  };
}

/** Exactly `length` bytes at `position` into into[offset..]; throws if the file is shorter. */
export async function readFully(reader: DiskReader, into: Buffer, offset: number, length: number, position: number): Promise<void> {
  for (let done = 0; done < length;) {
    const n = await reader.read(into, offset + done, length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

async function readSpan(reader: DiskReader, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  await readFully(reader, buf, 0, length, position);
  return buf;
}

/**
 * Checks a snapshot file as validateSnapshot does, streaming it in chunks
 * (memory stays small whatever the file's size, and the event loop runs
 * between chunks while a server is serving).
 */
export async function validateSnapshotFile(disk: Disk, path: string, chunkBytes = stream_chunk_bytes): Promise<Validation> {
  const reader = await openReader(disk, path);
  try {
    const frame = await readFrame(reader);
    if (!frame.ok) return frame;
    const scan = { crc: 0, lines: 0 };
    const chunk = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(1, frame.itemsEnd - frame.itemsStart)));
    for (let at = frame.itemsStart; at < frame.itemsEnd;) {
      const n = Math.min(chunk.length, frame.itemsEnd - at);
      await readFully(reader, chunk, 0, n, at);
      scanBody(chunk, 0, n, scan);
      at += n;
    }
    return verdict(frame, scan);
  } finally {
    await reader.close();
  }
}

/** Header and trailer of an open snapshot file (reads only its two ends). */
async function readFrame(reader: DiskReader): Promise<Frame> {
  const size = reader.size;
  const head = await readSpan(reader, 0, Math.min(size, edge_bytes));
  const tailStart = Math.max(0, size - edge_bytes);
  const tail = await readSpan(reader, tailStart, size - tailStart);
  return checkFrame(head, tail, tailStart, size);
}

/**
 * Visits the item lines of file bytes [from, to) (whole lines), reading them
 * in chunks into two buffers in turn: the next chunk is read while the
 * current one is parsed. A partial last line is carried to the front of the
 * other buffer before the read into it starts.
 */
async function streamItemLines(
  disk: Disk, path: string, from: number, to: number, visit: ItemVisitor, chunkBytes: number, scan?: BodyScan,
): Promise<void> {
  const reader = await openReader(disk, path);
  let reading: Promise<unknown> | null = null;
  try {
    const size = Math.min(chunkBytes, Math.max(1, to - from));
    const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
    let at = from;
    /** Starts reading the next chunk into buffers[k] after `carry` bytes; resolves to [bytes read, file position]. */
    const readInto = (k: number, carry: number): Promise<[number, number]> => {
      const n = Math.min(buffers[k]!.length - carry, to - at);
      const position = at;
      at += n;
      const done = readFully(reader, buffers[k]!, carry, n, position).then((): [number, number] => [n, position]);
      reading = done;
      return done;
    };
    let current = 0;
    let carry = 0;
    let next: Promise<[number, number]> | null = readInto(0, 0);
    while (next) {
      const [n, position] = await next;
      next = null;
      const work = buffers[current]!;
      const filled = carry + n;
      if (scan) scan.crc = crc32(work.subarray(carry, filled), scan.crc);
      const lineEnd = at === to ? filled : work.lastIndexOf(0x0a, filled - 1) + 1;
      const nextCarry = filled - lineEnd;
      if (at < to) {
        const other = 1 - current;
        // A line longer than a chunk: the other buffer must hold it and still have room to read into.
        if (buffers[other]!.length <= nextCarry) buffers[other] = Buffer.allocUnsafe(Math.max(2 * nextCarry, work.length));
        work.copy(buffers[other]!, 0, lineEnd, filled);
        next = readInto(other, nextCarry);
      }
      const lines = readItemLines(work, 0, lineEnd, visit, position - carry);
      if (scan) scan.lines += lines;
      carry = nextCarry;
      current = 1 - current;
    }
  } finally {
    await (reading as Promise<unknown> | null)?.catch(() => {});
    await reader.close();
  }
}

/**
 * A validated snapshot as an engine image: items are read when the engine
 * restores them, from `source` (the file in memory, or streamed from disk).
 */
export function snapshotImage(
  source: Buffer | { disk: Disk; path: string; chunkBytes?: number }, header: SnapshotHeader, itemsStart: number, itemsEnd: number, items: number,
): EngineImage {
  return {
    forEachItem: (visit) => Buffer.isBuffer(source)
      ? void readItemLines(source, itemsStart, itemsEnd, visit)
      : streamItemLines(source.disk, source.path, itemsStart, itemsEnd, visit, source.chunkBytes ?? stream_chunk_bytes),
    itemCount: items,
    nextCas: header.nextCas,
    lastSeq: header.startSeq,
    pendingFlushAtMs: header.pendingFlushAtMs,
  };
}

export interface LoadedSnapshot { ref: SnapshotRef; header: SnapshotHeader; image: EngineImage; items: number }

export interface LoadOptions {
  /** Bytes read at a time (tests use tiny ones). */
  chunkBytes?: number;
  /**
   * Restores each candidate as it is read, in one pass over the file: the
   * checksum and count are checked as the lines stream by, and a file found
   * bad at its end is rejected after its items went in (restore must replace
   * the whole state, so the next candidate, or an empty image if none is
   * left, overwrites them). Without it, files are validated in a first pass
   * and the returned image reads items lazily.
   */
  restore?: (image: EngineImage) => Promise<void>;
}

const empty_image: EngineImage = { forEachItem: () => {}, itemCount: 0, nextCas: 1, lastSeq: 0, pendingFlushAtMs: 0 };

/**
 * The newest valid snapshot, or null when there is none. Invalid files are
 * reported through `log` and skipped, so a damaged newest snapshot falls
 * back to the previous one.
 */
export async function loadNewestSnapshot(disk: Disk, dir: string, log: (m: string) => void, opts: LoadOptions = {}): Promise<LoadedSnapshot | null> {
  const chunkBytes = opts.chunkBytes ?? stream_chunk_bytes;
  const refs = await listSnapshots(disk, dir);
  let restoredSome = false;
  for (let i = refs.length - 1; i >= 0; i--) {
    const ref = refs[i]!;
    const unusable = (reason: string) => log(`snapshot ${ref.path} is not usable (${reason}); trying an older one`);
    let v: Validation;
    if (opts.restore) {
      const reader = await openReader(disk, ref.path);
      const frame = await readFrame(reader).finally(() => reader.close());
      v = frame.ok ? { ok: true, header: frame.header, items: frame.trailer.items, itemsStart: frame.itemsStart, itemsEnd: frame.itemsEnd } : frame;
      if (v.ok && v.header.startSeq === ref.startSeq) {
        restoredSome = true;
        try {
          await opts.restore(checkingImage(disk, ref.path, frame as Frame & { ok: true }, chunkBytes));
        } catch (err) {
          unusable((err as Error).message);
          continue;
        }
      }
    } else {
      v = await validateSnapshotFile(disk, ref.path, chunkBytes);
    }
    if (!v.ok) {
      unusable(v.reason);
      continue;
    }
    if (v.header.startSeq !== ref.startSeq) {
      log(`snapshot ${ref.path} names sequence ${ref.startSeq} but its header says ${v.header.startSeq}; trying an older one`);
      continue;
    }
    return { ref, header: v.header, image: snapshotImage({ disk, path: ref.path, chunkBytes }, v.header, v.itemsStart, v.itemsEnd, v.items), items: v.items };
  }
  if (restoredSome) await opts.restore!(empty_image);
  return null;
}

/** An image of a framed (not yet checked) snapshot whose forEachItem throws, at its end, if the checksum or count is wrong. */
function checkingImage(disk: Disk, path: string, frame: Frame & { ok: true }, chunkBytes: number): EngineImage {
  return {
    forEachItem: async (visit) => {
      const scan: BodyScan = { crc: 0, lines: 0 };
      await streamItemLines(disk, path, frame.itemsStart, frame.itemsEnd, visit, chunkBytes, scan);
      const v = verdict(frame, scan);
      if (!v.ok) throw new Error(v.reason);
    },
    itemCount: frame.trailer.items,
    nextCas: frame.header.nextCas,
    lastSeq: frame.header.startSeq,
    pendingFlushAtMs: frame.header.pendingFlushAtMs,
  };
}
