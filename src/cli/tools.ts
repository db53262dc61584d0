// Offline recovery tools, run as `memcached-lite <tool> [options]` (main.ts
// dispatches here when its first argument names a tool):
//
//   inspect   verify every WAL record and snapshot and say what the server
//             would do at its next start (read-only: no lock, no writes)
//   compact   snapshot + log truncation with the server stopped
//   dump      every live item as JSON Lines (the snapshot item line format)
//   load      add the items of a dump to a data directory
//   replay    a new data directory holding the state as of WAL sequence N
//
// compact, dump and load take the data directory lock, so they refuse while
// a server runs (naming its pid). State is recovered exactly as the server
// recovers it: the newest valid snapshot, then the WAL after it. dump reads
// the log without changing it; compact and load recover with recoverWal, so
// a torn tail is truncated (as the next server start would do).
//
// Exit codes (inspect's follow redis-check-aof):
//   0  done; inspect: clean
//   1  refused or impossible (the lock is held, a bad dump line, NEW_DIR not
//      empty, sequence N cannot be rebuilt); inspect: torn tail, or a
//      snapshot the server skips (both recovered automatically at start)
//   2  WAL corruption: the server would refuse to start (see --repair-wal),
//      or WAL records missing between the snapshot and the log
//   3  usage or I/O error

import { config as loadDotenv } from 'dotenv';
import { existsSync, statSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { nodeDisk } from '../wal/disk.js';
import { decodeRecordAt } from '../wal/codec.js';
import { WalCorruptionError } from '../wal/recovery.js';
import { removeCoveredSegments } from '../wal/segments.js';
import { ballast_default_bytes, WalWriter } from '../wal/writer.js';
import { Compactor, listSnapshots, writeSnapshot } from '../snapshot/index.js';
import { encodeItem, snapshot_file_pattern, type SnapshotItem } from '../snapshot/format.js';
import { key_length_max } from '../engine/limits.js';
import type { Effect } from '../engine/types.js';
import { server_version } from '../net/stats.js';
import { DataDirLockedError } from './lock.js';
import {
  checkSnapshot, dataDirPaths, engineSource, recoverLikeServer, recoverReadOnly, runningServerPid, startNextSegment, takeLock,
  ToolError, type HeldLock,
} from './offline.js';
import { replayTo } from './replay.js';
import { listSegmentsIfAny, walkLog, type LogVerdict } from './wal-scan.js';
import { isToolName, type ToolName } from './tool-names.js';

export { isToolName, tool_names, type ToolName } from './tool-names.js';

export const toolUsage = `Usage: memcached-lite <tool> [--data-dir DIR] [options]

Offline tools for a data directory (the server itself is \`memcached-lite [options]\`):
  inspect [--json]             verify every WAL record and snapshot, list them, and say what
                               the server would do at start; changes nothing
  compact [--wal-archive A] [--repair-wal]
                               take a snapshot and drop the WAL segments it covers
  dump [--out FILE]            write every live item as JSON Lines, to stdout or FILE
  load FILE [--wal-archive A] [--repair-wal]
                               add the items of a dump (fresh CAS values; flags and expiry kept)
  replay --to-seq N | --to-time ISO --out NEW_DIR [--wal-archive A]
                               build a new data directory holding the state as of WAL sequence N

--data-dir defaults to DATA_DIR (environment or .env), then ./data. compact, dump and
load refuse while a server holds the data directory.
Exit codes: 0 done (inspect: clean); 1 refused or impossible (inspect: torn tail or a
skipped snapshot, both recovered automatically); 2 WAL corruption (the server would
refuse to start) or missing WAL records; 3 usage or I/O error.
`;

export interface ToolIo {
  /** Standard output (a dump goes here); awaited, so a large dump respects backpressure. */
  out(text: string): void | Promise<void>;
  /** Standard error: notes, warnings, errors. */
  err(text: string): void;
  env: Record<string, string | undefined>;
  now(): number;
}

class UsageError extends Error {}

const options_of: Record<ToolName, string[]> = {
  inspect: ['data-dir', 'json'],
  compact: ['data-dir', 'wal-archive', 'repair-wal'],
  dump: ['data-dir', 'out'],
  load: ['data-dir', 'wal-archive', 'repair-wal'],
  replay: ['data-dir', 'to-seq', 'to-time', 'out', 'wal-archive'],
};
const takes_value = new Set(['data-dir', 'wal-archive', 'out', 'to-seq', 'to-time']);
const positional_count: Record<ToolName, number> = { inspect: 0, compact: 0, dump: 0, load: 1, replay: 0 };

interface ToolArgs {
  dataDir: string;
  values: Map<string, string>;
  flags: Set<string>;
  positional: string[];
  help: boolean;
}

function parseToolArgs(tool: ToolName, argv: string[], env: Record<string, string | undefined>): ToolArgs {
  const a: ToolArgs = { dataDir: '', values: new Map(), flags: new Set(), positional: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') { a.help = true; continue; }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      if (!options_of[tool].includes(name)) throw new UsageError(`unknown option --${name}`);
      if (takes_value.has(name)) {
        const value = inline ?? argv[++i];
        if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
        a.values.set(name, value);
      } else {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
        a.flags.add(name);
      }
    } else if (arg.startsWith('-') && arg !== '-') {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      a.positional.push(arg);
    }
  }
  if (!a.help && a.positional.length !== positional_count[tool]) {
    throw new UsageError(positional_count[tool] ? `expected ${positional_count[tool]} file argument(s)` : `unexpected argument '${a.positional[0]}'`);
  }
  a.dataDir = resolve(a.values.get('data-dir') ?? (env.DATA_DIR || './data'));
  return a;
}

