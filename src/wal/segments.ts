// WAL segment naming: DATA_DIR/wal/<first-seq>.wal, the sequence zero-padded to
// 20 digits so lexical order is numeric order. A segment holds consecutive
// records starting at <first-seq>; the next segment starts where it ends.

import { join } from 'node:path';
import type { Disk } from './disk.js';

export const segment_name_digits = 20;
/** A segment is closed and a new one started once it passes this size. */
export const segment_size_max_bytes = 64 * 1024 * 1024;

export interface SegmentRef { firstSeq: number; path: string; name: string }

export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(segment_name_digits, '0')}.wal`;
}

const segmentPattern = /^(\d{20})\.wal$/;

/** Segments of a WAL directory, oldest first. */
export async function listSegments(disk: Disk, walDir: string): Promise<SegmentRef[]> {
  const names = await disk.readdir(walDir);
  const segments: SegmentRef[] = [];
  for (const name of names) {
    const m = segmentPattern.exec(name);
    if (m) segments.push({ firstSeq: Number(m[1]), name, path: join(walDir, name) });
  }
  segments.sort((a, b) => a.firstSeq - b.firstSeq);
  return segments;
}

/**
 * Removes (or moves to `archiveDir`) every segment whose records are all at
 * or below `throughSeq`. The newest segment is never touched: it is the one
 * being appended to. Resolves to the bytes removed from walDir.
 */
export async function removeCoveredSegments(disk: Disk, walDir: string, throughSeq: number, archiveDir?: string): Promise<number> {
  const segments = await listSegments(disk, walDir);
  let removed = 0;
  for (let i = 0; i + 1 < segments.length; i++) {
    const lastSeqInSegment = segments[i + 1]!.firstSeq - 1;
    if (lastSeqInSegment > throughSeq) break;
    const segment = segments[i]!;
    const bytes = await disk.size(segment.path);
    if (archiveDir) {
      await disk.mkdirp(archiveDir);
      const copy = join(archiveDir, segment.name);
      await disk.copyFile(segment.path, copy);
      const file = await disk.open(copy, false);
      try { await file.datasync(); } finally { await file.close(); }
      await disk.syncDir(archiveDir);
    }
    await disk.unlink(segment.path);
    removed += bytes;
  }
  if (removed) await disk.syncDir(walDir);
  return removed;
}
