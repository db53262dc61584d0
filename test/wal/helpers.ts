// Shared helpers for the WAL tests: temp directories, deterministic effects,
// reading a log back through recovery, and Disk wrappers that inject faults.

import { afterEach, beforeEach } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDisk, type Disk, type DiskFile } from '../../src/wal/disk.js';
import { encodeRecord } from '../../src/wal/codec.js';
import { recoverWal, type RecoveryReport } from '../../src/wal/recovery.js';
import { segmentName } from '../../src/wal/segments.js';
import type { Effect } from '../../src/engine/types.js';

export async function makeTempDir(): Promise<{ dir: string; walDir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mcl-wal-test-'));
  return { dir, walDir: join(dir, 'wal'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A fresh temp WAL directory for each test of the calling file, handed to `use` before the test and removed after it. */
export function useTempWalDir(use: (walDir: string) => void): void {
  let cleanup: () => Promise<void> = async () => {};
  beforeEach(async () => {
    const t = await makeTempDir();
    cleanup = t.cleanup;
    use(t.walDir);
  });
  afterEach(async () => { await cleanup(); });
}

/** Writes segment files directly: one per group, named by its first record (or by `names`); returns their paths. */
export async function writeSegments(walDir: string, groups: Effect[][], names?: number[]): Promise<string[]> {
  await nodeDisk.mkdirp(walDir);
  const paths: string[] = [];
  for (const [i, group] of groups.entries()) {
    const path = join(walDir, segmentName(names?.[i] ?? group[0]!.seq));
    await writeFile(path, Buffer.concat(group.map((e) => encodeRecord(e))));
    paths.push(path);
  }
  return paths;
}

/** A deterministic mix of every effect kind, so logs exercise all record types. */
export function effectFor(seq: number, valueBytes = 40): Effect {
  switch (seq % 5) {
    case 0: return { kind: 'del', seq, key: `key-${seq % 7}` };
    case 1:
    case 3: {
      const value = Buffer.alloc(valueBytes);
      for (let i = 0; i < valueBytes; i++) value[i] = (seq * 31 + i) & 0xff;
      return { kind: 'put', seq, key: `key-${seq % 7}\xe9`, value, flags: seq * 3, expiresAtMs: seq % 2 ? 0 : 1_700_000_000_000 + seq, cas: seq };
    }
    case 2: return { kind: 'touch', seq, key: `key-${seq % 7}`, expiresAtMs: 1_800_000_000_000 + seq };
    default: return seq % 2 ? { kind: 'flush', seq } : { kind: 'flushAt', seq, atMs: 1_900_000_000_000 + seq };
  }
}

export function effectsRange(fromSeq: number, toSeq: number, valueBytes?: number): Effect[] {
  const out: Effect[] = [];
  for (let s = fromSeq; s <= toSeq; s++) out.push(effectFor(s, valueBytes));
  return out;
}

export interface Recovered { report: RecoveryReport; records: Effect[]; logs: string[] }

export async function recover(walDir: string, opts: { repair?: boolean; afterSeq?: number; disk?: Disk } = {}): Promise<Recovered> {
  const records: Effect[] = [];
  const logs: string[] = [];
  const report = await recoverWal({
    disk: opts.disk ?? nodeDisk,
    walDir,
    afterSeq: opts.afterSeq ?? 0,
    repair: opts.repair ?? false,
    onRecord: (e) => records.push(e),
    log: (m) => logs.push(m),
  });
  return { report, records, logs };
}

export function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${message}`) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

/** Resolves when `cond` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface Gate { promise: Promise<void>; open: () => void }
export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((r) => { open = r; });
  return { promise, open };
}

/**
 * nodeDisk with hooks: every file operation is logged with the file's base
 * name, and tests can hold a write or datasync (beforeWrite/beforeSync) or
 * make it fail.
 */
export class HookedDisk implements Disk {
  readonly events: string[] = [];
  /** Concurrent writes+syncs on .wal files right now, and the most seen. */
  inFlight = 0;
  maxInFlight = 0;
  beforeWrite: ((path: string) => Promise<void> | void) | null = null;
  beforeSync: ((path: string) => Promise<void> | void) | null = null;

  constructor(private readonly inner: Disk = nodeDisk) {}

  async open(path: string, create: boolean): Promise<DiskFile> {
    const file = await this.inner.open(path, create);
    const name = path.slice(path.lastIndexOf('/') + 1);
    const isWal = name.endsWith('.wal');
    const disk = this;
    const track = async <T>(op: () => Promise<T>): Promise<T> => {
      if (!isWal) return op();
      disk.inFlight++;
      disk.maxInFlight = Math.max(disk.maxInFlight, disk.inFlight);
      try { return await op(); } finally { disk.inFlight--; }
    };
    return {
      async write(buf, offset, length, position) {
        return track(async () => {
          if (disk.beforeWrite) await disk.beforeWrite(path);
          const n = await file.write(buf, offset, length, position);
          disk.events.push(`write ${name} ${n}`);
          return n;
        });
      },
      async datasync() {
        return track(async () => {
          if (disk.beforeSync) await disk.beforeSync(path);
          await file.datasync();
          disk.events.push(`datasync ${name}`);
        });
      },
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
  }
  readFile(path: string) { return this.inner.readFile(path); }
  readdir(path: string) { return this.inner.readdir(path); }
  mkdirp(path: string) { return this.inner.mkdirp(path); }
  rename(from: string, to: string) { return this.inner.rename(from, to); }
  unlink(path: string) { this.events.push(`unlink ${path.slice(path.lastIndexOf('/') + 1)}`); return this.inner.unlink(path); }
  copyFile(from: string, to: string) { return this.inner.copyFile(from, to); }
  size(path: string) { return this.inner.size(path); }
  exists(path: string) { return this.inner.exists(path); }
  syncDir(path: string) { return this.inner.syncDir(path); }
}

/**
 * nodeDisk on a volume of `capacityBytes`: a write that would grow the files
 * past it writes what fits (a short count) and then fails with ENOSPC, as a
 * real file system does. Deleting or truncating a file gives its space back;
 * raising `capacityBytes` is "space returns". Only files created or opened
 * through this disk are counted.
 */
export class FullableDisk implements Disk {
  private readonly sizes = new Map<string, number>();
  enospcCount = 0;

  constructor(public capacityBytes: number, private readonly inner: Disk = nodeDisk) {}

  get usedBytes(): number {
    let used = 0;
    for (const s of this.sizes.values()) used += s;
    return used;
  }

  async open(path: string, create: boolean): Promise<DiskFile> {
    const existed = await this.inner.exists(path);
    const file = await this.inner.open(path, create);
    if (!this.sizes.has(path)) this.sizes.set(path, existed ? await this.inner.size(path) : 0);
    const disk = this;
    return {
      async write(buf, offset, length, position) {
        const size = disk.sizes.get(path) ?? 0;
        const free = disk.capacityBytes - disk.usedBytes;
        const growth = Math.max(0, position + length - size);
        let n = length;
        if (growth > free) {
          n = Math.max(0, size + free - position);
          if (n <= 0) { disk.enospcCount++; throw errnoError('ENOSPC', 'no space left on device (simulated)'); }
        }
        const written = await file.write(buf, offset, n, position);
        disk.sizes.set(path, Math.max(disk.sizes.get(path) ?? 0, position + written));
        return written;
      },
      datasync: () => file.datasync(),
      async truncate(length) {
        await file.truncate(length);
        disk.sizes.set(path, length);
      },
      close: () => file.close(),
    };
  }
  readFile(path: string) { return this.inner.readFile(path); }
  readdir(path: string) { return this.inner.readdir(path); }
  mkdirp(path: string) { return this.inner.mkdirp(path); }
  rename(from: string, to: string) { return this.inner.rename(from, to); }
  async unlink(path: string) {
    await this.inner.unlink(path);
    this.sizes.delete(path);
  }
  copyFile(from: string, to: string) { return this.inner.copyFile(from, to); }
  size(path: string) { return this.inner.size(path); }
  exists(path: string) { return this.inner.exists(path); }
  syncDir(path: string) { return this.inner.syncDir(path); }
}
