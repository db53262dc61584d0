// Reads the WAL at start-up and hands every record after the snapshot's start
// sequence to the caller, in order.
//
// The writer preallocates: the newest segment runs on past its last record
// in zeros (written and synced ahead of the records, so an fdatasync of a
// batch flushes data only, no file-size change). Recovery ends the log at the
// first record that does not decode (short, bad checksum, bad length, bad
// type, or a sequence that does not follow its predecessor), and decides
// what that record is (classifyBadRecord):
//
//   where            what the bytes from the bad record on are     outcome
//   ---------------  --------------------------------------------  ------------------------------
//   newest segment   all zeros (preallocated space, or a batch     end of the log: truncate there
//                    whose data never reached the disk)              silently (no record is lost
//                                                                    that was acknowledged)
//   newest segment   the record touches a 512-byte sector that is  torn tail: copy the segment to
//                    all zeros (a write lost in part: disks and      <name>.broken, truncate at the
//                    the page cache persist sectors in any order,    record, warn, continue
//                    so later records of the same unsynced batch
//                    may have landed), or nothing valid follows
//   newest segment   a valid record follows, no zero sector        corruption
//   any older segment                                              corruption
//   corruption                                                     refuse to start, naming file
//                                                                    and offset; with --repair-wal,
//                                                                    keep .broken copies, truncate
//                                                                    there, drop later segments
//
// Only writes not yet fsynced can be torn, and with --fsync always no reply
// reflects a record before its batch's fsync completed.
// Truncating at the bad record also removes what a torn batch left beyond
// it, so the zeros the writer lays down next are the only bytes past the
// end. Older segments were cut to their last record and fsynced whole before
// a newer one was created, so damage there is never a torn write.
// A segment whose name does not continue the log is bad at offset 0, unless
// the records it skips are all at or below afterSeq (in the snapshot).

import { decodeRecordAt, effectOf, isPut, looksLikeRecordAfter, newRecordFields, readRecordAt, record_header_bytes, type RecordFields } from './codec.js';
import type { Disk } from './disk.js';
import { listSegments, type SegmentRef } from './segments.js';
import type { Effect } from '../engine/types.js';

export class WalCorruptionError extends Error {
  constructor(readonly file: string, readonly offset: number, readonly reason: string) {
    super(`WAL corruption in ${file} at offset ${offset}: ${reason} (start with --repair-wal to truncate the log there)`);
  }
}

export interface RecoveryOptions {
  disk: Disk;
  walDir: string;
  /** Records with a sequence at or below this are already in the snapshot. */
  afterSeq: number;
  repair: boolean;
  onRecord: (effect: Effect) => void;
  /**
   * If given, put records go here instead of onRecord, as the record's
   * fields and its key and value's places in `buf` (views valid only during
   * the call): replay of the commonest record without building an Effect.
   */
  onPut?: (buf: Buffer, record: Readonly<RecordFields>) => void;
  log: (message: string) => void;
}

export interface RecoveryReport {
  /** Sequence of the last valid record (or afterSeq when the log adds nothing). */
  lastSeq: number;
  recordsApplied: number;
  segments: number;
  /** The newest segment after recovery, where appends continue (null: none yet). */
  tail: { segment: SegmentRef; sizeBytes: number } | null;
  tornTail: { file: string; offset: number; reason: string } | null;
  repaired: { file: string; offset: number; reason: string } | null;
}

interface BadRecord { offset: number; reason: string }

const progress_log_interval_ms = 1000;

