// An in-memory Disk (src/wal/disk.ts) that can crash, for crash-consistency
// property tests (DESIGN.md section 6; TigerBeetle's simulated storage).
//
// Model:
// - A file is an inode: `durable` bytes (what survives any crash) plus the
//   ordered list of operations (writes, truncates) done since its last
//   datasync. datasync folds them into `durable`. Reads see everything.
// - A directory holds `durable` entries (name -> inode) plus the ordered list
//   of entry operations (link = create/copy target, unlink, rename within the
//   directory) since its last syncDir; syncDir folds them in. datasync of a
//   file does NOT make its directory entry durable.
// - crash(rng) returns a new SimDisk holding one possible post-crash state:
//   per directory a random prefix of the pending entry operations survives
//   (a rename is one atomic operation); per surviving file a random prefix of
//   its pending operations survives, optionally followed by the next write
//   torn at an arbitrary byte, or by all remaining writes zero-filled (size
//   extended, data lost), or all remaining writes kept or lost 512-byte sector
//   by sector, independently (a disk persists sectors in any order before a
//   flush; the file size either grew or did not), so a lost sector can have
//   later data of the same unsynced writes after it. After crash() the old disk is dead: every further
//   operation on it never completes, so the abandoned system stops quietly.
// - Each operation takes 0-2 event-loop turns (seeded), then happens
//   atomically, so a test can crash between any two disk operations.
//   freezeAt(pred) stops the disk (operations hang) right after the first
//   operation matching pred, to crash at an exact point (e.g. after a rename,
//   before its syncDir).
// - Simplifications: directories themselves are always durable once made;
//   cross-directory rename is an unlink + link that may survive separately.
// - Faults (issue 4): failNext({ op, code, where, nth }) makes the nth next
//   matching write or datasync reject with an Error whose `code` is EIO or
//   ENOSPC, as node's fs errors do, without applying it (a failed write may
//   leave a random prefix of its bytes written but unsynced, as a real one
//   can; a failed datasync syncs nothing). fill() makes the disk full:
//   every write that grows a file fails with ENOSPC unless unlinking files
//   (the WAL's ballast, old snapshots, covered segments) has freed enough
//   bytes since; unfill() gives the space back. Faults and fullness belong
//   to this disk: the disk crash() returns has none (a reboot with space).

import { posix } from 'node:path';
import type { Disk, DiskFile } from '../../src/wal/disk.js';

export type Rng = () => number;

export { makeRng } from '../prng.js';


const int = (rng: Rng, maxInclusive: number) => Math.floor(rng() * (maxInclusive + 1));

type FileOp = { kind: 'write'; pos: number; data: Buffer } | { kind: 'truncate'; length: number };

class Inode {
  constructor(public durable: Buffer = Buffer.alloc(0), public pending: FileOp[] = []) {}
  /** What reads see: durable plus every pending operation. */
  current(): Buffer { return applyOps(this.durable, this.pending); }
  sync(): void { this.durable = this.current(); this.pending = []; }
}

function applyOps(base: Buffer, ops: FileOp[]): Buffer {
  let buf = base;
  for (const op of ops) {
    if (op.kind === 'truncate') {
      buf = op.length <= buf.length ? buf.subarray(0, op.length) : Buffer.concat([buf, Buffer.alloc(op.length - buf.length)]);
    } else {
      const end = op.pos + op.data.length;
      if (end > buf.length) buf = Buffer.concat([buf, Buffer.alloc(end - buf.length)]);
      else buf = Buffer.from(buf); // copy-on-write: `base` may be the durable buffer
      op.data.copy(buf, op.pos);
    }
  }
  return Buffer.from(buf);
}

type DirOp = { kind: 'link'; name: string; inode: Inode } | { kind: 'unlink'; name: string } | { kind: 'rename'; from: string; to: string };

class Dir {
  durable = new Map<string, Inode>();
  pending: DirOp[] = [];
  current(): Map<string, Inode> { return applyDirOps(this.durable, this.pending); }
  sync(): void { this.durable = this.current(); this.pending = []; }
}

function applyDirOps(base: Map<string, Inode>, ops: DirOp[]): Map<string, Inode> {
  const m = new Map(base);
  for (const op of ops) {
    if (op.kind === 'link') m.set(op.name, op.inode);
    else if (op.kind === 'unlink') m.delete(op.name);
    else {
      const inode = m.get(op.from);
      if (inode) { m.delete(op.from); m.set(op.to, inode); }
    }
  }
  return m;
}

function enoent(op: string, path: string): NodeJS.ErrnoException {
  const err = new Error(`ENOENT: no such file or directory, ${op} '${path}'`) as NodeJS.ErrnoException;
  err.code = 'ENOENT';
  return err;
}

