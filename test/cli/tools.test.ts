// The offline tools (src/cli/tools.ts) against real data directories: built
// directly with Engine + WalWriter + writeSnapshot (exact, deterministic), or
// by the real server (test/e2e/harness.ts; needs `npm run build`).

import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import type { Effect } from '../../src/engine/types.js';
import { encodeRecord, record_header_bytes } from '../../src/wal/codec.js';
import { nodeDisk } from '../../src/wal/disk.js';
import { listSegments, removeCoveredSegments, segmentName } from '../../src/wal/segments.js';
import { WalWriter } from '../../src/wal/writer.js';
import { listSnapshots, writeSnapshot } from '../../src/snapshot/snapshot.js';
import { encodeItem } from '../../src/snapshot/format.js';
import { runTool, type ToolIo } from '../../src/cli/tools.js';
import { engineSource, offlineEngine, recoverReadOnly } from '../../src/cli/offline.js';
import { Client } from '../../src/client/client.js';
import { cleanup, repoRoot, serverBin, startServer } from '../e2e/harness.js';

const far_future_ms = 4_000_000_000_000;
const temps: string[] = [];
afterAll(async () => {
  await cleanup();
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mcl-tools-'));
  temps.push(d);
  return d;
}

// ---- running tools -----------------------------------------------------------

interface Run { code: number; stdout: string; stderr: string }

/** Calls the tool in this process. */
async function tool(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: ToolIo = { out: (t) => { stdout += t; }, err: (t) => { stderr += t; }, env: {}, now: () => Date.now() };
  const code = await runTool(argv, io);
  return { code, stdout, stderr };
}

/** Runs `node bin/memcached-lite ...` (the built dist/). */
function bin(...argv: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [serverBin, ...argv], { cwd: repoRoot, env: { ...process.env, DATA_DIR: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.once('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

// ---- building data directories -------------------------------------------------

/** A deterministic mix: mostly puts (some with expiry, one already expired), deletes, touches, delayed flushes, a flush. */
function effectsUpTo(count: number): Effect[] {
  const out: Effect[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const key = `key:${seq % 13}${seq % 3 === 0 ? '\xe9' : ''}`;
    if (seq === 57) out.push({ kind: 'flush', seq });
    else if (seq % 17 === 0) out.push({ kind: 'flushAt', seq, atMs: seq % 2 ? far_future_ms + seq : 0 });
    else if (seq % 11 === 0) out.push({ kind: 'del', seq, key });
    else if (seq % 7 === 0) out.push({ kind: 'touch', seq, key, expiresAtMs: far_future_ms + seq });
    else {
      const value = Buffer.alloc(20 + (seq % 9), seq & 0xff);
      const expiresAtMs = seq % 5 === 0 ? far_future_ms - seq : seq === 3 ? 1000 : 0;
      out.push({ kind: 'put', seq, key, value, flags: (seq * 2654435761) >>> 0, expiresAtMs, cas: 1000 + seq });
    }
  }
  return out;
}

function modelAt(effects: Effect[], n: number): Engine {
  const e = offlineEngine();
  for (const effect of effects) if (effect.seq <= n) e.applyEffect(effect);
  return e;
}

interface State { items: Array<{ k: string; v: string; f: number; e: number; c: number }>; pendingFlushAtMs: number }

function stateOf(engine: Engine, now = Date.now()): State {
  const items = [...engine.dump(now)].map(([k, it]) => ({ k, v: it.value.toString('hex'), f: it.flags, e: it.expiresAtMs, c: it.cas }));
  items.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  return { items, pendingFlushAtMs: engine.flushPendingAtMs };
}

async function stateOfDir(dataDir: string): Promise<State> {
  return stateOf((await recoverReadOnly(nodeDisk, dataDir, () => {})).engine);
}

interface Built { dataDir: string; walDir: string; effects: Effect[] }

/** buildDir stamps record `seq` as logged at this time: one second apart. */
const loggedAt = (seq: number) => Date.parse('2026-01-01T00:00:00Z') + seq * 1000;

/**
 * Writes `effects` with the real WalWriter (small segments), taking an exact
 * snapshot after each sequence in `snapshotsAt`.
 */
async function buildDir(effects: Effect[], opts: { segmentBytes?: number; snapshotsAt?: number[] } = {}): Promise<Built> {
  const dataDir = join(tempDir(), 'data');
  const walDir = join(dataDir, 'wal');
  const model = offlineEngine();
  let clockMs = 0;
  const wal = await WalWriter.open({ now: () => clockMs,
    disk: nodeDisk, walDir, mode: 'always', tail: null, lastSeq: 0, olderSegmentsBytes: 0, ballastBytes: 64 * 1024,
    segmentSizeMaxBytes: opts.segmentBytes ?? 64 * 1024 * 1024, onFatal: (err) => { throw err; }, log: () => {},
  });
  for (const effect of effects) {
    model.applyEffect(effect);
    clockMs = loggedAt(effect.seq);
    wal.append(effect);
    await wal.syncThrough(effect.seq); // one record per batch, so segments roll at the size
    if (opts.snapshotsAt?.includes(effect.seq)) {
      await wal.syncThrough(effect.seq);
      wal.requestRoll();
      await writeSnapshot({
        disk: nodeDisk, dir: join(dataDir, 'snapshots'), source: engineSource(model, Date.now), serverVersion: 'test', now: Date.now,
        beforeCommit: async () => {},
      });
    }
  }
  await wal.close();
  return { dataDir, walDir, effects };
}

const isAscii = (key: string) => /^[\x21-\x7e]+$/.test(key);

/** Every file under dir with its content hash (to prove a tool changed nothing). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) { out[`${p}/`] = 'dir'; walk(p); } else out[p] = createHash('sha1').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** Offsets of the records in a segment file. */
function recordOffsets(path: string): number[] {
  const buf = readFileSync(path);
  const offsets: number[] = [];
  for (let p = 0; p < buf.length; p += record_header_bytes + buf.readUInt32LE(p)) offsets.push(p);
  return offsets;
}

async function segmentPaths(walDir: string): Promise<string[]> {
  return (await listSegments(nodeDisk, walDir)).map((s) => s.path);
}

// ---- inspect -------------------------------------------------------------------

describe('inspect', () => {
  it('lists segments and snapshots of a clean directory, exits 0, and changes nothing', async () => {
    const b = await buildDir(effectsUpTo(60), { segmentBytes: 800, snapshotsAt: [25, 50] });
    const before = tree(b.dataDir);
    const text = await tool('inspect', '--data-dir', b.dataDir);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('verdict: clean');
    expect(text.stdout).toContain(segmentName(1));
    expect(text.stdout).toContain('00000000000000000050.jsonl');
    expect(text.stdout).toMatch(/recovery: snapshot 00000000000000000050\.jsonl \(\d+ items\), then 10 WAL record\(s\) after sequence 50 \(through sequence 60\)/);

    const json = await tool('inspect', '--data-dir', b.dataDir, '--json');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.verdict).toEqual({ status: 'clean' });
    expect(report.wal.segments.length).toBeGreaterThan(2);
    expect(report.wal.records).toBe(60);
    expect(report.wal.segments[0]).toMatchObject({ name: segmentName(1), firstSeq: 1, damage: null });
    expect(report.wal.segments.at(-1).lastSeq).toBe(60);
    expect(report.snapshots.files.map((f: { name: string; valid: boolean }) => [f.name, f.valid])).toEqual([
      ['00000000000000000025.jsonl', true], ['00000000000000000050.jsonl', true],
    ]);
    expect(report.snapshots.files[1].header).toMatchObject({ startSeq: 50, serverVersion: 'test' });
    expect(report.snapshots.files[1].items).toBe(stateOf(modelAt(b.effects, 50)).items.length);
    expect(report.recovery).toMatchObject({ snapshot: '00000000000000000050.jsonl', afterSeq: 50, walRecords: 10, lastSeq: 60 });
    expect(report.exitCode).toBe(0);
    expect(tree(b.dataDir)).toEqual(before);
  });

  it('reports a torn tail (short record, or a partial record before zeros) with file and offset, exit 1, without truncating; zeros after the last record are a clean end', async () => {
    const b = await buildDir(effectsUpTo(30), { segmentBytes: 600 });
    const newest = (await segmentPaths(b.walDir)).at(-1)!;
    const offsets = recordOffsets(newest);
    const lastOffset = offsets.at(-1)!;
    truncateSync(newest, lastOffset + 10);
    const before = tree(b.dataDir);
    const r = await tool('inspect', '--data-dir', b.dataDir, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).verdict).toMatchObject({ status: 'torn-tail', file: newest, offset: lastOffset });
    expect(tree(b.dataDir)).toEqual(before);

    appendFileSync(newest, Buffer.alloc(4096));
    const partial = await tool('inspect', '--data-dir', b.dataDir);
    expect(partial.code).toBe(1);
    expect(partial.stdout).toContain(`verdict: torn tail in wal/${segmentName(Number(newest.slice(-24, -4)))} at offset ${lastOffset}`);

    // What the writer's preallocation leaves after a kill: records, then zeros.
    truncateSync(newest, lastOffset);
    appendFileSync(newest, Buffer.alloc(4096));
    const zeros = await tool('inspect', '--data-dir', b.dataDir, '--json');
    expect(zeros.code).toBe(0);
    const report = JSON.parse(zeros.stdout);
    expect(report.verdict).toEqual({ status: 'clean' });
    expect(report.wal.segments.at(-1)).toMatchObject({ path: newest, preallocatedBytes: 4096, damage: null });
    const text = await tool('inspect', '--data-dir', b.dataDir);
    expect(text.stdout).toContain('4096 bytes preallocated (zeros) after the last record');
  });

  it('reports corruption (bad record followed by valid ones, or damage in an older segment) with file and offset, exit 2', async () => {
    const b = await buildDir(effectsUpTo(35), { segmentBytes: 600 });
    const segments = await segmentPaths(b.walDir);
    const newest = segments.at(-1)!;
    // The damage needs valid records after it in the same (newest) segment.
    expect(recordOffsets(newest).length, 'records in the newest segment').toBeGreaterThanOrEqual(3);
    const mid = recordOffsets(newest)[1]!;
    const buf = readFileSync(newest);
    buf[mid + 20] ^= 0xff;
    writeFileSync(newest, buf);
    const before = tree(b.dataDir);
    const r = await tool('inspect', '--data-dir', b.dataDir, '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).verdict).toEqual({ status: 'corruption', file: newest, offset: mid, reason: 'checksum mismatch' });
    expect(tree(b.dataDir)).toEqual(before);

    buf[mid + 20] ^= 0xff;
    writeFileSync(newest, buf);
    const oldest = segments[0]!;
    const lastInOldest = recordOffsets(oldest).at(-1)!;
    truncateSync(oldest, lastInOldest + 5); // a short record at the end of an OLDER segment: corruption, not a torn tail
    const older = await tool('inspect', '--data-dir', b.dataDir);
    expect(older.code).toBe(2);
    expect(older.stdout).toContain(`verdict: corruption in wal/${segmentName(1)} at offset ${lastInOldest}`);
  });

  it('reports an unusable snapshot (the server falls back to the older one) with exit 1, and missing WAL records with exit 2', async () => {
    const b = await buildDir(effectsUpTo(40), { segmentBytes: 600, snapshotsAt: [20, 30] });
    const newestSnap = join(b.dataDir, 'snapshots', '00000000000000000030.jsonl');
    const text = readFileSync(newestSnap, 'utf8');
    writeFileSync(newestSnap, text.replace('"f":', '"f": '));
    const r = await tool('inspect', '--data-dir', b.dataDir, '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.snapshots.files[1]).toMatchObject({ valid: false, reason: 'checksum mismatch' });
    expect(report.recovery).toMatchObject({ snapshot: '00000000000000000020.jsonl', afterSeq: 20, walRecords: 20 });
    expect(report.verdict).toEqual({ status: 'clean' });

    // Drop the segments before sequence 20 and both snapshots: the log now starts after a hole.
    await removeCoveredSegments(nodeDisk, b.walDir, 20);
    rmSync(join(b.dataDir, 'snapshots'), { recursive: true });
    const missing = await tool('inspect', '--data-dir', b.dataDir, '--json');
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).verdict.status).toBe('missing');
  });

  it('exits 0 / 1 / 2 / 3 from bin/memcached-lite', async () => {
    const clean = await buildDir(effectsUpTo(10));
    const torn = await buildDir(effectsUpTo(10));
    const tornSeg = (await segmentPaths(torn.walDir))[0]!;
    truncateSync(tornSeg, statSync(tornSeg).size - 3);
    const corrupt = await buildDir(effectsUpTo(10));
    const corruptSeg = (await segmentPaths(corrupt.walDir))[0]!;
    const buf = readFileSync(corruptSeg);
    buf[recordOffsets(corruptSeg)[2]! + 8] ^= 0x01;
    writeFileSync(corruptSeg, buf);
    const runs = await Promise.all([
      bin('inspect', '--data-dir', clean.dataDir),
      bin('inspect', '--data-dir', torn.dataDir),
      bin('inspect', '--data-dir', corrupt.dataDir),
      bin('inspect', '--data-dir', join(tempDir(), 'nothing-here')),
      bin('inspect', '--data-dir', clean.dataDir, '--bogus'),
    ]);
    expect(runs.map((r) => r.code)).toEqual([0, 1, 2, 3, 3]);
    expect(runs[0]!.stdout).toContain('verdict: clean');
    expect(runs[3]!.stderr).toContain('no data directory');
    expect(runs[4]!.stderr).toContain('unknown option --bogus');
  });
});

// ---- compact -------------------------------------------------------------------

describe('compact', () => {
  it('refuses while a server holds the directory; offline it leaves a snapshot and a smaller WAL, and a restarted server has the same data', async () => {
    const dataDir = join(tempDir(), 'data');
    const server = await startServer({ dataDir });
    const client = await Client.connect({ port: server.port });
    for (let i = 0; i < 60; i++) await client.set(`k${i}`, `value-${i}-${'x'.repeat(i)}`, { flags: i * 7, exptime: i % 4 === 0 ? 100_000 : 0 });
    for (let i = 0; i < 60; i += 5) await client.delete(`k${i}`);
    await client.append('k1', '-appended');
    await client.incr('k2', 1).catch(() => {}); // non-numeric: an error reply, no effect
    const before = await client.getsMulti(Array.from({ length: 60 }, (_, i) => `k${i}`));
    client.close();

    const refused = await bin('compact', '--data-dir', dataDir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`pid ${server.pid}`);
    const dumpRefused = await tool('dump', '--data-dir', dataDir);
    expect(dumpRefused.code).toBe(1);

    await server.kill9(); // no shutdown snapshot: everything is in the WAL
    const walBefore = (await segmentPaths(join(dataDir, 'wal'))).reduce((t, p) => t + statSync(p).size, 0);
    const r = await bin('compact', '--data-dir', dataDir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote snapshot \d{20}\.jsonl \(\d+ live items\)/);
    const snapshots = await listSnapshots(nodeDisk, join(dataDir, 'snapshots'));
    expect(snapshots).toHaveLength(1);
    const walAfter = (await segmentPaths(join(dataDir, 'wal'))).reduce((t, p) => t + statSync(p).size, 0);
    expect(walAfter).toBeLessThan(walBefore);
    expect(existsSync(join(dataDir, 'server.pid'))).toBe(false);
    expect((await tool('inspect', '--data-dir', dataDir)).code).toBe(0);

    const restarted = await startServer({ dataDir });
    const reader = await Client.connect({ port: restarted.port });
    const after = await reader.getsMulti(Array.from({ length: 60 }, (_, i) => `k${i}`));
    expect(after.size).toBe(before.size);
    for (const [key, v] of before) {
      expect(after.get(key)?.value.toString()).toBe(v.value.toString());
      expect(after.get(key)?.flags).toBe(v.flags);
      expect(after.get(key)?.cas).toBe(v.cas);
    }
    expect(await reader.set('new', 'after-compact')).toBe('STORED');
    reader.close();
    expect(await restarted.stop()).toBe(0);
  });
});

// ---- dump / load -----------------------------------------------------------------

describe('dump and load', () => {
  it('round-trips every live item (value, flags, expiry) into an empty data directory, with fresh CAS values', async () => {
    const b = await buildDir(effectsUpTo(100), { segmentBytes: 1000, snapshotsAt: [60] });
    const model = stateOf(modelAt(b.effects, 100));
    const file = join(tempDir(), 'dump.jsonl');
    const before = tree(b.dataDir);
    const d = await tool('dump', '--data-dir', b.dataDir, '--out', file);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain(`dumped ${model.items.length} item(s) as of sequence 100`);
    expect(tree(b.dataDir)).toEqual(before); // the lock is gone again, nothing else touched
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(model.items.length);
    const dumped = lines.map((l) => JSON.parse(l)).sort((x, y) => (x.k < y.k ? -1 : 1));
    expect(dumped).toEqual(model.items.map((it) => ({ k: it.k, v: Buffer.from(it.v, 'hex').toString('base64'), f: it.f, e: it.e, c: it.c })));

    // To stdout too, the same lines.
    const toStdout = await tool('dump', '--data-dir', b.dataDir);
    expect(toStdout.stdout.split('\n').filter(Boolean).sort()).toEqual([...lines].sort());

    const target = join(tempDir(), 'fresh');
    const l = await tool('load', '--data-dir', target, file);
    expect(l.code).toBe(0);
    expect(l.stdout).toContain(`loaded ${model.items.length} item(s)`);
    // The snapshot covers every record the load wrote: no WAL segment with records is left.
    const walFiles = readdirSync(join(target, 'wal')).filter((n) => n.endsWith('.wal'));
    expect(walFiles.length).toBeGreaterThan(0);
    for (const n of walFiles) expect(statSync(join(target, 'wal', n)).size, n).toBe(0);
    const loaded = await stateOfDir(target);
    const strip = (s: State) => s.items.map(({ k, v, f, e }) => ({ k, v, f, e }));
    expect(strip(loaded)).toEqual(strip(model));
    const cas = loaded.items.map((it) => it.c);
    expect(new Set(cas).size).toBe(cas.length);
    expect(Math.min(...cas)).toBeGreaterThan(0);
    expect((await tool('inspect', '--data-dir', target)).code).toBe(0);

    // The server starts on it and serves the items.
    const server = await startServer({ dataDir: target });
    const client = await Client.connect({ port: server.port });
    for (const it of model.items.filter((x) => isAscii(x.k)).slice(0, 5)) {
      const got = await client.get(it.k);
      expect(got?.value.toString('hex')).toBe(it.v);
      expect(got?.flags).toBe(it.f);
    }
    client.close();
    expect(await server.stop()).toBe(0);
  });

  it('adds to a directory that has items, with CAS values above every existing one', async () => {
    const b = await buildDir(effectsUpTo(40));
    const existing = await stateOfDir(b.dataDir);
    const file = join(tempDir(), 'more.jsonl');
    writeFileSync(file, [
      encodeItem({ key: 'loaded:a', value: Buffer.from('A'), flags: 5, expiresAtMs: 0, cas: 1 }),
      encodeItem({ key: existing.items[0]!.k, value: Buffer.from('replaced'), flags: 6, expiresAtMs: far_future_ms, cas: 2 }),
      encodeItem({ key: 'loaded:gone', value: Buffer.from('old'), flags: 0, expiresAtMs: 5000, cas: 3 }), // already expired
    ].join(''));
    const r = await tool('load', '--data-dir', b.dataDir, file);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('skipped 1 already expired');
    const after = await stateOfDir(b.dataDir);
    const maxOld = Math.max(...existing.items.map((it) => it.c));
    const byKey = new Map(after.items.map((it) => [it.k, it]));
    expect(byKey.get('loaded:a')).toMatchObject({ v: Buffer.from('A').toString('hex'), f: 5, e: 0 });
    expect(byKey.get('loaded:a')!.c).toBeGreaterThan(maxOld);
    expect(byKey.get(existing.items[0]!.k)).toMatchObject({ v: Buffer.from('replaced').toString('hex'), f: 6, e: far_future_ms });
    expect(byKey.has('loaded:gone')).toBe(false);
    for (const it of existing.items.slice(1)) expect(byKey.get(it.k)).toEqual(it);
    // Durable in both the WAL and a snapshot: replay to the end sees the loaded items too.
    expect((await tool('inspect', '--data-dir', b.dataDir)).code).toBe(0);
  });

  it('stops at a bad line, naming it, and changes nothing', async () => {
    const b = await buildDir(effectsUpTo(20));
    const file = join(tempDir(), 'bad.jsonl');
    writeFileSync(file, [
      encodeItem({ key: 'a', value: Buffer.from('1'), flags: 0, expiresAtMs: 0, cas: 1 }),
      encodeItem({ key: 'b', value: Buffer.from('2'), flags: 0, expiresAtMs: 0, cas: 2 }),
      '\n',
      '{"k":"c","v":"not base64!","f":0,"e":0,"c":3}\n',
    ].join(''));
    const before = tree(b.dataDir);
    const r = await bin('load', '--data-dir', b.dataDir, file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('line 4');
    expect(r.stderr).toContain('base64');
    expect(tree(b.dataDir)).toEqual(before);

    writeFileSync(file, '{"k":"x","v":"","f":0,"e":0}\n{"k":"y", oops\n');
    const notJson = await tool('load', '--data-dir', b.dataDir, file);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toContain('line 2: not JSON');
    expect(tree(b.dataDir)).toEqual(before);
  });
});

// ---- replay ----------------------------------------------------------------------

describe('replay', () => {
  it('rebuilds exactly the state after sequence N, from WAL + snapshots + --wal-archive', async () => {
    const b = await buildDir(effectsUpTo(120), { segmentBytes: 700, snapshotsAt: [40, 80] });
    // The server's retention after the snapshot at 80: keep snapshots 40 and 80, move segments covered by 40 to the archive.
    const archive = join(tempDir(), 'archive');
    await removeCoveredSegments(nodeDisk, b.walDir, 40, archive);
    const firstKept = (await listSegments(nodeDisk, b.walDir))[0]!.firstSeq;
    expect(firstKept).toBeGreaterThan(1);
    expect(firstKept).toBeLessThanOrEqual(41);

    for (const n of [0, 3, 39, 40, 41, 57, 60, 80, 99, 120]) {
      const out = join(tempDir(), `at-${n}`);
      const r = await tool('replay', '--data-dir', b.dataDir, '--to-seq', String(n), '--out', out, '--wal-archive', archive);
      expect(r.stderr, `N=${n}`).toBe('');
      expect(r.code, `N=${n}`).toBe(0);
      expect(readdirSync(join(out, 'wal'))).toEqual([]);
      expect(readdirSync(join(out, 'snapshots'))).toEqual([`${String(n).padStart(20, '0')}.jsonl`]);
      expect(await stateOfDir(out), `N=${n}`).toEqual(stateOf(modelAt(b.effects, n)));
    }
    // --to-time picks the last record logged at or before the time (records here are 1 s apart).
    for (const [time, n] of [[loggedAt(57) + 500, 57], [loggedAt(80), 80], [loggedAt(1) - 1, 0]] as const) {
      const out = join(tempDir(), `time-${n}`);
      const r = await bin('replay', '--data-dir', b.dataDir, '--to-time', new Date(time).toISOString(), '--out', out, '--wal-archive', archive);
      expect(r.code, `t=${time}`).toBe(0);
      expect(r.stderr).toContain(`last record at or before it is sequence ${n}`);
      expect(await stateOfDir(out), `t=${time}`).toEqual(stateOf(modelAt(b.effects, n)));
    }
    // Without the archive, only what the data directory itself can reach.
    for (const n of [40, 61, 120]) {
      const out = join(tempDir(), `local-${n}`);
      expect((await tool('replay', '--data-dir', b.dataDir, '--to-seq', String(n), '--out', out)).code).toBe(0);
      expect(await stateOfDir(out)).toEqual(stateOf(modelAt(b.effects, n)));
    }
    const tooOld = await tool('replay', '--data-dir', b.dataDir, '--to-seq', String(firstKept - 2), '--out', join(tempDir(), 'x'));
    expect(tooOld.code).toBe(1);
    expect(tooOld.stderr).toContain(`cannot rebuild the state at sequence ${firstKept - 2}`);
    expect(tooOld.stderr).toContain('--wal-archive');
    const pastEnd = await tool('replay', '--data-dir', b.dataDir, '--to-seq', '121', '--out', join(tempDir(), 'y'));
    expect(pastEnd.code).toBe(1);
    expect(pastEnd.stderr).toContain('past the end of the log (the newest record is 120)');
    expect(existsSync(join(tempDir(), 'y'))).toBe(false);
  });

  it('writes a directory the server starts from with exactly that state', async () => {
    const b = await buildDir(effectsUpTo(70), { segmentBytes: 700, snapshotsAt: [30] });
    const n = 66;
    const out = join(tempDir(), 'pitr');
    const r = await bin('replay', '--data-dir', b.dataDir, '--to-seq', String(n), '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`state as of sequence ${n}`);
    const expected = stateOf(modelAt(b.effects, n));
    const server = await startServer({ dataDir: out });
    const client = await Client.connect({ port: server.port });
    // The client sends keys as UTF-8, so it can only name the ASCII ones; the snapshot check covers the rest.
    expect(await stateOfDir(out)).toEqual(expected);
    const keys = [...new Set(b.effects.filter((e) => 'key' in e).map((e) => (e as { key: string }).key))].filter(isAscii);
    const got = await client.getsMulti(keys);
    const expectedAscii = expected.items.filter((it) => isAscii(it.k));
    expect(expectedAscii.length).toBeGreaterThan(3);
    expect([...got.keys()].sort()).toEqual(expectedAscii.map((it) => it.k));
    for (const it of expectedAscii) {
      expect(got.get(it.k)!.value.toString('hex')).toBe(it.v);
      expect(got.get(it.k)!.flags).toBe(it.f);
      expect(got.get(it.k)!.cas).toBe(BigInt(it.c));
    }
    client.close();
    expect(await server.stop()).toBe(0);
  });

  it('refuses a non-empty --out, --to-time, and a fuzzy snapshot that already shows a later put', async () => {
    const b = await buildDir(effectsUpTo(20));
    const busy = join(tempDir(), 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'keep'), 'x');
    const r1 = await tool('replay', '--data-dir', b.dataDir, '--to-seq', '5', '--out', busy);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain('not empty');
    expect(readdirSync(busy)).toEqual(['keep']);
    const both = await tool('replay', '--data-dir', b.dataDir, '--to-seq', '3', '--to-time', '2026-01-01T00:00:03Z', '--out', join(tempDir(), 't'));
    expect(both.code).toBe(3);
    const badTime = await tool('replay', '--data-dir', b.dataDir, '--to-time', 'yesterday-ish', '--out', join(tempDir(), 't2'));
    expect(badTime.code).toBe(3);
    expect(badTime.stderr).toContain("--to-time: 'yesterday-ish' is not an ISO-8601 time");
    expect((await tool('replay', '--data-dir', b.dataDir, '--out', join(tempDir(), 'u'))).code).toBe(3);

    // A snapshot that starts at 10 but (written while writes went on) shows the state at 14,
    // and the WAL before it is gone: N = 11 cannot be rebuilt from it; N >= 14 can.
    const effects: Effect[] = [];
    for (let seq = 1; seq <= 20; seq++) effects.push({ kind: 'put', seq, key: `k${seq % 4}`, value: Buffer.from(`v${seq}`), flags: seq, expiresAtMs: 0, cas: seq });
    const f = await buildDir(effects, { segmentBytes: 100 });
    const at10 = modelAt(effects, 10);
    const at14 = modelAt(effects, 14);
    await writeSnapshot({
      disk: nodeDisk, dir: join(f.dataDir, 'snapshots'), serverVersion: 'test', now: Date.now, beforeCommit: async () => {},
      source: { ...engineSource(at14, Date.now), lastSeq: () => 10, nextCas: () => at10.casNext },
    });
    await removeCoveredSegments(nodeDisk, f.walDir, 10);
    const fuzzy = await tool('replay', '--data-dir', f.dataDir, '--to-seq', '11', '--out', join(tempDir(), 'f11'));
    expect(fuzzy.code).toBe(1);
    expect(fuzzy.stderr).toMatch(/already shows the put of key "k\d" logged at sequence 1[234]/);
    const f16 = join(tempDir(), 'f16');
    const ok = await tool('replay', '--data-dir', f.dataDir, '--to-seq', '16', '--out', f16);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain('cannot be ruled out');
    expect(await stateOfDir(f16)).toEqual(stateOf(modelAt(effects, 16)));
  });
});
