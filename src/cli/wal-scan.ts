// Read-only WAL reading for the offline tools (inspect, dump, replay).
//
// walkLog() follows src/wal/recovery.ts's decision table step for step, but
// never writes: where recoverWal would truncate a torn tail it stops reading
// there, and where it would refuse to start it reports the corruption. It
// answers what the server would do with the log at its next start:
//
//   clean        the log ends on a record boundary (in the newest segment
//                possibly followed by preallocated zeros)
//   torn-tail    a bad record at the end of the newest segment that a lost
//                write explains (see classifyBadRecord): the server
//                truncates it and starts (recoverable automatically)
//   corruption   a bad record followed by valid data, or in an older segment
//                (zeros there too), or a segment whose name does not continue
//                the log: the server refuses to start without --repair-wal
//   missing      the first record after the snapshot is not the one right
//                after it (the segments holding the records between were
//                deleted): the server would start without them
//
// scanSegment() reads one segment on its own (stats, first damage) and is
// what replay uses to merge segments from several directories.

import { decodeRecordAt } from '../wal/codec.js';
// recovery.ts's rule for telling a torn tail from corruption, shared so inspect agrees with start-up.
import { classifyBadRecord, isAllZero } from '../wal/recovery.js';
import type { Disk } from '../wal/disk.js';
import { listSegments, type SegmentRef } from '../wal/segments.js';
import type { Effect } from '../engine/types.js';

export interface SegmentScan {
  ref: SegmentRef;
  bytes: number;
  /** Valid records from the start of the segment up to the first bad one. */
  records: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** The first record that does not decode or does not follow its predecessor (null: the segment is whole). */
  bad: { offset: number; reason: string } | null;
  /** Zero bytes after the last record (the writer's preallocated space); 0 when the file ends on a record. */
  preallocatedBytes: number;
}

export type LogVerdict =
  | { status: 'clean' }
  | { status: 'torn-tail' | 'corruption' | 'missing'; file: string; offset: number; reason: string };

export interface LogWalk {
  segments: SegmentScan[];
  verdict: LogVerdict;
  /** The sequence recovery would reach (afterSeq when the log adds nothing). */
  lastSeq: number;
  /** Records after afterSeq that recovery would apply. */
  recordsApplied: number;
}

/** Reads the segment's records from its start; `onRecord` sees each valid one in order. */
export function scanSegment(ref: SegmentRef, buf: Buffer, onRecord?: (effect: Effect) => void): SegmentScan {
  const scan: SegmentScan = { ref, bytes: buf.length, records: 0, firstSeq: null, lastSeq: null, bad: null, preallocatedBytes: 0 };
  let expected = ref.firstSeq;
  let offset = 0;
  while (offset < buf.length) {
    const d = decodeRecordAt(buf, offset);
    if (!d.ok && isAllZero(buf, offset, buf.length)) { scan.preallocatedBytes = buf.length - offset; break; }
    if (!d.ok) { scan.bad = { offset, reason: d.reason }; break; }
    if (d.effect.seq !== expected) {
      scan.bad = { offset, reason: `sequence ${d.effect.seq} where ${expected} was expected` };
      break;
    }
    onRecord?.(d.effect);
    scan.records++;
    scan.firstSeq ??= d.effect.seq;
    scan.lastSeq = d.effect.seq;
    expected = d.effect.seq + 1;
    offset += d.size;
  }
  return scan;
}

/** Segments of walDir, or none when the directory does not exist. */
export async function listSegmentsIfAny(disk: Disk, walDir: string): Promise<SegmentRef[]> {
  if (!(await disk.exists(walDir))) return [];
  return listSegments(disk, walDir);
}

/**
 * What recovery would make of walDir after a snapshot ending at afterSeq,
 * without changing a byte. `onRecord` receives the records recovery would
 * apply (those after afterSeq, up to any damage).
 */
export async function walkLog(disk: Disk, walDir: string, afterSeq: number, onRecord?: (effect: Effect) => void): Promise<LogWalk> {
  const refs = await listSegmentsIfAny(disk, walDir);
  const segments: SegmentScan[] = [];
  let verdict: LogVerdict = { status: 'clean' };
  let lastSeq: number | null = null;
  let applied = 0;
  let firstApplied: { seq: number; file: string } | null = null;
  let stopped = false;
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i]!;
    const buf = await disk.readFile(ref.path);
    if (stopped) {
      // Recovery never reads past the damage; describe the rest anyway.
      segments.push(scanSegment(ref, buf));
      continue;
    }
    let nameBad: string | null = null;
    if (lastSeq !== null && ref.firstSeq !== lastSeq + 1) {
      // Same rule as recoverWal: a jump forward is fine when the snapshot covers what it skips.
      if (!(ref.firstSeq > lastSeq + 1 && ref.firstSeq <= afterSeq + 1)) {
        nameBad = `segment name says it starts at ${ref.firstSeq}, the log continues at ${lastSeq + 1}`;
      }
    }
    const scan: SegmentScan = nameBad ? scanSegment(ref, buf) : scanSegment(ref, buf, (effect) => {
      if (effect.seq <= afterSeq) return;
      firstApplied ??= { seq: effect.seq, file: ref.path };
      applied++;
      onRecord?.(effect);
    });
    segments.push(scan);
    if (!nameBad && scan.lastSeq !== null) lastSeq = scan.lastSeq;
    const isNewest = i === refs.length - 1;
    let bad = nameBad ? { offset: 0, reason: nameBad } : scan.bad;
    if (!bad && scan.preallocatedBytes > 0 && !isNewest) {
      bad = { offset: scan.bytes - scan.preallocatedBytes, reason: 'zeros after the last record of an older segment' };
    }
    const kind = bad ? classifyBadRecord(buf, bad.offset, lastSeq ?? ref.firstSeq - 1, isNewest) : 'end';
    if (bad && kind !== 'end') {
      verdict = { status: kind === 'torn' ? 'torn-tail' : 'corruption', file: ref.path, offset: bad.offset, reason: bad.reason };
      stopped = true;
    }
  }
  const first = firstApplied as { seq: number; file: string } | null;
  if (verdict.status !== 'corruption' && first && first.seq > afterSeq + 1) {
    verdict = {
      status: 'missing', file: first.file, offset: 0,
      reason: `the log resumes at sequence ${first.seq} but the snapshot ends at ${afterSeq}: records ${afterSeq + 1}..${first.seq - 1} are in no file`,
    };
  }
  return { segments, verdict, lastSeq: Math.max(afterSeq, lastSeq ?? 0), recordsApplied: applied };
}