/** Runs one tool; resolves to its exit code (never throws). */
export async function runTool(argv: string[], io: ToolIo): Promise<number> {
  const tool = argv[0];
  if (!isToolName(tool)) {
    io.err(`memcached-lite: unknown tool '${tool}'\n${toolUsage}`);
    return 3;
  }
  const prefix = `memcached-lite ${tool}`;
  try {
    const a = parseToolArgs(tool, argv.slice(1), io.env);
    if (a.help) { await io.out(toolUsage); return 0; }
    switch (tool) {
      case 'inspect': return await inspect(a, io);
      case 'compact': return await compact(a, io);
      case 'dump': return await dump(a, io);
      case 'load': return await load(a, io);
      case 'replay': return await replay(a, io);
    }
  } catch (err) {
    if (err instanceof UsageError) { io.err(`${prefix}: ${err.message} (see memcached-lite ${tool} --help)\n`); return 3; }
    if (err instanceof ToolError) { io.err(`${prefix}: ${err.message}\n`); return err.exitCode; }
    if (err instanceof DataDirLockedError) { io.err(`${prefix}: refusing: ${err.message}; stop the server first\n`); return 1; }
    if (err instanceof WalCorruptionError) { io.err(`${prefix}: ${err.message}\n`); return 2; }
    io.err(`${prefix}: ${(err as Error).message ?? err}\n`);
    return 3;
  }
}

/** Entry point for bin/memcached-lite (via main.ts): process streams, .env, flushed stdout. */
export async function toolMain(argv: string[]): Promise<number> {
  loadDotenv({ quiet: true } as Parameters<typeof loadDotenv>[0]);
  const io: ToolIo = {
    out: (text) => new Promise<void>((res, rej) => {
      process.stdout.write(text, (err) => (err ? rej(err) : res()));
    }),
    err: (text) => { process.stderr.write(text); },
    env: process.env,
    now: () => Date.now(),
  };
  const code = await runTool(argv, io);
  await new Promise<void>((res) => { process.stderr.write('', () => res()); });
  return code;
}

// ---- helpers ---------------------------------------------------------------

