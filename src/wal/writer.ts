// The WAL writer: group commit over segment files.
//
// - append() encodes a record into the pending batch (one buffer per batch,
//   two used in turn: one filling, one being written) and returns at once.
//   Everything appended in one event-loop turn forms one batch; a batch is
//   one write (plus one fdatasync in `always` mode). At most one write/sync
//   is in flight; the next batch fills meanwhile and starts when it ends.
// - ackedSeq is the position replies may reflect: fsynced in `always` mode,
//   written to the OS (so it survives kill -9) in `everysec` and `no` modes.
//   `everysec` also fsyncs once a second; `no` leaves syncing to the OS.
// - A failed write (EIO) or fsync is fatal: after a failed fsync the page
//   cache state is unknown, so onFatal must stop the process.
// - Disk full: a ballast file (wal/reserve) holds space for what is applied
//   but not yet written. On ENOSPC the ballast is deleted, the in-flight
//   batch completes, and acceptingWrites turns false until the ballast can be
//   written again (retried every second). Callers refuse new mutations while
//   it is false and keep un-durable bytes under the ballast via admission().
// - Preallocation: the segment runs ahead of its records in zeros, written
//   together with the batch that crosses the end (prealloc_step_bytes at a
//   time). Later batches overwrite blocks the file already has, so their
//   fdatasync flushes data alone instead of also committing a new file size
//   through the journal (about 0.2 ms instead of 0.3 on this machine's
//   ext4). Recovery reads zeros after the last record as the end of the log
//   (recovery.ts). A full disk just stops preallocation until space returns.
// - Segments roll at segmentSizeMaxBytes (default segment_size_max_bytes); an
//   older segment is always cut to its last record and fsynced whole before
//   its successor is created (recovery relies on it). close() cuts the
//   newest one too, so a cleanly stopped log holds no zeros.

import { join } from 'node:path';
import { encodeRecordInto, recordBytes } from './codec.js';
import type { Disk, DiskFile } from './disk.js';
import { segmentName, segment_size_max_bytes, type SegmentRef } from './segments.js';
import type { Effect } from '../engine/types.js';

export type FsyncMode = 'always' | 'everysec' | 'no';

export const ballast_file_name = 'reserve';
export const ballast_default_bytes = 16 * 1024 * 1024;
const ballast_retry_interval_ms = 1000;
/** Disk-full mode ends once this many reserve-sizes are free. */
const resume_free_factor = 2;
const everysec_interval_ms = 1000;
/** Batches up to this size are written in the event-loop thread (see Disk.writeNow); larger ones in the pool. */
const write_now_max_bytes = 256 * 1024;
/** Longest a batch waits for more records after it stops being empty (see schedule()). */
const gather_window_us = 300;
const batch_buffer_initial_bytes = 64 * 1024;
/** A batch buffer grown past this (a burst of large values) is dropped after its write, not kept as the spare. */
const batch_buffer_kept_max_bytes = 4 * 1024 * 1024;
/** Preallocation grows the segment by this much at a time. */
export const prealloc_step_bytes = 1024 * 1024;
let zeroStep: Buffer | null = null;

export interface WalWriterOptions {
  disk: Disk;
  walDir: string;
  mode: FsyncMode;
  /** Where recovery left off: the newest segment and its valid length, or null for an empty log. */
  tail: { segment: SegmentRef; sizeBytes: number } | null;
  /** Sequence of the last record in the log (0 if none). */
  lastSeq: number;
  /** Bytes in older segments (for wal_bytes). */
  olderSegmentsBytes: number;
  ballastBytes: number;
  /** Roll to a new segment once the current one reaches this size (tests use small values). */
  segmentSizeMaxBytes?: number;
  /** Preallocation step (default prealloc_step_bytes; the crash simulation uses a small one, so batches cross it often). */
  preallocStepBytes?: number;
  /** Clock for record timestamps (default Date.now). */
  now?: () => number;
  /** How often disk-full mode retries writing the ballast (default 1000 ms; the simulation uses a few ms). */
  ballastRetryIntervalMs?: number;
  onFatal: (err: Error) => void;
  log: (message: string) => void;
}