export type FaultCode = 'EIO' | 'ENOSPC';
/** Which files a fault may hit: WAL segments (*.wal), snapshot files (also .tmp, .gz), the compressed fallback being written (*.gz.tmp), or any file. */
export type FaultWhere = 'wal' | 'snapshots' | 'compress' | 'any';
export interface FaultSpec {
  op: 'write' | 'datasync';
  code: FaultCode;
  where?: FaultWhere;
  /** Skip this many matching operations first (default 0: the next one fails). */
  nth?: number;
}
/** A fault that happened: which operation on which file, and with what error. */
/** zeros: a write of nothing but zero bytes (the WAL writer's preallocation, which may give up quietly on ENOSPC). */
export interface FiredFault { op: 'write' | 'datasync' | 'copyFile'; code: FaultCode; path: string; full: boolean; zeros?: boolean }

export function faultMatches(where: FaultWhere, path: string): boolean {
  if (where === 'wal') return path.includes('/wal/') && path.endsWith('.wal');
  if (where === 'snapshots') return path.includes('/snapshots/');
  if (where === 'compress') return path.endsWith('.gz.tmp');
  return true;
}

function fsError(code: FaultCode, op: string, path: string): NodeJS.ErrnoException {
  const text = code === 'EIO' ? 'i/o error' : 'no space left on device';
  const err = new Error(`${code}: ${text}, ${op} '${path}' (injected)`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = op;
  err.errno = code === 'EIO' ? -5 : -28;
  return err;
}

export interface SimDiskOptions {
  /** Probability that a write returns a short count (default 0.1). */
  shortWriteRate?: number;
}

export class SimDisk implements Disk {
  private readonly dirs = new Map<string, Dir>();
  /** Set by crash() or freezeAt(): every operation from now on never completes. */
  halted = false;
  private freezePred: ((op: string, path: string) => boolean) | null = null;
  /** Operation log ("op path"), handy when a failure needs explaining. */
  readonly trace: string[] = [];
  private faults: Array<Required<FaultSpec> & { seen: number }> = [];
  /** Every fault this disk has injected, in order. */
  readonly faultsFired: FiredFault[] = [];
  /** Called synchronously when a fault fires (before the operation rejects). */
  onFault: ((fault: FiredFault) => void) | null = null;
  /** Full disk: bytes that may still be added (freed by unlinks since fill()); null = unlimited. */
  private spaceLeft: number | null = null;

  constructor(private readonly rng: Rng, private readonly options: SimDiskOptions = {}) {
    this.dirs.set('/', new Dir());
  }

  /** Halts the disk right after the first operation for which pred(op, path) holds. */
  freezeAt(pred: (op: string, path: string) => boolean): void { this.freezePred = pred; }

  /** The nth next matching operation fails with spec.code (see the file comment). */
  failNext(spec: FaultSpec): void {
    this.faults.push({ where: 'any', nth: 0, ...spec, seen: 0 });
  }

  /** Drops faults armed with failNext that have not fired. */
  clearFaults(): void { this.faults = []; }

  /**
   * From now on the disk is full: growing a file fails with ENOSPC beyond what
   * unlinks free. Called again, it takes back what unlinks had freed (someone
   * else filled it): after the WAL released its ballast, that makes its next
   * write fail too, which the writer treats as fatal, by design.
   */
  fill(): void { this.spaceLeft = 0; }
  /** Space is available again. */
  unfill(): void { this.spaceLeft = null; }
  get full(): boolean { return this.spaceLeft !== null; }

  // ---- Disk ----------------------------------------------------------------

  async open(path: string, create: boolean): Promise<DiskFile> {
    await this.step();
    const { dir, name } = this.parent(path, 'open');
    let inode = dir.current().get(name);
    if (!inode) {
      if (!create) throw enoent('open', path);
      inode = new Inode();
      dir.pending.push({ kind: 'link', name, inode });
    }
    this.done('open', path);
    return this.handle(inode, path);
  }

  async readFile(path: string): Promise<Buffer> {
    await this.step();
    return this.lookup(path, 'open').current();
  }

  async readdir(path: string): Promise<string[]> {
    await this.step();
    const dir = this.dirs.get(norm(path));
    if (!dir) throw enoent('scandir', path);
    const names = [...dir.current().keys()];
    for (const d of this.dirs.keys()) if (d !== '/' && posix.dirname(d) === norm(path)) names.push(posix.basename(d));
    return names.sort();
  }

  async mkdirp(path: string): Promise<void> {
    await this.step();
    for (let p = norm(path); !this.dirs.has(p); p = posix.dirname(p)) this.dirs.set(p, new Dir());
    this.done('mkdirp', path);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.step();
    const a = this.parent(from, 'rename');
    const b = this.parent(to, 'rename');
    const inode = a.dir.current().get(a.name);
    if (!inode) throw enoent('rename', from);
    if (a.dir === b.dir) a.dir.pending.push({ kind: 'rename', from: a.name, to: b.name });
    else {
      b.dir.pending.push({ kind: 'link', name: b.name, inode });
      a.dir.pending.push({ kind: 'unlink', name: a.name });
    }
    this.done('rename', to);
  }

  async unlink(path: string): Promise<void> {
    await this.step();
    const { dir, name } = this.parent(path, 'unlink');
    const inode = dir.current().get(name);
    if (!inode) throw enoent('unlink', path);
    if (this.spaceLeft !== null) this.spaceLeft += inode.current().length;
    dir.pending.push({ kind: 'unlink', name });
    this.done('unlink', path);
  }

  async copyFile(from: string, to: string): Promise<void> {
    await this.step();
    const data = this.lookup(from, 'copyfile').current();
    const { dir, name } = this.parent(to, 'copyfile');
    this.takeSpace('copyFile', to, data.length);
    // The copy's bytes are unsynced data of a new inode, its name an unsynced entry.
    const inode = new Inode(Buffer.alloc(0), [{ kind: 'write', pos: 0, data }]);
    dir.pending.push({ kind: 'link', name, inode });
    this.done('copyFile', to);
  }

  async size(path: string): Promise<number> {
    await this.step();
    return this.lookup(path, 'stat').current().length;
  }

  async exists(path: string): Promise<boolean> {
    await this.step();
    if (this.dirs.has(norm(path))) return true;
    const dir = this.dirs.get(posix.dirname(norm(path)));
    return !!dir && dir.current().has(posix.basename(path));
  }

  async syncDir(path: string): Promise<void> {
    await this.step();
    const dir = this.dirs.get(norm(path));
    if (!dir) throw enoent('open', path);
    dir.sync();
    this.done('syncDir', path);
  }

  // ---- crash ---------------------------------------------------------------

  /**
   * One possible state after power loss now; this disk is dead afterwards.
   * `rng` picks what of the unsynced work survives.
   */
  crash(rng: Rng): SimDisk {
    this.halted = true;
    const next = new SimDisk(this.rng, this.options);
    const survivors = new Map<Inode, Inode>(); // hard links (none today) would share one fate
    for (const [path, dir] of this.dirs) {
      const kept = applyDirOps(dir.durable, dir.pending.slice(0, int(rng, dir.pending.length)));
      const out = new Dir();
      for (const [name, inode] of kept) {
        let after = survivors.get(inode);
        if (!after) survivors.set(inode, (after = new Inode(crashFile(inode, rng))));
        out.durable.set(name, after);
      }
      next.dirs.set(path, out);
    }
    return next;
  }

  /** An exact copy of the current state, everything durable (for "recover twice"). */
  clone(): SimDisk {
    const next = new SimDisk(this.rng, this.options);
    for (const [path, dir] of this.dirs) {
      const out = new Dir();
      for (const [name, inode] of dir.current()) out.durable.set(name, new Inode(inode.current()));
      next.dirs.set(path, out);
    }
    return next;
  }

  /** Every file and its current bytes (for comparing disks). */
  files(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (const [path, dir] of this.dirs) for (const [name, inode] of dir.current()) out.set(posix.join(path, name), inode.current());
    return out;
  }

  // ---- internals -------------------------------------------------------------

  /** Latency: 0-2 event-loop turns; a halted disk never answers. */
  private async step(): Promise<void> {
    if (this.halted) return new Promise<void>(() => {});
    const turns = int(this.rng, 2);
    for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
    if (this.halted) return new Promise<void>(() => {});
  }

  /** An armed fault for this operation, if it is its turn (it is then disarmed and recorded). */
  private fault(op: 'write' | 'datasync', path: string, zeros = false): NodeJS.ErrnoException | null {
    const i = this.faults.findIndex((f) => f.op === op && faultMatches(f.where, path) && f.seen++ === f.nth);
    if (i < 0) return null;
    const [f] = this.faults.splice(i, 1);
    return this.fire({ op, code: f!.code, path, full: false, zeros });
  }

  private fire(fault: FiredFault): NodeJS.ErrnoException {
    this.faultsFired.push(fault);
    this.trace.push(`FAULT ${fault.code} ${fault.op} ${fault.path}`);
    this.onFault?.(fault);
    return fsError(fault.code, fault.op, fault.path);
  }

  /** Full disk: throws ENOSPC unless `growth` bytes are left (then takes them). */
  private takeSpace(op: 'write' | 'copyFile', path: string, growth: number, zeros = false): void {
    if (this.spaceLeft === null || growth <= 0) return;
    if (growth > this.spaceLeft) throw this.fire({ op, code: 'ENOSPC', path, full: true, zeros });
    this.spaceLeft -= growth;
  }

  private done(op: string, path: string): void {
    this.trace.push(`${op} ${path}`);
    if (this.freezePred?.(op, path)) { this.halted = true; this.freezePred = null; }
  }

  private parent(path: string, op: string): { dir: Dir; name: string } {
    const dir = this.dirs.get(posix.dirname(norm(path)));
    if (!dir) throw enoent(op, path);
    return { dir, name: posix.basename(path) };
  }

  private lookup(path: string, op: string): Inode {
    const inode = this.parent(path, op).dir.current().get(posix.basename(path));
    if (!inode) throw enoent(op, path);
    return inode;
  }

  private handle(inode: Inode, path: string): DiskFile {
    const disk = this;
    let closed = false;
    const check = () => { if (closed) throw new Error(`EBADF: ${path} is closed`); };
    return {
      async write(buf, offset, length, position) {
        await disk.step();
        check();
        let n = length;
        if (length > 1 && disk.rng() < (disk.options.shortWriteRate ?? 0.1)) n = 1 + int(disk.rng, length - 2);
        const zeros = isZeros(buf.subarray(offset, offset + length));
        const fault = disk.fault('write', path, zeros);
        if (fault) {
          // EIO may leave part of the write in the page cache (never synced by the caller, who stops).
          if (fault.code === 'EIO' && n > 0 && disk.rng() < 0.5) {
            inode.pending.push({ kind: 'write', pos: position, data: Buffer.from(buf.subarray(offset, offset + int(disk.rng, n))) });
          }
          throw fault;
        }
        disk.takeSpace('write', path, position + n - inode.current().length, zeros);
        inode.pending.push({ kind: 'write', pos: position, data: Buffer.from(buf.subarray(offset, offset + n)) });
        disk.done('write', path);
        return n;
      },
      async datasync() {
        await disk.step();
        check();
        const fault = disk.fault('datasync', path);
        if (fault) throw fault;
        inode.sync();
        disk.done('datasync', path);
      },
      async truncate(length) {
        await disk.step();
        check();
        inode.pending.push({ kind: 'truncate', length });
        disk.done('truncate', path);
      },
      async close() {
        await disk.step();
        closed = true;
        disk.done('close', path);
      },
    };
  }
}

function norm(path: string): string { return posix.normalize(path).replace(/(.)\/$/, '$1'); }

const sector_bytes = 512;

function isZeros(data: Buffer): boolean {
  return data.length > 0 && data[0] === 0 && data.equals(Buffer.alloc(data.length));
}

/** Each 512-byte sector from `after` or from `before` (zeros past its end), at random; the length of either. */
function sectorMix(before: Buffer, after: Buffer, rng: Rng): Buffer {
  const length = rng() < 0.5 ? after.length : before.length;
  const out = Buffer.alloc(length);
  before.copy(out, 0, 0, Math.min(before.length, length));
  for (let s = 0; s < length; s += sector_bytes) {
    const end = Math.min(length, s + sector_bytes);
    if (after.subarray(s, end).equals(out.subarray(s, end))) continue;
    if (rng() < 0.5) after.copy(out, s, s, end);
  }
  return out;
}

/** A file's bytes after a crash: durable + some of its unsynced operations (see the file comment). */
function crashFile(inode: Inode, rng: Rng): Buffer {
  const ops = inode.pending;
  const k = int(rng, ops.length);
  const kept = ops.slice(0, k);
  const rest = ops.slice(k);
  const r = rng();
  const next = rest[0];
  if (r < 0.3 && next?.kind === 'write') {
    // The next write torn at an arbitrary byte.
    kept.push({ kind: 'write', pos: next.pos, data: next.data.subarray(0, int(rng, next.data.length)) });
  } else if (r < 0.5) {
    // Metadata (size) of the remaining writes reached the disk, their data did not.
    for (const op of rest) kept.push(op.kind === 'write' ? { kind: 'write', pos: op.pos, data: Buffer.alloc(op.data.length) } : op);
  } else if (r < 0.7 && rest.length > 0 && rest.every((op) => op.kind === 'write')) {
    return sectorMix(applyOps(inode.durable, kept), applyOps(inode.durable, ops), rng);
  }
  return applyOps(inode.durable, kept);
}