function existingDataDir(dataDir: string): string {
  let isDir = false;
  try { isDir = statSync(dataDir).isDirectory(); } catch { /* missing */ }
  if (!isDir) throw new ToolError(3, `no data directory at ${dataDir}`);
  return dataDir;
}

function optionalDir(a: ToolArgs, name: string): string | undefined {
  const v = a.values.get(name);
  return v === undefined ? undefined : resolve(v);
}

interface Storage { segments: number; walBytes: number; snapshots: number; snapshotBytes: number }

async function storage(dataDir: string): Promise<Storage> {
  const { walDir, snapshotDir } = dataDirPaths(dataDir);
  const s: Storage = { segments: 0, walBytes: 0, snapshots: 0, snapshotBytes: 0 };
  for (const seg of await listSegmentsIfAny(nodeDisk, walDir)) { s.segments++; s.walBytes += await nodeDisk.size(seg.path); }
  for (const ref of await listSnapshots(nodeDisk, snapshotDir)) { s.snapshots++; s.snapshotBytes += await nodeDisk.size(ref.path); }
  return s;
}

const describeStorage = (s: Storage) => `WAL ${s.walBytes} bytes in ${s.segments} segment(s), ${s.snapshots} snapshot(s) of ${s.snapshotBytes} bytes`;

async function withLock<T>(dataDir: string, body: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await takeLock(dataDir);
  try {
    const result = await body(lock);
    const lost = lock.lost();
    if (lost) throw new ToolError(3, `lost the data directory lock while working (${lost.message}); check the directory with inspect`);
    return result;
  } finally {
    await lock.release().catch(() => {});
  }
}

// ---- inspect -----------------------------------------------------------------

interface SnapshotReport {
  name: string; path: string; bytes: number; valid: boolean; reason?: string;
  header?: { startSeq: number; nextCas: number; pendingFlushAtMs: number; createdAt: string; serverVersion: string }; items?: number;
}

