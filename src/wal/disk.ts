// The file-system surface the WAL (and later the snapshot code) uses. Production
// fills it with node:fs; crash tests fill it with a simulated disk that can drop
// or tear what was written but not synced. Keep it small: every method here is
// something a simulated disk must model.

import * as fsp from 'node:fs/promises';
import { constants, writeSync } from 'node:fs';

export interface DiskFile {
  /** Writes buf[offset, offset+length) at `position`; may write less (returns the count). */
  write(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /**
   * The same, done at once in the calling thread (optional). A small write
   * into the page cache takes microseconds, less than a thread-pool round trip.
   */
  writeNow?(buf: Buffer, offset: number, length: number, position: number): number;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** A file opened for reading at chosen positions. */
export interface DiskReader {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into into[offset..]; returns the count (0 at the end). */
  read(into: Buffer, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export interface Disk {
  /** Ranged reads of a large file without holding it all in memory (optional: callers fall back to readFile). */
  openReader?(path: string): Promise<DiskReader>;
  /** Opens for reading and writing, creating the file if `create`. */
  open(path: string, create: boolean): Promise<DiskFile>;
  readFile(path: string): Promise<Buffer>;
  readdir(path: string): Promise<string[]>;
  mkdirp(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  copyFile(from: string, to: string): Promise<void>;
  size(path: string): Promise<number>;
  exists(path: string): Promise<boolean>;
  /** fsync of a directory, so creations, renames and deletions in it are durable. */
  syncDir(path: string): Promise<void>;
  /** Bytes available to us on the file system holding `path` (optional: simulated disks may omit it). */
  freeBytes?(path: string): Promise<number>;
}

class NodeFile implements DiskFile {
  constructor(private readonly handle: fsp.FileHandle) {}
  async write(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    const { bytesWritten } = await this.handle.write(buf, offset, length, position);
    return bytesWritten;
  }
  writeNow(buf: Buffer, offset: number, length: number, position: number): number {
    return writeSync(this.handle.fd, buf, offset, length, position);
  }
  datasync(): Promise<void> { return this.handle.datasync(); }
  truncate(length: number): Promise<void> { return this.handle.truncate(length); }
  close(): Promise<void> { return this.handle.close(); }
}

export const nodeDisk: Disk = {
  async open(path, create) {
    const flags = constants.O_RDWR | (create ? constants.O_CREAT : 0);
    return new NodeFile(await fsp.open(path, flags, 0o644));
  },
  async openReader(path) {
    const handle = await fsp.open(path, 'r');
    const { size } = await handle.stat();
    return {
      size,
      read: async (into, offset, length, position) => (await handle.read(into, offset, length, position)).bytesRead,
      close: () => handle.close(),
    };
  },
  readFile: (path) => fsp.readFile(path),
  readdir: (path) => fsp.readdir(path),
  async mkdirp(path) { await fsp.mkdir(path, { recursive: true }); },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  copyFile: (from, to) => fsp.copyFile(from, to),
  async size(path) { return (await fsp.stat(path)).size; },
  async exists(path) {
    try { await fsp.access(path); return true; } catch { return false; }
  },
  async freeBytes(path) {
    const s = await fsp.statfs(path);
    return s.bavail * s.bsize;
  },
  async syncDir(path) {
    const handle = await fsp.open(path, constants.O_RDONLY);
    try { await handle.sync(); } finally { await handle.close(); }
  },
};
