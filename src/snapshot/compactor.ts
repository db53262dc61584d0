// Compaction: take a snapshot, then drop what it made redundant.
//
// Order (each step durable before the next):
//   1. ask the WAL to start a new segment, note the start sequence S;
//   2. write the snapshot (fuzzy from S; the WAL is fsynced through the last
//      sequence the snapshot may show before the file is renamed into place);
//   3. read the new file back and validate it;
//   4. keep the newest two snapshots (the previous one stays until the new
//      one is proven loadable) and delete older ones;
//   5. remove WAL segments wholly at or below the older kept snapshot's start,
//      so recovery can always fall back to it with its log.
// A failure at any step leaves the files as they were (a temp file is removed)
// and is retried at the next trigger. One compaction runs at a time.

import { join } from 'node:path';
import type { Disk } from '../wal/disk.js';
import { listSnapshots, validateSnapshot, writeSnapshot, type SnapshotRef, type SnapshotSource } from './snapshot.js';

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

export const snapshots_kept = 2;

export class Compactor {
  private running: Promise<CompactionResult | null> | null = null;
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
      const check = validateSnapshot(await disk.readFile(written.path));
      if (!check.ok) throw new Error(`the snapshot just written does not validate: ${check.reason}`);
      const { removedSnapshots, oldestKept } = await this.pruneSnapshots();
      const removedWalBytes = await this.opts.log.removeThrough(oldestKept.startSeq);
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

  private async pruneSnapshots(): Promise<{ removedSnapshots: number; oldestKept: SnapshotRef }> {
    const { disk, snapshotDir } = this.opts;
    const refs = await listSnapshots(disk, snapshotDir);
    const doomed = refs.slice(0, Math.max(0, refs.length - snapshots_kept));
    for (const ref of doomed) await disk.unlink(ref.path);
    // A .tmp left by a crash mid-snapshot is garbage (only one compaction runs, and it has finished).
    for (const name of await disk.readdir(snapshotDir)) {
      if (name.endsWith('.tmp')) await disk.unlink(join(snapshotDir, name)).catch(() => {});
    }
    if (doomed.length) await disk.syncDir(snapshotDir);
    return { removedSnapshots: doomed.length, oldestKept: refs[refs.length - Math.min(refs.length, snapshots_kept)]! };
  }
}