async function inspect(a: ToolArgs, io: ToolIo): Promise<number> {
  const dataDir = existingDataDir(a.dataDir);
  const { walDir, snapshotDir } = dataDirPaths(dataDir);
  const serverPid = runningServerPid(dataDir);

  const snapshots: SnapshotReport[] = [];
  let chosen: SnapshotReport | null = null;
  for (const ref of await listSnapshots(nodeDisk, snapshotDir)) {
    const bytes = await nodeDisk.size(ref.path);
    const c = await checkSnapshot(nodeDisk, ref);
    const r: SnapshotReport = c.ok
      ? {
        name: ref.name, path: ref.path, bytes, valid: true, items: c.items,
        header: { startSeq: c.header.startSeq, nextCas: c.header.nextCas, pendingFlushAtMs: c.header.pendingFlushAtMs, createdAt: c.header.createdAt, serverVersion: c.header.serverVersion },
      }
      : { name: ref.name, path: ref.path, bytes, valid: false, reason: c.reason };
    snapshots.push(r);
    if (r.valid) chosen = r;
  }
  const afterSeq = chosen?.header!.startSeq ?? 0;
  const walk = await walkLog(nodeDisk, walDir, afterSeq);
  const otherFiles: Array<{ path: string; bytes: number }> = [];
  for (const [dir, pattern] of [[walDir, /^\d{20}\.wal$/], [snapshotDir, snapshot_file_pattern]] as const) {
    if (!existsSync(dir)) continue;
    for (const name of (await readdir(dir)).sort()) {
      if (!pattern.test(name)) otherFiles.push({ path: join(dir, name), bytes: await nodeDisk.size(join(dir, name)) });
    }
  }

  const v = walk.verdict;
  const unusable = snapshots.filter((s) => !s.valid);
  const verdictCode = v.status === 'clean' ? 0 : v.status === 'torn-tail' ? 1 : 2;
  const exitCode = Math.max(verdictCode, unusable.length ? 1 : 0);
  const warnings: string[] = unusable.map((s) => `snapshot ${s.name} is not usable (${s.reason}): the server skips it${s === snapshots[snapshots.length - 1] ? ' and falls back to an older one' : ''}`);
  if (serverPid !== null) warnings.push(`a server (pid ${serverPid}) holds this data directory: the newest segment may grow while it is read, so a torn tail there may just be a write in progress`);
  const walBytes = walk.segments.reduce((t, s) => t + s.bytes, 0);
  const snapshotBytes = snapshots.reduce((t, s) => t + s.bytes, 0);

  if (a.flags.has('json')) {
    const report = {
      dataDir, serverPid,
      wal: {
        segments: walk.segments.map((s) => ({ name: s.ref.name, path: s.ref.path, bytes: s.bytes, records: s.records, firstSeq: s.firstSeq, lastSeq: s.lastSeq, damage: s.bad, preallocatedBytes: s.preallocatedBytes })),
        totalBytes: walBytes, records: walk.segments.reduce((t, s) => t + s.records, 0),
      },
      snapshots: { files: snapshots, totalBytes: snapshotBytes },
      otherFiles,
      totalBytes: walBytes + snapshotBytes,
      recovery: { snapshot: chosen?.name ?? null, afterSeq, walRecords: walk.recordsApplied, lastSeq: walk.lastSeq },
      verdict: v, warnings, exitCode,
    };
    await io.out(`${JSON.stringify(report, null, 2)}\n`);
    return exitCode;
  }

  const rel = (p: string) => relative(dataDir, p);
  const lines: string[] = [`data directory ${dataDir}`, '', `WAL segments (${rel(walDir)}/):`];
  for (const s of walk.segments) {
    const seqs = s.firstSeq === null ? '(no records)' : `seq ${s.firstSeq}..${s.lastSeq}`;
    const damage = s.bad ? `; damaged at offset ${s.bad.offset}: ${s.bad.reason}` : '';
    const zeros = s.preallocatedBytes ? `; ${s.preallocatedBytes} bytes preallocated (zeros) after the last record` : '';
    lines.push(`  ${s.ref.name}  ${String(s.bytes).padStart(10)} bytes  ${String(s.records).padStart(8)} records  ${seqs}${damage}${zeros}`);
  }
  lines.push(`  ${walk.segments.length} segment(s), ${walBytes} bytes`, '', `snapshots (${rel(snapshotDir)}/):`);
  for (const s of snapshots) {
    const what = s.valid
      ? `valid, ${s.items} items; startSeq ${s.header!.startSeq}, nextCas ${s.header!.nextCas}, pendingFlushAtMs ${s.header!.pendingFlushAtMs}, createdAt ${s.header!.createdAt}, serverVersion ${s.header!.serverVersion}`
      : `NOT USABLE: ${s.reason}`;
    lines.push(`  ${s.name}  ${String(s.bytes).padStart(10)} bytes  ${what}`);
  }
  lines.push(`  ${snapshots.length} snapshot(s), ${snapshotBytes} bytes`);
  if (otherFiles.length) lines.push('', `other files: ${otherFiles.map((f) => `${rel(f.path)} (${f.bytes} bytes)`).join(', ')}`);
  lines.push('', `total: ${walBytes + snapshotBytes} bytes of WAL and snapshots`);
  const through = walk.recordsApplied ? ` (through sequence ${walk.lastSeq})` : '';
  lines.push(`recovery: ${chosen ? `snapshot ${chosen.name} (${chosen.items} items)` : 'no snapshot'}, then ${walk.recordsApplied} WAL record(s) after sequence ${afterSeq}${through}`);
  for (const w of warnings) lines.push(`warning: ${w}`);
  lines.push(`verdict: ${verdictText(v, rel)}`);
  await io.out(`${lines.join('\n')}\n`);
  return exitCode;
}

