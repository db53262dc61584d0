// Shared pieces of the offline tools (tools.ts): an engine without memory
// limits, the snapshot source main.ts also builds, the data directory lock,
// and recovering the state exactly as the server does at start-up, either
// read-only (walkLog: nothing is changed) or as the server itself does
// (recoverWal: a torn tail is truncated).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../engine/engine.js';
import type { Disk } from '../wal/disk.js';
import { recoverWal, replayInto, type RecoveryReport } from '../wal/recovery.js';
import { segmentName } from '../wal/segments.js';
import { loadNewestSnapshot, type LoadedSnapshot, type SnapshotSource } from '../snapshot/index.js';
import { readSnapshotBytes, snapshotImage, validateSnapshot, type SnapshotRef } from '../snapshot/snapshot.js';
import { readItemLines } from '../snapshot/format.js';
import type { EngineImage } from '../engine/types.js';
import type { SnapshotHeader } from '../snapshot/format.js';
import { lockDataDir } from './lock.js';
import { walkLog, type LogWalk } from './wal-scan.js';

/** A tool failure with the exit code to report (see tools.ts for the codes). */
export class ToolError extends Error {
  constructor(readonly exitCode: number, message: string) { super(message); }
}

export const dataDirPaths = (dataDir: string) => ({ walDir: join(dataDir, 'wal'), snapshotDir: join(dataDir, 'snapshots') });

/** An engine that holds whatever recovery gives it: no eviction, no size limit (the tools never serve). */
export function offlineEngine(): Engine {
  return new Engine({ memoryLimitBytes: Number.MAX_SAFE_INTEGER, itemSizeMaxBytes: Number.MAX_SAFE_INTEGER, evictionsDisabled: true });
}

/** The same view of the engine that main.ts gives the snapshot writer. */
export function engineSource(engine: Engine, now: () => number): SnapshotSource {
  return {
    lastSeq: () => engine.lastSeq,
    nextCas: () => engine.casNext,
    pendingFlushAtMs: () => engine.flushPendingAtMs,
    scan: () => engine.scan(now),
  };
}

export type SnapshotCheck =
  | { ok: true; header: SnapshotHeader; items: number; buf: Buffer; itemsStart: number; itemsEnd: number }
  | { ok: false; reason: string };

/**
 * Full check of one snapshot file: what loadNewestSnapshot checks (trailer,
 * count, checksum, the header naming the file's sequence) plus every item
 * line parsing.
 */
export async function checkSnapshot(disk: Disk, ref: SnapshotRef): Promise<SnapshotCheck> {
  const buf = await readSnapshotBytes(disk, ref.path);
  const v = validateSnapshot(buf);
  if (!v.ok) return v;
  if (v.header.startSeq !== ref.startSeq) return { ok: false, reason: `the name says sequence ${ref.startSeq} but the header says ${v.header.startSeq}` };
  try {
    readItemLines(buf, v.itemsStart, v.itemsEnd, () => {}); // parse only
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  return { ok: true, header: v.header, items: v.items, buf, itemsStart: v.itemsStart, itemsEnd: v.itemsEnd };
}

/** A checked snapshot as the image Engine.restore takes. */
export function checkedImage(check: Extract<SnapshotCheck, { ok: true }>): EngineImage {
  return snapshotImage(check.buf, check.header, check.itemsStart, check.itemsEnd, check.items);
}

/** PID of a live process named in DATA_DIR/server.pid (the lock holder), if any. Reads only. */
export function runningServerPid(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, 'server.pid'), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
  // A killed process not yet reaped still answers kill(pid, 0) (lock.ts checks the same).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return null;
  } catch { /* not Linux, or gone */ }
  return pid;
}

export interface HeldLock {
  release(): Promise<void>;
  /** Set if proper-lockfile reports the lock compromised while the tool runs. */
  lost(): Error | null;
}

/** Takes the data directory lock like the server (DataDirLockedError names the holder's pid). */
export async function takeLock(dataDir: string): Promise<HeldLock> {
  let lost: Error | null = null;
  const release = await lockDataDir(dataDir, (err) => { lost = err; });
  return { release, lost: () => lost };
}

export interface RecoveredState {
  engine: Engine;
  snapshot: LoadedSnapshot | null;
}

/** Recovery without writing anything: newest valid snapshot + walkLog. Corruption is a ToolError (exit 2). */
export async function recoverReadOnly(disk: Disk, dataDir: string, note: (m: string) => void): Promise<RecoveredState & { walk: LogWalk }> {
  const { walDir, snapshotDir } = dataDirPaths(dataDir);
  const engine = offlineEngine();
  const snapshot = await loadNewestSnapshot(disk, snapshotDir, note, { restore: (image) => engine.restore(image) });
  const walk = await walkLog(disk, walDir, snapshot?.header.startSeq ?? 0, (effect) => engine.applyEffect(effect));
  const v = walk.verdict;
  if (v.status === 'corruption') {
    throw new ToolError(2, `WAL corruption in ${v.file} at offset ${v.offset}: ${v.reason} (the server refuses to start; see \`memcached-lite inspect\`, and --repair-wal)`);
  }
  if (v.status === 'torn-tail') note(`WAL torn tail in ${v.file} at offset ${v.offset} (${v.reason}): ignored, as the server would truncate it`);
  if (v.status === 'missing') note(`warning: ${v.reason} (the server would start without them)`);
  return { engine, snapshot, walk };
}

/** Recovery as the server does it (recoverWal may truncate a torn tail; WalCorruptionError without repair). */
export async function recoverLikeServer(disk: Disk, dataDir: string, repair: boolean, note: (m: string) => void): Promise<RecoveredState & { report: RecoveryReport }> {
  const { walDir, snapshotDir } = dataDirPaths(dataDir);
  await disk.mkdirp(walDir);
  const engine = offlineEngine();
  const snapshot = await loadNewestSnapshot(disk, snapshotDir, note, { restore: (image) => engine.restore(image) });
  const report = await recoverWal({
    disk, walDir, afterSeq: snapshot?.header.startSeq ?? 0, repair,
    ...replayInto(engine), log: note,
  });
  return { engine, snapshot, report };
}

/**
 * Starts the next segment now (what the server's roll at a snapshot does at
 * its next record), so the segment that was newest can be removed once a
 * snapshot covers it. Offline nothing else will append, so an empty segment
 * named lastSeq + 1 is exactly where the next server continues.
 */
export async function startNextSegment(disk: Disk, walDir: string, lastSeq: number, newestIsEmpty: boolean): Promise<string | null> {
  if (newestIsEmpty) return null;
  const path = join(walDir, segmentName(lastSeq + 1));
  if (await disk.exists(path)) return null;
  const file = await disk.open(path, true);
  try { await file.datasync(); } finally { await file.close(); }
  await disk.syncDir(walDir);
  return path;
}