export interface WalStats {
  walBytes: number;
  walRecords: number;
  walFsyncs: number;
  walFsyncAvgUs: number;
  durableSeq: number;
}

export type Admission = 'ok' | 'wait' | 'full';

export class WalWriter {
  /** The batch filling: pendingRecords records in pending[0, pendingBytes). */
  private pending: Buffer = Buffer.allocUnsafe(batch_buffer_initial_bytes);
  private pendingBytes = 0;
  private pendingRecords = 0;
  /** The other batch buffer, free while no batch is being written (null: it is in flight). */
  private spare: Buffer | null = Buffer.allocUnsafe(batch_buffer_initial_bytes);
  private pendingLastSeq = 0;
  private pendingFirstSeq = 0;
  private inFlight = false;
  private inFlightBytes = 0;
  private scheduled = false;
  private gatherStartNs = 0n;
  private gatherSeenRecords = -1;
  private syncRequested = false;
  private closed = false;
  /** Set after a fatal I/O error: nothing more is written or acknowledged. */
  private failed = false;
  private idleWaiters: Array<() => void> = [];
  private writtenSeq: number;
  private syncedSeq: number;
  private segmentBytes: number;
  /** File length: segmentBytes of records, then preallocated zeros. */
  private allocatedBytes: number;
  /** Set when preallocating hit a full disk; cleared when the ballast is back. */
  private preallocPaused = false;
  private segmentPath: string;
  private ballastPresent = false;
  private restoringBallast = false;
  private rollRequested = false;
  private initialWalBytes = 0;
  private diskFull = false;
  private readonly listeners: Array<() => void> = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private drainWaiters: Array<() => void> = [];
  private totalWalBytes: number;
  private records = 0;
  private fsyncs = 0;
  private fsyncTotalUs = 0;

  private constructor(private readonly opts: WalWriterOptions, private file: DiskFile, segmentPath: string, segmentBytes: number) {
    this.writtenSeq = opts.lastSeq;
    this.syncedSeq = opts.lastSeq;
    this.segmentBytes = segmentBytes;
    this.allocatedBytes = segmentBytes;
    this.segmentPath = segmentPath;
    this.totalWalBytes = opts.olderSegmentsBytes + segmentBytes;
    this.initialWalBytes = this.totalWalBytes;
  }

  static async open(opts: WalWriterOptions): Promise<WalWriter> {
    await opts.disk.mkdirp(opts.walDir);
    let file: DiskFile;
    let path: string;
    let size: number;
    if (opts.tail) {
      path = opts.tail.segment.path;
      file = await opts.disk.open(path, false);
      size = opts.tail.sizeBytes;
    } else {
      path = join(opts.walDir, segmentName(opts.lastSeq + 1));
      file = await opts.disk.open(path, true);
      await opts.disk.syncDir(opts.walDir);
      size = 0;
    }
    const writer = new WalWriter(opts, file, path, size);
    await writer.restoreBallast();
    if (opts.mode === 'everysec') writer.timers.push(setInterval(() => writer.requestSync(), everysec_interval_ms));
    writer.timers.push(setInterval(() => { if (writer.diskFull) void writer.restoreBallast(); }, opts.ballastRetryIntervalMs ?? ballast_retry_interval_ms));
    for (const t of writer.timers) t.unref();
    return writer;
  }

  /** Queues one effect (its seq must follow the previous one). */
  append(effect: Effect): void {
    if (this.closed) throw new Error('WAL is closed');
    const size = recordBytes(effect);
    if (this.pendingBytes + size > this.pending.length) this.growPending(this.pendingBytes + size);
    this.pendingBytes = encodeRecordInto(effect, (this.opts.now ?? Date.now)(), this.pending, this.pendingBytes);
    if (this.pendingRecords++ === 0) this.pendingFirstSeq = effect.seq;
    this.pendingLastSeq = effect.seq;
    this.records++;
    this.schedule();
  }