function verdictText(v: LogVerdict, rel: (p: string) => string): string {
  switch (v.status) {
    case 'clean': return 'clean';
    case 'torn-tail':
      return `torn tail in ${rel(v.file)} at offset ${v.offset} (${v.reason}): the server truncates the log there at start and keeps a .broken copy (recoverable automatically)`;
    case 'corruption':
      return `corruption in ${rel(v.file)} at offset ${v.offset} (${v.reason}): the server refuses to start; \`memcached-lite --repair-wal\` truncates the log there and drops what follows (copies kept as .broken)`;
    case 'missing':
      return `missing WAL records before ${rel(v.file)}: ${v.reason}; the server would start without them`;
  }
}

// ---- compact -----------------------------------------------------------------

async function compact(a: ToolArgs, io: ToolIo): Promise<number> {
  const dataDir = existingDataDir(a.dataDir);
  const archive = optionalDir(a, 'wal-archive');
  return withLock(dataDir, async () => {
    const { walDir, snapshotDir } = dataDirPaths(dataDir);
    const note = (m: string) => io.err(`${m}\n`);
    const before = await storage(dataDir);
    const { engine, snapshot, report } = await recoverLikeServer(nodeDisk, dataDir, a.flags.has('repair-wal'), note);
    await startNextSegment(nodeDisk, walDir, report.lastSeq, report.tail !== null && report.tail.sizeBytes === 0);
    let message = '';
    const compactor = new Compactor({
      disk: nodeDisk, snapshotDir, source: engineSource(engine, io.now), serverVersion: server_version, now: io.now,
      report: (m) => { message = m; },
      log: {
        requestRoll: () => {}, // startNextSegment already rolled
        syncThrough: async () => {}, // nothing is appended offline
        removeThrough: (seq) => removeCoveredSegments(nodeDisk, walDir, seq, archive),
      },
    });
    const result = await compactor.run();
    if (!result) throw new ToolError(3, message);
    const after = await storage(dataDir);
    const from = snapshot ? `snapshot ${snapshot.ref.name} + ` : '';
    await io.out([
      `recovered ${engine.itemCount} items from ${from}${report.recordsApplied} WAL record(s) (through sequence ${engine.lastSeq})`,
      `wrote snapshot ${result.snapshot.name} (${result.items} live items); removed ${result.removedSnapshots} old snapshot(s) and ${result.removedWalBytes} WAL bytes${archive ? ` (moved to ${archive})` : ''}`,
      `before: ${describeStorage(before)}`,
      `after:  ${describeStorage(after)}`,
    ].join('\n') + '\n');
    return 0;
  });
}

// ---- dump --------------------------------------------------------------------

interface Sink { write(text: string): Promise<void>; close(): Promise<void>; abort(): Promise<void> }

async function fileSink(path: string): Promise<Sink> {
  const tmp = `${path}.tmp`;
  const file = await open(tmp, 'w');
  return {
    async write(text) { if (text) await file.write(text); },
    async close() { await file.sync(); await file.close(); await rename(tmp, path); },
    async abort() { await file.close().catch(() => {}); await unlink(tmp).catch(() => {}); },
  };
}

async function dump(a: ToolArgs, io: ToolIo): Promise<number> {
  const dataDir = existingDataDir(a.dataDir);
  const outPath = optionalDir(a, 'out');
  return withLock(dataDir, async () => {
    const note = (m: string) => io.err(`${m}\n`);
    const { engine } = await recoverReadOnly(nodeDisk, dataDir, note);
    const now = io.now();
    const flushAt = engine.flushPendingAtMs;
    const flushDue = flushAt !== 0 && flushAt <= now;
    if (flushDue) note(`note: a delayed flush_all came due at ${new Date(flushAt).toISOString()}: the cache is empty`);
    else if (flushAt) note(`note: a delayed flush_all is pending at ${new Date(flushAt).toISOString()}; the dump does not carry it`);
    const sink: Sink = outPath ? await fileSink(outPath) : { write: async (t) => { if (t) await io.out(t); }, close: async () => {}, abort: async () => {} };
    let count = 0;
    try {
      let chunk = '';
      if (!flushDue) {
        for (const [, item] of engine.dump(now)) {
          chunk += encodeItem(item);
          count++;
          if (chunk.length >= 1024 * 1024) { await sink.write(chunk); chunk = ''; }
        }
      }
      await sink.write(chunk);
      await sink.close();
    } catch (err) {
      await sink.abort();
      throw err;
    }
    const summary = `dumped ${count} item(s) as of sequence ${engine.lastSeq}${outPath ? ` to ${outPath}` : ''}\n`;
    if (outPath) await io.out(summary);
    else io.err(summary);
    return 0;
  });
}

