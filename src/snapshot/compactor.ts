// Compaction: take a snapshot, then drop what it made redundant.
//
// Order (each step durable before the next):
//   1. ask the WAL to start a new segment, note the start sequence S;
//   2. write the snapshot (fuzzy from S; the WAL is fsynced through the last
//      sequence the snapshot may show before the file is renamed into place);
//   3. read the new file back and validate it;
//   4. keep the new snapshot and the newest older one that validates (the
//      previous one stays until the new one is proven loadable; a damaged
//      file is never the fallback) and delete the others;
//   5. remove WAL segments wholly at or below the older kept snapshot's start,
//      so recovery can always fall back to it with its log;
//   6. keep that fallback gzipped (compress.ts): it is read only if the new
//      snapshot is ever damaged, and stored plain it would make the data
//      directory more than twice the live data. A failure here leaves it plain.
// A failure at any step leaves the files as they were (a temp file is removed)
// and is retried at the next trigger. One compaction runs at a time.

import { join } from 'node:path';
import type { Disk } from '../wal/disk.js';
import { listSnapshots, validateSnapshotFile, writeSnapshot, type SnapshotRef, type SnapshotSource } from './snapshot.js';
import { compressSnapshot } from './compress.js';

export interface LogControl {
  /** The next record starts a new segment. */
  requestRoll(): void;
  /** The WAL is written and fsynced through seq. */
  syncThrough(seq: number): Promise<void>;
  /** Removes segments wholly at or below seq; resolves to bytes removed. */
  removeThrough(seq: number): Promise<number>;
}

export interface CompactorOptions {
  disk: Disk;
  snapshotDir: string;
  source: SnapshotSource;
  log: LogControl;
  serverVersion: string;
  now(): number;
  report(message: string): void;
}

export interface CompactionResult { snapshot: SnapshotRef; items: number; durationMs: number; removedWalBytes: number; removedSnapshots: number }

/** Read-back checks run in 1 MB steps: each checksums and counts in the event-loop thread (~1 ms). */
const verify_chunk_bytes = 1024 * 1024;

/** Snapshots left after a compaction: the new one and one fallback. */
export const snapshots_kept = 2;

export class Compactor {
  private running: Promise<CompactionResult | null> | null = null;
  /** Snapshot names this compactor has read back and found valid (saves re-reading the fallback). */
  private readonly validated = new Set<string>();
  lastResult: CompactionResult | null = null;

  constructor(private readonly opts: CompactorOptions) {}

  get busy(): boolean { return this.running !== null; }

  /** Runs a compaction unless one is running (then resolves with that one's result). */
  run(): Promise<CompactionResult | null> {
    this.running ??= this.compact().finally(() => { this.running = null; });
    return this.running;
  }

  private async compact(): Promise<CompactionResult | null> {
    const { disk, snapshotDir, source } = this.opts;
    const started = this.opts.now();
    try {
      this.opts.log.requestRoll();
      const written = await writeSnapshot({
        disk, dir: snapshotDir, source, serverVersion: this.opts.serverVersion, now: this.opts.now,
        beforeCommit: (endSeq) => this.opts.log.syncThrough(endSeq),
      });
      const check = await validateSnapshotFile(disk, written.path, verify_chunk_bytes);
      if (!check.ok) throw new Error(`the snapshot just written does not validate: ${check.reason}`);
      this.validated.add(written.name);
      const { removedSnapshots, oldestKept } = await this.pruneSnapshots(written);
      const removedWalBytes = await this.opts.log.removeThrough(oldestKept.startSeq);
      if (oldestKept !== written && !oldestKept.compressed) await this.compressFallback(oldestKept);
      const result = {
        snapshot: written, items: written.items, durationMs: this.opts.now() - started, removedWalBytes, removedSnapshots,
      };
      this.lastResult = result;
      this.opts.report(`snapshot ${written.name}: ${written.items} items in ${result.durationMs} ms; removed ${removedSnapshots} old snapshot(s) and ${removedWalBytes} WAL bytes`);
      return result;
    } catch (err) {
      this.opts.report(`snapshot failed (will retry at the next trigger): ${(err as Error).message}`);
      return null;
    }
  }

  private async compressFallback(ref: SnapshotRef): Promise<void> {
    try {
      const compressed = await compressSnapshot(this.opts.disk, ref);
      this.validated.delete(ref.name);
      this.validated.add(compressed.name);
    } catch (err) {
      this.opts.report(`could not compress the fallback snapshot ${ref.name} (kept as it is): ${(err as Error).message}`);
    }
  }

  /**
   * Keeps `newest` and the newest older snapshot that validates (recovery's
   * fallback); deletes every other older snapshot. Keeping a damaged file as
   * the fallback instead would delete the last good one and the log after it.
   */
  private async pruneSnapshots(newest: SnapshotRef): Promise<{ removedSnapshots: number; oldestKept: SnapshotRef }> {
    const { disk, snapshotDir } = this.opts;
    const older = (await listSnapshots(disk, snapshotDir)).filter((r) => r.startSeq < newest.startSeq);
    let fallback: SnapshotRef | null = null;
    for (let i = older.length - 1; i >= 0; i--) {
      const ref = older[i]!;
      if (this.validated.has(ref.name) || (await validateSnapshotFile(disk, ref.path, verify_chunk_bytes)).ok) {
        this.validated.add(ref.name);
        fallback = ref;
        break;
      }
    }
    const doomed = older.filter((r) => r !== fallback);
    for (const ref of doomed) {
      await disk.unlink(ref.path);
      this.validated.delete(ref.name);
    }
    // A .tmp left by a crash mid-snapshot is garbage (only one compaction runs, and it has finished).
    for (const name of await disk.readdir(snapshotDir)) {
      if (name.endsWith('.tmp')) await disk.unlink(join(snapshotDir, name)).catch(() => {});
    }
    if (doomed.length) await disk.syncDir(snapshotDir);
    return { removedSnapshots: doomed.length, oldestKept: fallback ?? newest };
  }
}