  /** Highest sequence a reply may reflect (see the mode rules above). */
  get ackedSeq(): number {
    return this.opts.mode === 'always' ? this.syncedSeq : this.writtenSeq;
  }

  get lastAppendedSeq(): number {
    return this.pendingRecords ? this.pendingLastSeq : this.writtenSeq;
  }

  get acceptingWrites(): boolean { return !this.diskFull; }

  /** Whether a mutation may be applied now: 'full' = refuse (disk full), 'wait' = too much un-durable data. */
  admission(): Admission {
    if (this.diskFull) return 'full';
    if (this.pendingBytes + this.inFlightBytes >= this.opts.ballastBytes / 2) return 'wait';
    return 'ok';
  }

  /** Resolves once the un-durable backlog has shrunk enough for admission() to say 'ok' (or the disk is full). */
  whenAdmissible(): Promise<void> {
    if (this.admission() !== 'wait') return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Called after every advance of ackedSeq. */
  onAck(listener: () => void): void { this.listeners.push(listener); }

  /**
   * Starts a new segment with the next record (a snapshot asks for this at
   * its start, so the segments it covers can later be removed whole).
   */
  requestRoll(): void {
    this.rollRequested = true;
  }

  /** Resolves once every record through `seq` is written and fsynced, whatever the mode. */
  async syncThrough(seq: number): Promise<void> {
    while (this.writtenSeq < seq && !this.failed) {
      if (!this.inFlight && this.pendingRecords) void this.flush();
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    if (this.failed) throw new Error('the WAL failed');
    while (this.syncedSeq < seq) {
      if (this.inFlight) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
        continue;
      }
      this.inFlight = true;
      try {
        await this.sync(this.writtenSeq);
      } catch (err) {
        this.fail(err as Error);
        throw err;
      }
      this.afterIo();
    }
  }

  /** Bytes written to the log since this writer opened (the snapshot trigger compares it). */
  get bytesWrittenSinceOpen(): number {
    return this.totalWalBytes - this.initialWalBytes;
  }

  /** Call after removing older segments so wal_bytes stays the size on disk. */
  segmentsRemoved(bytes: number): void {
    this.totalWalBytes -= bytes;
    this.initialWalBytes -= bytes;
  }

  stats(): WalStats {
    return {
      walBytes: this.totalWalBytes,
      walRecords: this.records,
      walFsyncs: this.fsyncs,
      walFsyncAvgUs: this.fsyncs === 0 ? 0 : Math.round(this.fsyncTotalUs / this.fsyncs),
      durableSeq: this.ackedSeq,
    };
  }

  /** Writes and fsyncs everything appended, then closes the segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    while (!this.failed && (this.inFlight || this.pendingRecords)) {
      if (!this.inFlight) await this.flush();
      else await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    if (this.failed) {
      await this.file.close().catch(() => {});
      return;
    }
    try {
      if (this.syncedSeq < this.writtenSeq || this.opts.mode !== 'always') await this.sync(this.writtenSeq);
      await this.cutPreallocation();
      await this.file.close();
    } catch (err) {
      this.opts.onFatal(err as Error);
    }
  }

  /**
   * Starts a batch once it has stopped growing. Clients answered by the last
   * fsync send their next requests within microseconds; waiting event-loop
   * turns while the batch still grows (bounded by gather_window_us) lets them
   * join it, instead of splitting the clients into two groups that alternate
   * between the batch in flight and the one filling. A lone client costs one
   * extra loop turn.
   */
  private schedule(): void {
    if (this.scheduled || this.inFlight || this.failed) return;
    this.scheduled = true;
    this.gatherStartNs = process.hrtime.bigint();
    this.gatherSeenRecords = -1;
    setImmediate(this.gatherTick);
  }

  private readonly gatherTick = (): void => {
    const records = this.pendingRecords;
    const elapsedUs = Number(process.hrtime.bigint() - this.gatherStartNs) / 1000;
    if (records > this.gatherSeenRecords && elapsedUs < gather_window_us && !this.closed) {
      this.gatherSeenRecords = records;
      setImmediate(this.gatherTick);
      return;
    }
    this.scheduled = false;
    void this.flush();
  };

  private requestSync(): void {
    if (this.failed || this.syncedSeq >= this.writtenSeq) return;
    if (this.inFlight) { this.syncRequested = true; return; }
    this.inFlight = true;
    this.sync(this.writtenSeq)
      .then(() => this.afterIo(), (err) => this.fail(err as Error));
  }

  private async flush(): Promise<void> {
    if (this.failed || this.inFlight || this.pendingRecords === 0) return;
    this.inFlight = true;
    const buffer = this.pending;
    const batch = buffer.subarray(0, this.pendingBytes);
    const firstSeq = this.pendingFirstSeq;
    const lastSeq = this.pendingLastSeq;
    this.inFlightBytes = batch.length;
    this.pending = this.spare ?? Buffer.allocUnsafe(batch_buffer_initial_bytes);
    this.spare = null;
    this.pendingBytes = 0;
    this.pendingRecords = 0;
    try {
      const full = this.segmentBytes >= (this.opts.segmentSizeMaxBytes ?? segment_size_max_bytes);
      if (full || (this.rollRequested && this.segmentBytes > 0)) {
        this.rollRequested = false;
        await this.roll(firstSeq);
      }
      if (this.segmentBytes + batch.length > this.allocatedBytes) await this.preallocate(this.segmentBytes + batch.length);
      await this.writeAll(batch);
      this.spare = buffer.length > batch_buffer_kept_max_bytes ? null : buffer;
      this.writtenSeq = lastSeq;
      if (this.opts.mode === 'always' || this.syncRequested) {
        this.syncRequested = false;
        await this.sync(lastSeq);
      }
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.afterIo();
  }

  /** A write or sync failed: report it once, stop writing, and let close() return. */
  private fail(err: Error): void {
    if (!this.failed) this.opts.onFatal(err);
    this.failed = true;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private afterIo(): void {
    this.inFlight = false;
    this.inFlightBytes = 0;
    for (const listener of this.listeners) listener();
    const idle = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of idle) w();
    if (this.admission() !== 'wait' && this.drainWaiters.length) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
    if (this.pendingRecords) this.schedule();
  }

  private async sync(upToSeq: number): Promise<void> {
    const start = process.hrtime.bigint();
    await this.file.datasync();
    this.fsyncTotalUs += Number((process.hrtime.bigint() - start) / 1000n);
    this.fsyncs++;
    if (upToSeq > this.syncedSeq) this.syncedSeq = upToSeq;
  }

  private async writeAll(buf: Buffer): Promise<void> {
    let offset = 0;
    while (offset < buf.length) {
      let n: number;
      try {
        const length = buf.length - offset;
        n = this.file.writeNow && length <= write_now_max_bytes
          ? this.file.writeNow(buf, offset, length, this.segmentBytes)
          : await this.file.write(buf, offset, length, this.segmentBytes);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC' && this.ballastPresent) {
          await this.releaseBallast();
          continue;
        }
        throw err;
      }
      offset += n;
      this.segmentBytes += n;
      this.totalWalBytes += n;
      if (this.segmentBytes > this.allocatedBytes) this.allocatedBytes = this.segmentBytes;
    }
  }

  /** Makes the filling batch's buffer hold at least `bytes` (keeping what it has). */
  private growPending(bytes: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(bytes, this.pending.length * 2));
    this.pending.copy(bigger, 0, 0, this.pendingBytes);
    this.pending = bigger;
  }