// ---- load --------------------------------------------------------------------

const base64_pattern = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why a parsed dump line is not an item, or null when it is one. */
function itemProblem(o: unknown): string | null {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not a JSON object';
  const r = o as Record<string, unknown>;
  const uint = (x: unknown, max: number) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= max;
  if (typeof r.k !== 'string') return '"k" (the key) must be a string';
  if (r.k.length === 0 || r.k.length > key_length_max) return `the key must be 1..${key_length_max} bytes`;
  for (let i = 0; i < r.k.length; i++) {
    const c = r.k.charCodeAt(i);
    if (c > 0xff) return 'the key holds a character above \\u00ff (keys are bytes, written as latin1)';
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x00) return 'the key holds a space, CR, LF or NUL (no client could name it)';
  }
  if (typeof r.v !== 'string' || r.v.length % 4 !== 0 || !base64_pattern.test(r.v)) return '"v" (the value) must be base64';
  if (!uint(r.f, 0xffffffff)) return '"f" (flags) must be a whole number 0..4294967295';
  if (!uint(r.e, Number.MAX_SAFE_INTEGER)) return '"e" (expiresAtMs) must be a whole number (0 = never)';
  if (r.c !== undefined && !uint(r.c, Number.MAX_SAFE_INTEGER)) return '"c" (cas) must be a whole number';
  return null;
}

/** Parses a whole dump file before anything changes; a bad line is a ToolError naming it. */
export function parseDump(buf: Buffer, name: string): SnapshotItem[] {
  const items: SnapshotItem[] = [];
  let at = 0;
  let line = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(0x0a, at);
    const end = nl < 0 ? buf.length : nl;
    line++;
    const text = buf.toString('utf8', at, end);
    at = end + 1;
    if (text.trim() === '') continue;
    let o: unknown;
    try { o = JSON.parse(text); } catch { throw new ToolError(1, `${name} line ${line}: not JSON; nothing was loaded`); }
    const problem = itemProblem(o);
    if (problem) throw new ToolError(1, `${name} line ${line}: ${problem}; nothing was loaded`);
    const r = o as { k: string; v: string; f: number; e: number; c?: number };
    items.push({ key: r.k, value: Buffer.from(r.v, 'base64'), flags: r.f, expiresAtMs: r.e, cas: r.c ?? 0 });
  }
  return items;
}