export async function recoverWal(opts: RecoveryOptions): Promise<RecoveryReport> {
  const { disk, walDir } = opts;
  const segments = await listSegments(disk, walDir);
  const report: RecoveryReport = { lastSeq: opts.afterSeq, recordsApplied: 0, segments: segments.length, tail: null, tornTail: null, repaired: null };
  const totalBytes = await totalSize(disk, segments);
  const progress = progressLogger(opts.log, totalBytes);
  let lastSeq: number | null = null;
  let doneBytes = 0;

  const first = segments[0];
  if (first && first.firstSeq > opts.afterSeq + 1) {
    // Records afterSeq+1 .. firstSeq-1 are in neither the snapshot nor the log.
    const reason = `the log starts at sequence ${first.firstSeq} but the state on hand ends at ${opts.afterSeq}: records ${opts.afterSeq + 1}..${first.firstSeq - 1} are missing`;
    if (!opts.repair) throw new WalCorruptionError(first.path, 0, reason);
    opts.log(`WARNING: ${reason}; --repair-wal starts without them`);
    report.repaired = { file: first.path, offset: 0, reason };
  }
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const buf = await disk.readFile(segment.path);
    const isNewest = i === segments.length - 1;
    let expected: number = lastSeq === null ? segment.firstSeq : lastSeq + 1;
    let bad: BadRecord | null = null;
    if (lastSeq !== null && segment.firstSeq !== expected) {
      // A jump forward is fine when the snapshot covers everything skipped
      // (appends after a log that ended before afterSeq start a new segment).
      if (segment.firstSeq > expected && segment.firstSeq <= opts.afterSeq + 1) expected = segment.firstSeq;
      else bad = { offset: 0, reason: `segment name says it starts at ${segment.firstSeq}, the log continues at ${expected}` };
    }
    if (!bad) {
      const read = replayRecords(buf, expected, opts, report, (offset) => progress(doneBytes + offset, report.recordsApplied));
      if (read.lastSeq !== null) lastSeq = read.lastSeq;
      bad = read.bad;
    }
    doneBytes += buf.length;
    if (bad) {
      const kind = classifyBadRecord(buf, bad.offset, lastSeq ?? segment.firstSeq - 1, isNewest);
      const what = { file: segment.path, offset: bad.offset, reason: bad.reason };
      if (kind === 'torn') {
        report.tornTail = what;
        opts.log(`WAL torn tail in ${segment.path} at offset ${bad.offset} (${bad.reason}): truncating; the original is kept as ${await keepBrokenCopy(disk, segment.path)}`);
      } else if (kind === 'corrupt') {
        if (!opts.repair) throw new WalCorruptionError(segment.path, bad.offset, bad.reason);
        report.repaired = what;
        opts.log(`WAL corruption in ${segment.path} at offset ${bad.offset} (${bad.reason}): --repair-wal truncates the log there`);
        await keepBrokenCopy(disk, segment.path);
        for (const later of segments.slice(i + 1)) {
          opts.log(`--repair-wal: dropping later segment ${later.path} (kept as ${await keepBrokenCopy(disk, later.path)})`);
          await disk.unlink(later.path);
        }
      }
      if (bad.offset === 0 && lastSeq !== null && segment.firstSeq !== lastSeq + 1) {
        // Its name is wrong, so even emptied it could not take the next record:
        // remove it (the copy is kept) and continue in the previous segment.
        await disk.unlink(segment.path);
        await disk.syncDir(walDir);
      } else {
        await truncateDurably(disk, segment.path, bad.offset);
        report.tail = { segment, sizeBytes: bad.offset };
      }
      break;
    }
    report.tail = { segment, sizeBytes: buf.length };
  }
  if (lastSeq !== null && lastSeq > report.lastSeq) report.lastSeq = lastSeq;
  // The log may end before afterSeq (the snapshot holds records the log never
  // got to disk). Appending afterSeq + 1 to that segment would leave a gap
  // inside it, so the writer must start a new segment instead.
  if (report.tail && nextSeqOf(report.tail, lastSeq) !== report.lastSeq + 1) report.tail = null;
  return report;
}

/** What replay applies records to (the Engine is one): every kind as an Effect, and puts by bytes. */
export interface ReplayTarget {
  applyEffect(effect: Effect): void;
  replayPut(keyBytes: Buffer, keyStart: number, keyEnd: number, value: Buffer, start: number, end: number, flags: number, expiresAtMs: number, cas: number, seq: number): void;
}

/** onRecord and onPut that replay into `target`. */
export function replayInto(target: ReplayTarget): Pick<RecoveryOptions, 'onRecord' | 'onPut'> {
  return {
    onRecord: (effect) => target.applyEffect(effect),
    onPut: (buf, r) => target.replayPut(buf, r.keyStart, r.keyEnd, buf, r.valueStart, r.valueEnd, r.flags, r.expiresAtMs, r.cas, r.seq),
  };
}

/** How replayRecords left a segment: its last good record's sequence (null: none) and the record it stopped at (null: it read to the end). */
interface RecordsRead { lastSeq: number | null; bad: BadRecord | null }

/**
 * Reads buf's records in order from its start, the first expected to carry
 * sequence `expected` and each next one the sequence after, and hands those
 * after opts.afterSeq to onPut (a put, when given) or onRecord. Stops at the
 * end or at the first record that does not decode or does not follow.
 */