  /** Extends the segment with zeros to past `end` (see the file comment); gives up quietly on a full disk. */
  private async preallocate(end: number): Promise<void> {
    if (this.preallocPaused) return;
    const step = this.opts.preallocStepBytes ?? prealloc_step_bytes;
    const target = (Math.floor(end / step) + 1) * step;
    if (!zeroStep || zeroStep.length < step) zeroStep = Buffer.alloc(step);
    try {
      while (this.allocatedBytes < target) {
        const length = Math.min(step, target - this.allocatedBytes);
        this.allocatedBytes += await this.file.write(zeroStep, 0, length, this.allocatedBytes);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      this.preallocPaused = true;
    }
  }

  /** Cuts the preallocated zeros, if any, off the segment (durably), so the file ends on its last record. */
  private async cutPreallocation(): Promise<void> {
    if (this.allocatedBytes <= this.segmentBytes) return;
    await this.file.truncate(this.segmentBytes);
    await this.file.datasync();
    this.allocatedBytes = this.segmentBytes;
  }

  /** Closes the full segment (fsynced whole) and starts the next at `firstSeq`. */
  private async roll(firstSeq: number): Promise<void> {
    await this.sync(this.writtenSeq);
    await this.cutPreallocation();
    await this.file.close();
    this.segmentPath = join(this.opts.walDir, segmentName(firstSeq));
    this.file = await this.withBallastFallback(() => this.opts.disk.open(this.segmentPath, true));
    this.segmentBytes = 0;
    this.allocatedBytes = 0;
    await this.opts.disk.syncDir(this.opts.walDir);
  }

  private async withBallastFallback<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC' || !this.ballastPresent) throw err;
      await this.releaseBallast();
      return op();
    }
  }

  private async releaseBallast(): Promise<void> {
    this.diskFull = true;
    this.ballastPresent = false;
    this.opts.log('disk full: refusing writes until space is available (reserve released to finish pending writes)');
    await this.opts.disk.unlink(join(this.opts.walDir, ballast_file_name)).catch(() => {});
  }

  /** Writes the ballast with real blocks; success ends disk-full mode. */
  private async restoreBallast(): Promise<void> {
    if (this.restoringBallast) return;
    this.restoringBallast = true;
    const path = join(this.opts.walDir, ballast_file_name);
    let file: DiskFile | null = null;
    try {
      if (!this.diskFull && (await this.opts.disk.exists(path)) && (await this.opts.disk.size(path)) === this.opts.ballastBytes) {
        this.ballastPresent = true;
        return;
      }
      // Resume only with room to spare: right after the reserve was given back
      // there is exactly its size free, and taking it again at once would just
      // refill the disk and flap between full and not.
      if (this.diskFull && this.opts.disk.freeBytes && (await this.opts.disk.freeBytes(this.opts.walDir)) < this.opts.ballastBytes * resume_free_factor) {
        return;
      }
      file = await this.opts.disk.open(path, true);
      const zeros = Buffer.alloc(Math.min(this.opts.ballastBytes, 1024 * 1024));
      for (let pos = 0; pos < this.opts.ballastBytes; pos += zeros.length) {
        const length = Math.min(zeros.length, this.opts.ballastBytes - pos);
        let done = 0;
        while (done < length) done += await file.write(zeros, done, length - done, pos + done);
      }
      await file.datasync();
      await file.close();
      file = null;
      this.ballastPresent = true;
      this.preallocPaused = false;
      if (this.diskFull) this.opts.log('disk space available again: accepting writes');
      this.diskFull = false;
    } catch (err) {
      if (file) await file.close().catch(() => {});
      await this.opts.disk.unlink(path).catch(() => {});
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') this.opts.log(`cannot write the WAL reserve file: ${(err as Error).message}`);
      if (!this.diskFull) this.opts.log('disk full: refusing writes until space is available');
      this.diskFull = true;
    } finally {
      this.restoringBallast = false;
    }
  }
}