async function load(a: ToolArgs, io: ToolIo): Promise<number> {
  const file = resolve(a.positional[0]!);
  let buf: Buffer;
  try { buf = await readFile(file); } catch (err) { throw new ToolError(3, `cannot read ${file}: ${(err as Error).message}`); }
  const items = parseDump(buf, file);
  const dataDir = a.dataDir;
  const archive = optionalDir(a, 'wal-archive');
  await nodeDisk.mkdirp(dataDir);
  return withLock(dataDir, async () => {
    const { walDir, snapshotDir } = dataDirPaths(dataDir);
    const note = (m: string) => io.err(`${m}\n`);
    const { engine, report } = await recoverLikeServer(nodeDisk, dataDir, a.flags.has('repair-wal'), note);
    const existing = engine.itemCount;
    if (items.length === 0) {
      await io.out(`${file} holds no items; nothing changed\n`);
      return 0;
    }
    let olderBytes = 0;
    for (const s of await listSegmentsIfAny(nodeDisk, walDir)) if (s.path !== report.tail?.segment.path) olderBytes += await nodeDisk.size(s.path);
    let fatal: Error | null = null;
    const wal = await WalWriter.open({
      disk: nodeDisk, walDir, mode: 'always', tail: report.tail, lastSeq: Math.max(report.lastSeq, engine.lastSeq),
      olderSegmentsBytes: olderBytes, ballastBytes: ballast_default_bytes, onFatal: (err) => { fatal ??= err; }, log: note,
    });
    let seq = Math.max(report.lastSeq, engine.lastSeq);
    const firstSeq = seq + 1;
    const now = io.now();
    const failed = () => fatal as Error | null;
    try {
      const emit = async (effect: Effect) => {
        engine.applyEffect(effect);
        wal.append(effect);
        if (effect.seq % 4096 === 0) await wal.syncThrough(effect.seq);
        if (failed()) throw new ToolError(3, `WAL write failed: ${failed()!.message}`);
      };
      // A delayed flush_all that came due while the server was down fires before
      // the first write, as the server's engine does.
      if (engine.flushPendingAtMs !== 0 && engine.flushPendingAtMs <= now) {
        note(`note: a delayed flush_all came due at ${new Date(engine.flushPendingAtMs).toISOString()}: it empties the cache before the load`);
        await emit({ kind: 'flush', seq: ++seq });
      }
      let expired = 0;
      for (const item of items) {
        if (item.expiresAtMs !== 0 && item.expiresAtMs <= now) { expired++; continue; }
        await emit({ kind: 'put', seq: ++seq, key: item.key, value: item.value, flags: item.flags, expiresAtMs: item.expiresAtMs, cas: engine.casNext });
      }
      await wal.syncThrough(seq);
      if (failed()) throw new ToolError(3, `WAL write failed: ${failed()!.message}`);
      let message = '';
      let removableThrough = 0;
      const compactor = new Compactor({
        disk: nodeDisk, snapshotDir, source: engineSource(engine, io.now), serverVersion: server_version, now: io.now,
        report: (m) => { message = m; },
        log: {
          requestRoll: () => wal.requestRoll(),
          syncThrough: (s) => wal.syncThrough(s),
          removeThrough: async (s) => {
            removableThrough = s;
            const bytes = await removeCoveredSegments(nodeDisk, walDir, s, archive);
            wal.segmentsRemoved(bytes);
            return bytes;
          },
        },
      });
      const result = await compactor.run();
      if (!result) throw new ToolError(3, `the items are in the WAL (sequences ${firstSeq}..${seq}) but the snapshot failed: ${message}`);
      // The segment this load wrote is still the newest, so the compaction could
      // not drop it although the snapshot covers it: start the next segment (as
      // the offline compact does) and drop what is covered now.
      await wal.close();
      await startNextSegment(nodeDisk, walDir, seq, seq < firstSeq);
      await removeCoveredSegments(nodeDisk, walDir, removableThrough, archive);
      const loaded = items.length - expired;
      const pending = engine.flushPendingAtMs ? `; note: a delayed flush_all pending at ${new Date(engine.flushPendingAtMs).toISOString()} will remove them` : '';
      await io.out([
        `loaded ${loaded} item(s) from ${file}${expired ? ` (skipped ${expired} already expired)` : ''} into ${dataDir} (${existing} item(s) were there; now ${engine.itemCount})`,
        `WAL sequences ${firstSeq}..${seq}; snapshot ${result.snapshot.name} (${result.items} items)${pending}`,
      ].join('\n') + '\n');
      return 0;
    } finally {
      await wal.close();
    }
  });
}

// ---- replay ------------------------------------------------------------------

/**
 * The sequence of the last record logged at or before atMs: records are read
 * in sequence order (data dir and archive merged) and the prefix ends at the
 * first record stamped later than atMs. 0 if the first record already is.
 */