function replayRecords(buf: Buffer, expected: number, opts: RecoveryOptions, report: RecoveryReport, progress: (offset: number) => void): RecordsRead {
  const { onRecord, onPut, afterSeq } = opts;
  const record = newRecordFields();
  let lastSeq: number | null = null;
  for (let offset = 0; offset < buf.length; offset += record.size) {
    const reason = readRecordAt(buf, offset, record);
    if (reason !== null) return { lastSeq, bad: { offset, reason } };
    if (record.seq !== expected) return { lastSeq, bad: { offset, reason: `sequence ${record.seq} where ${expected} was expected` } };
    if (record.seq > afterSeq) {
      if (onPut && isPut(record)) onPut(buf, record);
      else onRecord(effectOf(buf, record));
      report.recordsApplied++;
    }
    lastSeq = record.seq;
    expected = lastSeq + 1;
    progress(offset + record.size);
  }
  return { lastSeq, bad: null };
}

/** The sequence the tail segment takes next: its first if empty, else after the last record read. */
function nextSeqOf(tail: { segment: SegmentRef; sizeBytes: number }, lastSeq: number | null): number {
  return tail.sizeBytes === 0 || lastSeq === null ? tail.segment.firstSeq : lastSeq + 1;
}

export type BadRecordKind = 'end' | 'torn' | 'corrupt';

/** What the record that does not decode at buf[badOffset] is (see the decision table); lastGoodSeq is the sequence before it. */
export function classifyBadRecord(buf: Buffer, badOffset: number, lastGoodSeq: number, isNewestSegment: boolean): BadRecordKind {
  if (!isNewestSegment) return 'corrupt';
  if (isAllZero(buf, badOffset, buf.length)) return 'end';
  if (touchesZeroSector(buf, badOffset)) return 'torn';
  return validRecordFollows(buf, badOffset, lastGoodSeq) ? 'corrupt' : 'torn';
}

/** True when some later offset holds a record that checks out: then the damage is not a torn tail. */
export function validRecordFollows(buf: Buffer, badOffset: number, lastGoodSeq: number): boolean {
  for (let p = badOffset + 1; p < buf.length; p++) {
    if (looksLikeRecordAfter(buf, p, lastGoodSeq) && decodeRecordAt(buf, p).ok) return true;
  }
  return false;
}

const sector_bytes = 512;

/**
 * Whether the record at `offset` (as far as its length field, if sane, says
 * it reaches) lies on a sector the disk never got. Such a sector holds what it
 * held before the batch: zeros (preallocated space), or, for the sector the
 * record starts in, the end of the previous synced records and then zeros.
 * So: the record's part of its first sector is all zero, or a later sector
 * it touches is all zero. (A written header is never all zero, since even a
 * flush record's zero length is followed by its checksum; a part of 1-3
 * bytes could be a length field's zero low bytes, but the record failed to
 * decode anyway, and the rule then errs towards a torn tail.)
 */
function touchesZeroSector(buf: Buffer, offset: number): boolean {
  const claimed = buf.length - offset >= 4 ? buf.readUInt32LE(offset) : 0;
  const end = Math.min(buf.length, offset + record_header_bytes + Math.min(claimed, buf.length));
  const firstSectorEnd = Math.min(buf.length, (Math.floor(offset / sector_bytes) + 1) * sector_bytes);
  if (isAllZero(buf, offset, firstSectorEnd)) return true;
  for (let s = firstSectorEnd; s < end; s += sector_bytes) {
    if (isAllZero(buf, s, Math.min(buf.length, s + sector_bytes))) return true;
  }
  return false;
}

/** Whether buf[from, to) holds only zero bytes (wal-scan reads preallocated space with it too). */
export function isAllZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

async function keepBrokenCopy(disk: Disk, path: string): Promise<string> {
  let target = `${path}.broken`;
  if (await disk.exists(target)) target = `${path}.${Date.now()}.broken`;
  await disk.copyFile(path, target);
  return target;
}

async function truncateDurably(disk: Disk, path: string, length: number): Promise<void> {
  const file = await disk.open(path, false);
  try {
    await file.truncate(length);
    await file.datasync();
  } finally {
    await file.close();
  }
}

async function totalSize(disk: Disk, segments: SegmentRef[]): Promise<number> {
  let total = 0;
  for (const s of segments) total += await disk.size(s.path);
  return total;
}

function progressLogger(log: (m: string) => void, totalBytes: number): (doneBytes: number, records: number) => void {
  let lastLogMs = Date.now();
  return (doneBytes, records) => {
    if ((records & 0x3ff) !== 0) return;
    const now = Date.now();
    if (now - lastLogMs < progress_log_interval_ms) return;
    lastLogMs = now;
    const percent = totalBytes === 0 ? 100 : Math.floor((doneBytes / totalBytes) * 100);
    log(`WAL replay: ${records} records (${percent}%)`);
  };
}