async function lastSeqLoggedBy(disk: typeof nodeDisk, walDirs: string[], atMs: number): Promise<number> {
  const byFirstSeq = new Map<number, string>();
  for (const dir of walDirs) {
    for (const ref of await listSegmentsIfAny(disk, dir)) if (!byFirstSeq.has(ref.firstSeq)) byFirstSeq.set(ref.firstSeq, ref.path);
  }
  let last = 0;
  for (const firstSeq of [...byFirstSeq.keys()].sort((x, y) => x - y)) {
    const buf = await disk.readFile(byFirstSeq.get(firstSeq)!);
    for (let offset = 0; offset < buf.length;) {
      const d = decodeRecordAt(buf, offset);
      if (!d.ok) break;
      if (d.loggedAtMs > atMs) return last;
      last = d.effect.seq;
      offset += d.size;
    }
  }
  return last;
}

async function replay(a: ToolArgs, io: ToolIo): Promise<number> {
  const toSeqText = a.values.get('to-seq');
  const toTimeText = a.values.get('to-time');
  if ((toSeqText === undefined) === (toTimeText === undefined)) throw new UsageError('give exactly one of --to-seq N and --to-time ISO-8601');
  const outDir = optionalDir(a, 'out');
  if (!outDir) throw new UsageError('--out NEW_DIR is required');
  const dataDir = existingDataDir(a.dataDir);
  const archive = optionalDir(a, 'wal-archive');
  if (archive && !existsSync(archive)) throw new ToolError(3, `no WAL archive at ${archive}`);
  let toSeq: number;
  if (toSeqText !== undefined) {
    if (!/^\d+$/.test(toSeqText) || !Number.isSafeInteger(Number(toSeqText))) throw new UsageError(`--to-seq: '${toSeqText}' is not a sequence number`);
    toSeq = Number(toSeqText);
  } else {
    const atMs = Date.parse(toTimeText!);
    if (!Number.isFinite(atMs)) throw new UsageError(`--to-time: '${toTimeText}' is not an ISO-8601 time`);
    const walDirs = [dataDirPaths(dataDir).walDir, ...(archive ? [archive] : [])];
    toSeq = await lastSeqLoggedBy(nodeDisk, walDirs, atMs);
    io.err(`--to-time ${new Date(atMs).toISOString()}: the log's last record at or before it is sequence ${toSeq}\n`);
  }
  const outExists = existsSync(outDir);
  if (outExists) {
    if (!statSync(outDir).isDirectory()) throw new ToolError(1, `${outDir} exists and is not a directory`);
    if ((await readdir(outDir)).length) throw new ToolError(1, `${outDir} exists and is not empty; replay only writes a new data directory`);
  }
  const { walDir, snapshotDir } = dataDirPaths(dataDir);
  const note = (m: string) => io.err(`${m}\n`);
  const result = await replayTo({ disk: nodeDisk, snapshotDir, walDirs: archive ? [walDir, archive] : [walDir], toSeq, note });

  const target = dataDirPaths(outDir);
  try {
    await nodeDisk.mkdirp(target.walDir);
    const written = await writeSnapshot({
      disk: nodeDisk, dir: target.snapshotDir, source: engineSource(result.engine, io.now), serverVersion: server_version, now: io.now,
      beforeCommit: async () => {},
    });
    await nodeDisk.syncDir(outDir);
    const base = result.base ? `snapshot ${result.base.name}` : 'no snapshot';
    await io.out([
      `state as of sequence ${toSeq}: ${written.items} live item(s), from ${base} + ${result.records} WAL record(s)`,
      `wrote ${join(outDir, 'snapshots', written.name)} and an empty ${join(outDir, 'wal')}`,
      `start a server on it with: memcached-lite --data-dir ${outDir}`,
    ].join('\n') + '\n');
    return 0;
  } catch (err) {
    if (!outExists) await rm(outDir, { recursive: true, force: true });
    else for (const name of await readdir(outDir).catch(() => [])) await rm(join(outDir, name), { recursive: true, force: true });
    throw err;
  }
}
